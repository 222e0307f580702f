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
with ``CURLE_SEND_FAIL_REWIND`` before anything is sent again: AMBIGUOUS. And since libcurl
checks a cached connection at most once a second, the handle checks it before every request
(PREREQFUNCTION): one the server closed is never written to; the request goes on another.

Timeouts: libcurl has a connect timeout and a total one, no read timeout of its own; the total is
:data:`CONNECT_TIMEOUT_S` + :data:`READ_TIMEOUT_S` seconds.
"""

from __future__ import annotations

import os
import threading
import time

import pycurl

from zapx.outbound import Outbound
from zapx.providers.base import TRANSIENT, HttpRequest, HttpResponse, TransportError
from zapx.providers.curl_handle import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, Handle, Sockets

__all__ = ["CONNECT_TIMEOUT_S", "READ_TIMEOUT_S", "Concurrent", "concurrent", "exchange", "perform"]

#: Requests started on connections the server had closed before one goes out (each try closes
#: one: a cache holds up to ``max_in_flight`` or libcurl's 5).
STALE_TRIES = 10


def _stale() -> TransportError:
    return TransportError(TRANSIENT, "connect failed: every kept connection was closed", "connect")


_local = threading.local()
#: A forked child's inherited handles: kept, never used or cleaned up (their connections'
#: sockets are the parent's too; a cleanup would send TLS close_notify on them).
_inherited: list[threading.local] = []


def _forget_inherited() -> None:
    global _local
    _inherited.append(_local)
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_inherited)


def _handle(outbound: Outbound) -> Handle:
    handles = getattr(_local, "handles", None)
    if handles is None:
        handles = _local.handles = {}
    handle = handles.get(outbound)
    if handle is None:
        handle = handles[outbound] = Handle(outbound)
    return handle


def perform(outbound: Outbound, request: HttpRequest) -> HttpResponse:
    """POST ``request`` on this thread's keep-alive handle for ``outbound``; raises
    TransportError when no HTTP answer came (a 4xx or 5xx is an answer)."""
    handle = _handle(outbound)
    for _ in range(STALE_TRIES):
        handle.start(request)
        try:
            handle.curl.perform()
        except pycurl.error as exc:
            if handle.stale:
                continue  # a connection the server had closed: nothing sent, another one
            raise handle.failure(*exc.args) from None
        answer = handle.answer()
        if isinstance(answer, TransportError):
            raise answer
        return answer
    raise _stale()


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
        sockets = Sockets()  # the multi's connection cache is its handles'
        self._free = [Handle(outbound, sockets) for _ in range(max_in_flight)]
        self._tries: dict[pycurl.Curl, int] = {}
        self._busy: dict[pycurl.Curl, tuple[Handle, object]] = {}

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
                handle, tag = self._busy[curl]
                tries = self._tries.get(curl, 1)
                if handle.stale and tries < STALE_TRIES:
                    # A connection the server had closed: nothing sent (the aborted transfer
                    # closed it); the same request again, on another.
                    self._tries[curl] = tries + 1
                    self._multi.remove_handle(curl)
                    handle.start(handle.request)
                    self._multi.add_handle(curl)
                    continue
                handle, tag = self._release(curl)
                done.append((tag, _stale() if handle.stale else handle.failure(code, message)))
            if not queued:
                return done

    def _release(self, curl: pycurl.Curl) -> tuple[Handle, object]:
        handle, tag = self._busy.pop(curl)
        self._tries.pop(curl, None)
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
            wait_s = min(remaining, curl_ms / 1000) if curl_ms >= 0 else remaining
            before = time.monotonic()
            if not self._multi.select(wait_s) and time.monotonic() - before < wait_s / 2:
                # No socket to wait on (pycurl's select then returns at once): not a busy loop.
                time.sleep(min(wait_s, 0.002))
        return []

    def close(self) -> None:
        """Drop what is in flight and close the connections (:func:`concurrent` then makes a
        new one)."""
        for curl in list(self._busy):
            self._release(curl)
        self._multi.close()
        for handle in self._free:
            handle.curl.close()
        multis = getattr(_local, "multis", {})
        for key in [key for key, multi in multis.items() if multi is self]:
            del multis[key]


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
