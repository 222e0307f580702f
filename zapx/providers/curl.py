"""The providers' transport: keep-alive POSTs with libcurl (pycurl), guarded against addresses
the install does not allow (``zapx/outbound.py``), each failure classified by whether the
request may have reached the provider. docs/HTTP_CLIENT.md says why libcurl and how each
guarantee is kept.

- :func:`perform`: one request on this thread's easy handle (its keep-alive connection).
- :class:`Concurrent`: up to ``max_in_flight`` requests at once from one thread (a CurlMulti).

The guard runs on every new socket, in libcurl's OPENSOCKETFUNCTION, on the address about to be
connected to, before a byte is sent: a name that passed validation and resolves to a private
address later (DNS rebinding) is refused then. A reused keep-alive socket was checked when it
opened; handles (and so connection caches) are per ``Outbound``, never shared across policies.

At most once: libcurl resends a request by itself when a reused connection gives no byte of
answer (``Curl_retry_request``), even when the request had left. The body is handed to libcurl
through a READFUNCTION without a SEEKFUNCTION, so such a resend cannot rewind the body and fails
with ``CURLE_SEND_FAIL_REWIND`` before anything is sent again (:data:`_AMBIGUOUS_CODES`).

Timeouts: libcurl has a connect timeout and a total one, no read timeout of its own; the total is
:data:`CONNECT_TIMEOUT_S` + :data:`READ_TIMEOUT_S` seconds.
"""

from __future__ import annotations

import functools
import io
import logging
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

import pycurl

from zapx.outbound import Outbound
from zapx.providers.base import (
    AMBIGUOUS,
    AUTH,
    TRANSIENT,
    HttpRequest,
    HttpResponse,
    TransportError,
)
from zapx.providers.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, refused_reason

log = logging.getLogger("zapx.providers")

_CONNECT_CODES = frozenset(
    {pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_CONNECT, pycurl.E_COULDNT_RESOLVE_PROXY}
)
#: The request may have left: an answer cut short, none at all, or a resend libcurl wanted
#: (SEND_FAIL_REWIND: a reused connection died after the body was handed over).
_AMBIGUOUS_CODES = frozenset(
    {
        pycurl.E_GOT_NOTHING,
        pycurl.E_RECV_ERROR,
        pycurl.E_SEND_ERROR,
        pycurl.E_PARTIAL_FILE,
        pycurl.E_FTP_WEIRD_SERVER_REPLY,  # 8, CURLE_WEIRD_SERVER_REPLY since libcurl 7.51
        pycurl.E_SEND_FAIL_REWIND,
        pycurl.E_HTTP2,
        92,  # CURLE_HTTP2_STREAM (pycurl has no name for it)
    }
)
#: TLS failures: before the request is sent (TRANSIENT, as urllib3's SSLError was).
_TLS_CODES = frozenset(
    {
        pycurl.E_SSL_CONNECT_ERROR,
        pycurl.E_PEER_FAILED_VERIFICATION,
        pycurl.E_SSL_CERTPROBLEM,
        pycurl.E_SSL_CIPHER,
        pycurl.E_SSL_CACERT_BADFILE,
        pycurl.E_SSL_ENGINE_NOTFOUND,
        pycurl.E_SSL_ENGINE_SETFAILED,
        pycurl.E_SSL_ENGINE_INITFAILED,
        pycurl.E_SSL_CRL_BADFILE,
        pycurl.E_SSL_ISSUER_ERROR,
        pycurl.E_SSL_PINNEDPUBKEYNOTMATCH,
        pycurl.E_SSL_INVALIDCERTSTATUS,
    }
)
_VERIFY = ssl.get_default_verify_paths()


