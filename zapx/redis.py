"""One pooled Redis client per process, with retries, and the key prefix every key carries."""

from __future__ import annotations

import threading

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
