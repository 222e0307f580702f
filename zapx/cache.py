"""A query cache in Redis: per-company namespaces, versioned keys, a TTL per entry, statistics.

Keys (``prefix`` is ``REDIS_PREFIX``)::

    <prefix>cache:<company>:<namespace>:v                     the namespace's version (INCR)
    <prefix>cache:<company>:<namespace>:<version>:<hash>      one cached result, with a TTL
    <prefix>cache:stats                                       hash of "<namespace>:hit|miss"

A read looks up the version and the entry under it in one round trip (a Lua script that also
counts the hit or the miss). A miss computes the result, stores its serialized JSON bytes under
the version it read *before* computing, and returns them. A write to the cached data calls
:func:`bump` after it commits and before it answers: the version moves on, so every entry of the
namespace is out of reach at once and simply expires with its TTL. Because the version is read
before the query runs and the bump comes after the commit, a result computed from data older
than a write is always stored under a version that write has already retired (never served).

Redis trouble never fails a request: a read falls back to computing the result (and this process
stops using the cache for :data:`PAUSE_S` seconds, so each request does not wait on the client's
retries); a failed :func:`bump` is logged and pauses this process's cache for the TTL, since
entries stored before the write may still be reachable elsewhere once Redis is back (at most
the TTL). No Falcon here: services call it with the Redis client handed to them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence

import redis

from zapx.redis import run_script

log = logging.getLogger("zapx.cache")

#: Default lifetime of an entry (seconds); ``QUERY_CACHE_TTL_S`` in the API.
DEFAULT_TTL_S = 60
#: After a Redis error, this process serves without the cache for this long (seconds).
PAUSE_S = 5.0

# KEYS[1] the version key, KEYS[2] the stats hash; ARGV[1] the entry key without its version
# (ending in ':'), ARGV[2] the query hash, ARGV[3] the namespace. Returns {version, bytes|false}.
_LOOKUP = """
local version = redis.call('GET', KEYS[1]) or '0'
local value = redis.call('GET', ARGV[1] .. version .. ':' .. ARGV[2])
if value then
  redis.call('HINCRBY', KEYS[2], ARGV[3] .. ':hit', 1)
else
  redis.call('HINCRBY', KEYS[2], ARGV[3] .. ':miss', 1)
end
return {version, value}
"""

_lock = threading.Lock()
_paused_until: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> monotonic
#: In-process counts of what Redis cannot count: errors and reads served while paused.
_local = {"errors": 0, "bypassed": 0}


def dumps(value: object) -> bytes:
    """JSON bytes as the API writes them (Falcon's default handler: ``ensure_ascii=False``)."""
    return json.dumps(value, ensure_ascii=False).encode()


def _base(prefix: str, company_id: int, namespace: str) -> str:
    if not prefix.endswith(":"):
        prefix += ":"
    return f"{prefix}cache:{int(company_id)}:{namespace}:"


def version_key(prefix: str, company_id: int, namespace: str) -> str:
    return _base(prefix, company_id, namespace) + "v"


def stats_key(prefix: str) -> str:
    return (prefix if prefix.endswith(":") else prefix + ":") + "cache:stats"


def query_hash(key_parts: Sequence) -> str:
    """A stable hash of the query's parameters (JSON of ``key_parts``)."""
    text = json.dumps(list(key_parts), ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def entry_key(prefix: str, company_id: int, namespace: str, version: int | str, key_parts) -> str:
    return f"{_base(prefix, company_id, namespace)}{version}:{query_hash(key_parts)}"


def _paused(client) -> bool:
    until = _paused_until.get(client)
    return until is not None and time.monotonic() < until


def _pause(client, seconds: float) -> None:
    with _lock:
        _local["errors"] += 1
        until = time.monotonic() + seconds
        _paused_until[client] = max(until, _paused_until.get(client, 0.0))


def get_or_compute(
    client: redis.Redis | None,
    prefix: str,
    company_id: int,
    namespace: str,
    key_parts: Sequence,
    compute: Callable[[], object],
    ttl_s: int = DEFAULT_TTL_S,
) -> bytes:
    """The JSON bytes of ``compute()``, from the cache when a current entry exists.

    ``client`` None or ``ttl_s`` 0 disables the cache (``compute()`` every time, no counting).
    """
    if client is None or ttl_s <= 0:
        return dumps(compute())
    if _paused(client):
        with _lock:
            _local["bypassed"] += 1
        return dumps(compute())
    base = _base(prefix, company_id, namespace)
    digest = query_hash(key_parts)
    try:
        # On the thread's own connection: the lookup is the one Redis call of a cached read.
        version, value = run_script(
            client, _LOOKUP, [base + "v", stats_key(prefix)], [base, digest, namespace]
        )
    except redis.RedisError as exc:
        log.warning("query cache read failed, serving from the database: %s", exc)
        _pause(client, PAUSE_S)
        return dumps(compute())
    if value is not None:
        return value.encode() if isinstance(value, str) else value
    if isinstance(version, bytes):
        version = version.decode()
    data = dumps(compute())
    try:
        client.set(f"{base}{version}:{digest}", data, ex=ttl_s)
    except redis.RedisError as exc:  # noeviction and full, or gone: the answer is still right
        log.warning("query cache write failed: %s", exc)
        _pause(client, PAUSE_S)
    return data


def bump(
    client: redis.Redis | None,
    prefix: str,
    company_id: int,
    namespace: str,
    *,
    ttl_s: int = DEFAULT_TTL_S,
) -> None:
    """Invalidate every entry of ``namespace`` for the company: call it after a write to the
    cached data commits, and before answering. Never raises (see the module's docstring)."""
    if client is None:
        return
    try:
        client.incr(version_key(prefix, company_id, namespace))
    except redis.RedisError as exc:
        log.error(
            "query cache bump failed for company %s %s: %s; entries may be stale for up to "
            "their TTL",
            company_id,
            namespace,
            exc,
        )
        _pause(client, max(ttl_s, PAUSE_S))


def stats(client: redis.Redis | None, prefix: str) -> dict:
    """Hit and miss counts by namespace (from Redis, all processes), plus this process's
    ``errors`` and ``bypassed`` reads: ``{"contacts": {"hit": 9, "miss": 1}, ..., "errors": 0,
    "bypassed": 0}``. Redis being down leaves the namespaces out."""
    out: dict = {}
    if client is not None:
        try:
            raw = client.hgetall(stats_key(prefix))
        except redis.RedisError:
            raw = {}
        for field, count in raw.items():
            field = field.decode() if isinstance(field, bytes) else field
            namespace, _, kind = field.rpartition(":")
            out.setdefault(namespace, {"hit": 0, "miss": 0})[kind] = int(count)
    with _lock:
        out.update(_local)
    return out


def resume(client) -> None:
    """Forget a pause (tests, or an operator who knows Redis is back)."""
    with _lock:
        _paused_until.pop(client, None)


@dataclasses.dataclass(frozen=True)
class QueryCache:
    """The client, key prefix and TTL a service needs, handed in by the API (tests build their
    own). ``ttl_s`` 0 turns caching off (reads compute every time; writes still bump)."""

    client: redis.Redis | None
    prefix: str
    ttl_s: int = DEFAULT_TTL_S

    def get_or_compute(self, company_id: int, namespace: str, key_parts, compute) -> bytes:
        return get_or_compute(
            self.client, self.prefix, company_id, namespace, key_parts, compute, self.ttl_s
        )

    def bump(self, company_id: int, namespace: str) -> None:
        bump(self.client, self.prefix, company_id, namespace, ttl_s=self.ttl_s or DEFAULT_TTL_S)