@functools.lru_cache(maxsize=256)
def _target(url: str) -> tuple[str, int]:
    """(host, port) of ``url``, as the guard compares them (``Outbound.allows_peer``)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _retry_after(head: bytes) -> float | None:
    """Seconds of the ``Retry-After`` header in the raw response headers (delta-seconds)."""
    at = head.lower().find(b"\nretry-after:")
    if at < 0:
        return None
    value = head[at + 13 : head.find(b"\n", at + 1)].strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: not followed, as before


class _Handle:
    """An easy handle, set up once, and what its callbacks need for the current request."""

    __slots__ = ("body", "curl", "head", "headers", "outbound", "refused", "url")

    def __init__(self, outbound: Outbound):
        self.outbound = outbound
        self.url = self.headers = None
        self.body = self.head = None
        self.refused = False
        c = self.curl = pycurl.Curl()
        c.setopt(pycurl.NOSIGNAL, 1)  # threads: no SIGALRM for DNS timeouts
        c.setopt(pycurl.PROXY, "")  # never a proxy from the environment
        c.setopt(pycurl.FOLLOWLOCATION, 0)  # a redirect could lead past the URL that was checked
        c.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        c.setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        # HTTP/1.1 only: one request per connection at a time, as the at-most-once analysis
        # (docs/HTTP_CLIENT.md) and its tests assume.
        c.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        c.setopt(pycurl.CONNECTTIMEOUT_MS, round(CONNECT_TIMEOUT_S * 1000))
        c.setopt(pycurl.TIMEOUT_MS, round((CONNECT_TIMEOUT_S + READ_TIMEOUT_S) * 1000))
        c.setopt(pycurl.SSL_VERIFYPEER, 1)
        c.setopt(pycurl.SSL_VERIFYHOST, 2)
        # The system's CA store, as urllib3 used: the wheel's libcurl has its own default path.
        if _VERIFY.cafile:
            c.setopt(pycurl.CAINFO, _VERIFY.cafile)
        if _VERIFY.capath:
            c.setopt(pycurl.CAPATH, _VERIFY.capath)
        c.setopt(pycurl.USERAGENT, "zapx")
        c.setopt(pycurl.POST, 1)
        c.setopt(pycurl.OPENSOCKETFUNCTION, self._open)

    def _open(self, purpose: int, address: tuple) -> socket.socket | int:
        """libcurl's new socket for ``address`` (family, type, protocol, sockaddr), or
        SOCKET_BAD when the guard refuses its peer: nothing is connected, nothing sent."""
        try:
            family, socktype, protocol, sockaddr = address
            host, port = _target(self.url or "")
            if self.outbound.allows_peer(host, port, str(sockaddr[0])):
                # pycurl hands libcurl a dup of the descriptor; this object may be collected.
                return socket.socket(family, socktype, protocol)
            peer = sockaddr[0]
            log.warning("connection refused", extra={"host": host, "port": port, "peer": peer})
        except Exception:  # a callback must not raise into libcurl: refuse
            log.exception("connection guard failed")
        self.refused = True
        return pycurl.SOCKET_BAD

    def start(self, request: HttpRequest) -> None:
        """Set the handle up for ``request`` (nothing sent yet)."""
        c = self.curl
        if request.url != self.url:
            c.setopt(pycurl.URL, request.url)
            self.url = request.url
        if request.headers != self.headers:
            # "Expect:": no 100-continue round trip, whatever the body's size.
            c.setopt(pycurl.HTTPHEADER, [*request.headers, "Expect:"])
            self.headers = request.headers
        c.setopt(pycurl.POSTFIELDSIZE, len(request.body))
        # A READFUNCTION and no SEEKFUNCTION: libcurl cannot resend a body it has read.
        c.setopt(pycurl.READFUNCTION, io.BytesIO(request.body).read)
        self.body, self.head = io.BytesIO(), io.BytesIO()
        c.setopt(pycurl.WRITEFUNCTION, self.body.write)
        c.setopt(pycurl.HEADERFUNCTION, self.head.write)
        self.refused = False

    def answer(self) -> HttpResponse | TransportError:
        """The answer libcurl completed, or a TransportError when its headers were cut short
        (libcurl takes an end of stream inside the headers for their end)."""
        head = self.head.getvalue()
        body, self.body, self.head = self.body.getvalue(), None, None
        if not (head.endswith(b"\n\r\n") or head.endswith(b"\n\n")):
            return TransportError(
                AMBIGUOUS, "connection broken: the answer's headers were cut short", "broken"
            )
        return HttpResponse(self.curl.getinfo(pycurl.RESPONSE_CODE), body, _retry_after(head))

    def failure(self, code: int, message: str) -> TransportError:
        """The TransportError of libcurl's error ``code``: did the request possibly leave?"""
        self.body = self.head = None
        if self.refused and code in (pycurl.E_COULDNT_CONNECT, pycurl.E_OPERATION_TIMEDOUT):
            # The connection cannot send until its baseUrl is fixed: like a revoked token, its
            # campaigns pause with this reason instead of failing row after row.
            return TransportError(AUTH, refused_reason(_target(self.url or "")[0]), "refused")
        if code in _CONNECT_CODES:
            return TransportError(TRANSIENT, f"connect failed: {message}", "connect")
        # PRIMARY_IP is set once connected (or on a reused connection) and empty before: the
        # request can only have left after. (NUM_CONNECTS is 0 both on a reused connection and
        # before a connect completed; PRETRANSFER_TIME_T is set on failures too: neither says.)
        connected = bool(self.curl.getinfo(pycurl.PRIMARY_IP))
        if code == pycurl.E_OPERATION_TIMEDOUT:
            if not connected:
                return TransportError(TRANSIENT, f"connect failed: {message}", "connect")
            return TransportError(AMBIGUOUS, "no answer before the read timeout", "timeout")
        if code in _AMBIGUOUS_CODES or (connected and code not in _TLS_CODES):
            # Also what libcurl calls other names once the request may have left (an answer
            # that is not HTTP: "Received HTTP/0.9", CURLE_UNSUPPORTED_PROTOCOL).
            return TransportError(AMBIGUOUS, f"connection broken: {message}", "broken")
        return TransportError(TRANSIENT, f"curl error {code}: {message}", "transport")


