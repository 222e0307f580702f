"""One pooled Redis client per process, with retries, and the key prefix every key carries."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def get_redis(url: str, *, max_connections: int = 64) -> redis.Redis:
    """The shared client for ``url`` (created once per process; thread-safe).

    Commands retry 3 times with exponential backoff on connection errors; socket timeouts are 5 s.
    """
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url,
                max_connections=max_connections,
                socket_timeout=5,
                socket_connect_timeout=5,
                health_check_interval=30,
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            )
            _clients[url] = client
        return client


def close_all() -> None:
    """Close every pooled client (at process shutdown, and between tests)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class Keys:
    """Namespaced keys: ``Keys("zapx:").of("company", 7)`` -> ``zapx:company:7``."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str):
        self.prefix = prefix if prefix.endswith(":") else prefix + ":"

    def of(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)


class _ThreadConnections(threading.local):
    """Each thread's own connection per client, for :func:`run_script`."""

    def __init__(self):
        self.by_client: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.pid = os.getpid()


_threads = _ThreadConnections()
_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> {lua: Script}


def run_script(client: redis.Redis, lua: str, keys: Sequence[str], args: Sequence) -> object:
    """``EVALSHA`` of ``lua`` on a connection of the calling thread's own.

    For the calls made once per request or per message: through the client's pool, retry
    wrapper and ``Script`` object one call cost about three times its round trip in CPU; here it
    is one write and one read. Any failure drops the connection and makes the call the ordinary
    way (which loads the script after a Redis restart, reconnects and retries), so errors behave
    as the client's do.
    """
    script = _scripts.get(client, {}).get(lua)
    if script is None:
        with _lock:
            by_lua = _scripts.setdefault(client, {})
            script = by_lua.get(lua) or by_lua.setdefault(lua, client.register_script(lua))
    if _threads.pid != os.getpid():  # a forked child never shares its parent's sockets
        _threads.by_client = weakref.WeakKeyDictionary()
        _threads.pid = os.getpid()
    conn = _threads.by_client.get(client)
    if conn is None:
        pool = client.connection_pool
        conn = _threads.by_client[client] = pool.connection_class(**pool.connection_kwargs)
    try:
        conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
        return conn.read_response()
    except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.NoScriptError):
        # NOSCRIPT: the server restarted and lost the script; the others: the socket. A call
        # that timed out may have run: scripts given here must bear a second run (the client's
        # own retry does the same).
        conn.disconnect()
        _threads.by_client.pop(client, None)
        return script(keys=list(keys), args=list(args))
