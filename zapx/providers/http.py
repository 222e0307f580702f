"""Keep-alive urllib3 pools, guarded against connections to addresses the install does not
allow (``zapx/outbound.py``): the alert webhooks' client (``zapx.alerts.webhook``). The
providers send with libcurl (``zapx.providers.curl``), under the same timeouts and guard.

The guard runs on every new socket, on the address it actually connected to, before a byte is
sent: a name that passed validation and resolves to a private address later (DNS rebinding) is
refused then, and so is a redirect to one. A reused keep-alive socket was checked when it opened.
"""

from __future__ import annotations

import logging
import threading

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from zapx.outbound import Outbound

log = logging.getLogger("zapx.providers")

_lock = threading.Lock()
_pools: dict[Outbound, urllib3.PoolManager] = {}

#: Seconds to open a connection / to wait for the answer.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 15.0


def refused_reason(host: str) -> str:
    """The error of a connection the guard refused. The address stays in the server's log: the
    reason reaches the tenant (a campaign's pause reason), and an internal name's address is
    not theirs to learn."""
    return (
        f"{host} is at an address that is not public and not in "
        "CONNECTION_ALLOWED_HOSTS: nothing sent"
    )


class RefusedAddress(urllib3.exceptions.HTTPError):
    """The connection's host is at an address connections may not reach; nothing was sent."""


class _Guarded:
    """Mixin for urllib3's connections: check the peer of each new socket."""

    outbound: Outbound

    def _new_conn(self):
        sock = super()._new_conn()  # type: ignore[misc]
        try:
            peer = sock.getpeername()[0]
        except OSError:
            peer = ""
        host, port = self.host, self.port  # type: ignore[attr-defined]
        if not self.outbound.allows_peer(host, port, peer):
            sock.close()
            log.warning("connection refused", extra={"host": host, "port": port, "peer": peer})
            raise RefusedAddress(refused_reason(host))
        return sock


def _manager(outbound: Outbound) -> urllib3.PoolManager:
    attrs = {"outbound": outbound}
    http_conn = type("GuardedHTTPConnection", (_Guarded, HTTPConnection), attrs)
    https_conn = type("GuardedHTTPSConnection", (_Guarded, HTTPSConnection), attrs)
    manager = urllib3.PoolManager(
        num_pools=64,
        maxsize=32,
        block=False,
        retries=False,  # retrying is delivery's decision, with its own backoff
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
    )
    manager.pool_classes_by_scheme = {
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }
    return manager


def pool(outbound: Outbound) -> urllib3.PoolManager:
    """The process's pool for connections under ``outbound`` (one per policy; in practice one)."""
    with _lock:
        manager = _pools.get(outbound)
        if manager is None:
            manager = _pools[outbound] = _manager(outbound)
        return manager