_local = threading.local()


def _handle(outbound: Outbound) -> _Handle:
    handles = getattr(_local, "handles", None)
    if handles is None:
        handles = _local.handles = {}
    handle = handles.get(outbound)
    if handle is None:
        handle = handles[outbound] = _Handle(outbound)
    return handle


def perform(outbound: Outbound, request: HttpRequest) -> HttpResponse:
    """POST ``request`` on this thread's keep-alive handle for ``outbound``; raises
    TransportError when no HTTP answer came (a 4xx or 5xx is an answer)."""
    handle = _handle(outbound)
    handle.start(request)
    try:
        handle.curl.perform()
    except pycurl.error as exc:
        raise handle.failure(*exc.args) from None
    answer = handle.answer()
    if isinstance(answer, TransportError):
        raise answer
    return answer


class Concurrent:
    """Up to ``max_in_flight`` requests at once from one thread: a CurlMulti with reused easy
    handles and its connection cache kept across batches. Not thread-safe: one per thread
    (:func:`concurrent` returns this thread's)."""

    def __init__(self, outbound: Outbound, max_in_flight: int = 8):
        self.outbound = outbound
        self.max_in_flight = max_in_flight
        self._multi = pycurl.CurlMulti()
        # Keep-alive connections kept between batches: one per request in flight.
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_in_flight)
        self._free = [_Handle(outbound) for _ in range(max_in_flight)]
        self._busy: dict[pycurl.Curl, tuple[_Handle, object]] = {}

    @property
    def in_flight(self) -> int:
        """Requests added and not yet returned by :meth:`wait`."""
        return len(self._busy)

    def add(self, tag: object, request: HttpRequest) -> None:
        """Start ``request`` now (connect, send what the socket takes); ``tag`` comes back with
        its answer. Raises ValueError when ``max_in_flight`` are in flight."""
        if not self._free:
            raise ValueError(f"{self.max_in_flight} requests in flight already")
        handle = self._free.pop()
        handle.start(request)
        self._busy[handle.curl] = (handle, tag)
        self._multi.add_handle(handle.curl)
        self._perform()

    def _perform(self) -> None:
        while self._multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass

    def _collect(self) -> list[tuple[object, HttpResponse | TransportError]]:
        done: list[tuple[object, HttpResponse | TransportError]] = []
        while True:
            queued, ok, failed = self._multi.info_read()
            for curl in ok:
                handle, tag = self._release(curl)
                done.append((tag, handle.answer()))
            for curl, code, message in failed:
                handle, tag = self._release(curl)
                done.append((tag, handle.failure(code, message)))
            if not queued:
                return done

    def _release(self, curl: pycurl.Curl) -> tuple[_Handle, object]:
        handle, tag = self._busy.pop(curl)
        self._multi.remove_handle(curl)  # its connection stays in the multi's cache
        self._free.append(handle)
        return handle, tag

    def wait(self, timeout_s: float) -> list[tuple[object, HttpResponse | TransportError]]:
        """The requests completed, as (tag, answer), waiting up to ``timeout_s`` seconds for the
        first; empty only when none completed in that time (or none is in flight)."""
        deadline = time.monotonic() + timeout_s
        while self._busy:
            self._perform()
            done = self._collect()
            if done:
                return done
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            # libcurl's own next timeout (ms, -1: none) bounds the wait, so its timers run.
            curl_ms = self._multi.timeout()
            self._multi.select(min(remaining, curl_ms / 1000) if curl_ms >= 0 else remaining)
        return []

    def close(self) -> None:
        """Drop what is in flight and close the connections."""
        for curl in list(self._busy):
            self._release(curl)
        for handle in self._free:
            handle.curl.close()
        self._multi.close()


def concurrent(outbound: Outbound, max_in_flight: int = 8) -> Concurrent:
    """This thread's :class:`Concurrent` for ``outbound`` and ``max_in_flight``."""
    multis = getattr(_local, "multis", None)
    if multis is None:
        multis = _local.multis = {}
    key = (outbound, max_in_flight)
    multi = multis.get(key)
    if multi is None:
        multi = multis[key] = Concurrent(outbound, max_in_flight)
    return multi


def exchange(outbound: Outbound, request: HttpRequest) -> HttpResponse | TransportError:
    """:func:`perform`'s answer, or the TransportError it raised (what ``Provider.result``
    takes)."""
    try:
        return perform(outbound, request)
    except TransportError as exc:
        return exc
