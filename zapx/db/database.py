"""The one deferred database every process shares, and its initialisation.

Connections are per thread and never opened implicitly (``autoconnect=False``): each unit of work
(an HTTP request, a Dramatiq message, an actor's handler) opens a scope with
``db.connection_context()``, which returns the connection to the pool when it ends.

Every connect and query reports to the process's ``database`` breaker (``zapx.dependencies``):
while it is open they are refused at once with ``DatabaseUnavailable`` (a
``peewee.OperationalError``) instead of waiting for a server that is not there.
"""

from __future__ import annotations

import socket
from urllib.parse import unquote, urlparse

import psycopg2
from playhouse.postgres_ext import PooledPostgresqlExtDatabase

from zapx import dependencies
from zapx.breakers import Breaker


class _Scope:
    __slots__ = ("db", "opened")

    def __init__(self, database: PooledPostgresqlExtDatabase):
        self.db = database
        self.opened = False

    def __enter__(self) -> None:
        self.opened = self.db.connect(reuse_if_open=True)

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        if self.opened:
            self.db.close()


class GuardedDatabase(PooledPostgresqlExtDatabase):
    """The pooled database, behind a breaker: each connect and query asks it first and tells
    it the outcome (an error the server answered counts as a success: it is up). About 1 µs
    a query."""

    breaker: Breaker = dependencies.database

    def connect(self, reuse_if_open: bool = False) -> bool:
        if reuse_if_open and not self.is_closed():
            return False
        probe = self.breaker.before()
        try:
            opened = super().connect(reuse_if_open)
        except Exception as exc:
            self._failed(exc, probe)
            raise
        self.breaker.record(successes=1, probe=probe)
        return opened

    def execute_sql(self, sql, params=None, named_cursor=None):
        probe = self.breaker.before()
        try:
            cursor = super().execute_sql(sql, params, named_cursor)
        except Exception as exc:
            self._failed(exc, probe)
            raise
        self.breaker.record(successes=1, probe=probe)
        return cursor

    def connection_context(self) -> _Scope:
        """A scope that opens the thread's connection when none is open, and closes only the
        one it opened. Peewee's own closes whatever is open when its stack empties: inside an
        API request, whose connection the middleware opened outside any scope (to reuse it
        across requests), a service's scope closed the request's connection under it."""
        return _Scope(self)

    def _failed(self, exc: Exception, probe: bool) -> None:
        if dependencies.database_down(exc):
            self.breaker.record(failures=1, probe=probe, error=exc)
        else:
            self.breaker.record(successes=1, probe=probe)


#: Deferred: ``init_db`` gives it a name and connection parameters.
db = GuardedDatabase(None, autoconnect=False)


def connect_params(url: str) -> dict:
    """Split a ``postgresql://user:pass@host:port/name`` URL into psycopg2 keyword arguments."""
    parts = urlparse(url)
    params = {
        "database": unquote(parts.path.lstrip("/")) or "postgres",
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username) if parts.username else "postgres",
    }
    if parts.password:
        params["password"] = unquote(parts.password)
    return params


#: What :func:`probe` says of a server.
UP, LOGIN_FAILED, DOWN = "ok", "authentication failed", "down"


def probe(url: str, timeout_s: int = 3) -> tuple[str, str]:
    """Whether the PostgreSQL server of ``url`` takes our login: ``(UP, "")``, ``(LOGIN_FAILED,
    reason)`` when it answers but refuses it (a password asked for, no pg_hba.conf rule, an
    unknown role), or ``(DOWN, reason)`` when nothing answers. ``timeout_s`` bounds each try.

    It logs in to the ``postgres`` database: the server answers before ours exists.
    """
    params = connect_params(url) | {"database": "postgres"}
    try:
        psycopg2.connect(connect_timeout=timeout_s, **params).close()
        return UP, ""
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0]
    # libpq's messages are translated: whether the server answered is asked of the network.
    try:
        socket.create_connection((params["host"], params["port"]), timeout=timeout_s).close()
    except OSError:
        return DOWN, reason
    if any(word in reason for word in ("starting up", "shutting down", "in recovery")):
        return DOWN, reason
    return LOGIN_FAILED, reason


def init_db(
    url: str,
    pool_size: int = 20,
    *,
    application_name: str = "zapx",
    wait_s: float = 10,
    connect_timeout_s: int = 2,
) -> None:
    """Point :data:`db` at ``url`` with a pool of at most ``pool_size`` connections per process.

    Waits at most ``wait_s`` seconds for a free pooled connection; idle connections are recycled
    after 300 s; a new connection that is not made within ``connect_timeout_s`` seconds
    (``DB_CONNECT_TIMEOUT_S``; libpq takes 2 s at the least) fails.
    """
    params = connect_params(url)
    name = params.pop("database")
    db.init(
        name,
        max_connections=pool_size,
        stale_timeout=300,
        timeout=wait_s,
        application_name=application_name,
        connect_timeout=connect_timeout_s,
        **params,
    )
