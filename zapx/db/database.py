"""The one deferred database every process shares, and its initialisation.

Connections are per thread and never opened implicitly (``autoconnect=False``): each unit of work
(an HTTP request, a Dramatiq message, an actor's handler) opens a scope with
``db.connection_context()``, which returns the connection to the pool when it ends.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from playhouse.postgres_ext import PooledPostgresqlExtDatabase

#: Deferred: ``init_db`` gives it a name and connection parameters.
db = PooledPostgresqlExtDatabase(None, autoconnect=False)


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


def init_db(
    url: str, pool_size: int = 20, *, application_name: str = "zapx", wait_s: float = 10
) -> None:
    """Point :data:`db` at ``url`` with a pool of at most ``pool_size`` connections per process.

    Waits at most ``wait_s`` seconds for a free pooled connection; idle connections are recycled
    after 300 s.
    """
    params = connect_params(url)
    name = params.pop("database")
    db.init(
        name,
        max_connections=pool_size,
        stale_timeout=300,
        timeout=wait_s,
        application_name=application_name,
        connect_timeout=5,
        **params,
    )
