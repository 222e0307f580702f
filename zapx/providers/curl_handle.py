"""One libcurl easy handle set up for the providers (``zapx.providers.curl``): its options, the
guard against addresses the install does not allow, the check that a reused connection is still
open before a request goes out on it, and the classification of its failures. The reasons for
each are in docs/HTTP_CLIENT.md.
"""

from __future__ import annotations

import errno
import functools
import io
import logging
import os
import select
import socket
import ssl
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


#: poll() events of a socket whose peer closed it or reset it.
_CLOSED = select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL


class Sockets:
    """The sockets of a connection cache (an easy handle's, or a multi's shared by its handles)
    by their addresses, so that a request checks the connection it is about to go out on.

    libcurl checks a cached connection before reusing it, but at most once a second
    (``Curl_cpool_conn_seems_healthy``): one the server closed within that second is reused,
    the request gets no answer, and the resend libcurl then wants is refused (at most once):
    AMBIGUOUS for a request the server never saw. Checked here on every request instead."""

    __slots__ = ("by_key", "new")

    def __init__(self):
        #: Descriptors libcurl opened since the last check (SOCKOPTFUNCTION), not yet mapped.
        self.new: list[int] = []
        #: (local port, peer address, peer port) -> descriptor.
        self.by_key: dict[tuple[int, str, int], int] = {}

    def opened(self, fd: int, purpose: int) -> int:
        """SOCKOPTFUNCTION: libcurl made socket ``fd`` (before connecting it)."""
        self.new.append(fd)
        return pycurl.SOCKOPT_OK

    def _map(self) -> None:
        waiting = []
        for fd in self.new:
            try:
                # A duplicate to ask the addresses: the descriptor stays libcurl's.
                with socket.socket(fileno=os.dup(fd)) as sock:
                    key = (sock.getsockname()[1], *sock.getpeername()[:2])
            except OSError as exc:
                if exc.errno == errno.ENOTCONN:  # still connecting (another handle's): later
                    waiting.append(fd)
                continue  # else a losing attempt (happy eyeballs), already closed
            for old in [k for k, f in self.by_key.items() if f == fd]:
                del self.by_key[old]  # libcurl closed that one and the number came back
            self.by_key[key] = fd
        self.new = waiting

    def closed_by_peer(self, local_port: int, peer: str, peer_port: int) -> bool:
        """Whether the connection from ``local_port`` to ``peer:peer_port`` was closed or reset
        by the server."""
        if self.new:
            self._map()
        fd = self.by_key.get((local_port, peer, peer_port))
        if fd is None:
            return False
        poller = select.poll()
        poller.register(fd, _CLOSED)
        return any(events & _CLOSED for _, events in poller.poll(0))


class Handle:
    """An easy handle, set up once, and what its callbacks need for the current request."""

    __slots__ = (
        "body",
        "curl",
        "head",
        "headers",
        "outbound",
        "refused",
        "request",
        "sockets",
        "stale",
        "url",
    )

    def __init__(self, outbound: Outbound, sockets: Sockets | None = None):
        """``sockets``: those of the connection cache the handle uses (a multi's is shared)."""
        self.outbound = outbound
        self.sockets = sockets or Sockets()
        self.url = self.headers = self.request = None
        # The answer's body chunks and header lines, appended by libcurl's callbacks (set once).
        self.body: list[bytes] = []
        self.head: list[bytes] = []
        self.refused = self.stale = False
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
        c.setopt(pycurl.WRITEFUNCTION, self.body.append)
        c.setopt(pycurl.HEADERFUNCTION, self.head.append)
        c.setopt(pycurl.OPENSOCKETFUNCTION, self._open)
        c.setopt(pycurl.SOCKOPTFUNCTION, self.sockets.opened)
        c.setopt(pycurl.PREREQFUNCTION, self._prereq)

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

    def _prereq(self, peer: str, local: str, peer_port: int, local_port: int) -> int:
        """PREREQFUNCTION, on the connection picked, just before the request is sent: abort
        (nothing sent) when the server closed it; the caller then sends on another."""
        if self.sockets.closed_by_peer(local_port, peer, peer_port):
            self.stale = True
            return pycurl.PREREQFUNC_ABORT
        return pycurl.PREREQFUNC_OK

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
        self.body.clear()
        self.head.clear()
        self.request = request
        self.refused = self.stale = False

    def answer(self) -> HttpResponse | TransportError:
        """The answer libcurl completed, or a TransportError when its headers were cut short
        (libcurl takes an end of stream inside the headers for their end)."""
        head, body = b"".join(self.head), b"".join(self.body)
        self.head.clear()
        self.body.clear()
        if not (head.endswith(b"\n\r\n") or head.endswith(b"\n\n")):
            return TransportError(
                AMBIGUOUS, "connection broken: the answer's headers were cut short", "broken"
            )
        return HttpResponse(self.curl.getinfo(pycurl.RESPONSE_CODE), body, _retry_after(head))

    def failure(self, code: int, message: str) -> TransportError:
        """The TransportError of libcurl's error ``code``: did the request possibly leave?"""
        self.head.clear()
        self.body.clear()
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
