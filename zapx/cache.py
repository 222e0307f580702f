"""A query cache in Redis: per-company namespaces, versioned keys, a TTL per entry, statistics.

Keys (``prefix`` is ``REDIS_PREFIX``)::

    <prefix>cache:<company>:<namespace>:v                 the namespace's version (INCR)
    <prefix>cache:<company>:<namespace>:<version>:<hash>  one cached result, with a TTL
    <prefix>cache:stats                                   "<namespace>:hit|miss|invalidation"
    <prefix>cache:stats:<company>                         the same counts, one company's

The namespaces are :data:`NAMESPACES` (docs/CACHE.md says what each holds and what bumps it).

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

A bump is one round trip (the version's INCR and the two counts of the invalidation in one
pipeline); :func:`queue_bump` adds the same commands to a caller's own pipeline, so a path that
already talks to Redis after its commit (a delivery batch's record) pays no extra round trip.
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
#: The namespaces: searched contacts pages, contact lists with their item counts, campaign
#: settings, campaign reports, rate limits (``zapx.rate_limits``). ``DELETE /cache`` bumps all.
CONTACTS = "contacts"
LISTS = "lists"
SETTINGS = "settings"
REPORTS = "reports"
RATE_LIMITS = "rate_limits"
NAMESPACES = (CONTACTS, LISTS, SETTINGS, REPORTS, RATE_LIMITS)
#: What a namespace counts (the fields ``<namespace>:<kind>`` of the stats hashes).
KINDS = ("hit", "miss", "invalidation")

#: After a Redis error, this process serves without the cache for this long (seconds).
PAUSE_S = 5.0

# KEYS[1] the version key, KEYS[2] the stats hash, KEYS[3] the company's stats hash; ARGV[1] the
# entry key without its version (ending in ':'), ARGV[2] the query hash, ARGV[3] the namespace.
# Returns {version, bytes|false}.
_LOOKUP = """
local version = redis.call('GET', KEYS[1]) or '0'
local value = redis.call('GET', ARGV[1] .. version .. ':' .. ARGV[2])
local field = ARGV[3] .. (value and ':hit' or ':miss')
redis.call('HINCRBY', KEYS[2], field, 1)
redis.call('HINCRBY', KEYS[3], field, 1)
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


def stats_key(prefix: str, company_id: int | None = None) -> str:
    """The stats hash of every company (``company_id`` None) or of one."""
    key = (prefix if prefix.endswith(":") else prefix + ":") + "cache:stats"
    return key if company_id is None else f"{key}:{int(company_id)}"


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
            client,
            _LOOKUP,
            [base + "v", stats_key(prefix), stats_key(prefix, company_id)],
            [base, digest, namespace],
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


def queue_bump(pipe, prefix: str, company_id: int, namespace: str) -> None:
    """Add a bump's commands to ``pipe`` (a non-transactional pipeline the caller executes after
    its commit): the version's INCR and the invalidation counts, global and the company's."""
    field = f"{namespace}:invalidation"
    pipe.incr(version_key(prefix, company_id, namespace))
    pipe.hincrby(stats_key(prefix), field, 1)
    pipe.hincrby(stats_key(prefix, company_id), field, 1)


def bump(
    client: redis.Redis | None,
    prefix: str,
    company_id: int,
    namespace: str | Sequence[str],
    *,
    ttl_s: int = DEFAULT_TTL_S,
) -> None:
    """Invalidate every entry of ``namespace`` (or of each of several) for the company: call it
    after a write to the cached data commits, and before answering. One round trip; never
    raises (see the module's docstring)."""
    if client is None:
        return
    names = (namespace,) if isinstance(namespace, str) else tuple(namespace)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            queue_bump(pipe, prefix, company_id, name)
        pipe.execute()
    except redis.RedisError as exc:
        bump_failed(client, company_id, names, exc, ttl_s)


def bump_failed(client, company_id: int, namespaces, exc: BaseException, ttl_s: int) -> None:
    """What a failed bump does (also when it rode on a caller's pipeline): one log line, and
    this process's cache paused for the TTL."""
    log.error(
        "query cache bump failed; entries may be stale for up to their TTL",
        extra={
            "company_id": company_id,
            "namespaces": ",".join(namespaces),
            "ttl_s": ttl_s,
            "error": str(exc),
        },
    )
    _pause(client, max(ttl_s, PAUSE_S))


def stats(client: redis.Redis | None, prefix: str, company_id: int | None = None) -> dict:
    """Hit, miss and invalidation counts by namespace (from Redis, all processes; one company's
    when ``company_id`` is given), plus this process's ``errors`` and ``bypassed`` reads:
    ``{"contacts": {"hit": 9, "miss": 1, "invalidation": 2}, ..., "errors": 0, "bypassed": 0}``.
    Redis being down leaves the namespaces out."""
    out: dict = {}
    if client is not None:
        try:
            raw = client.hgetall(stats_key(prefix, company_id))
        except redis.RedisError:
            raw = {}
        for field, count in raw.items():
            field = field.decode() if isinstance(field, bytes) else field
            namespace, _, kind = field.rpartition(":")
            if kind in KINDS:
                out.setdefault(namespace, dict.fromkeys(KINDS, 0))[kind] = int(count)
    with _lock:
        out.update(_local)
    return out


def resume(client) -> None:
    """Forget a pause (tests, or an operator who knows Redis is back)."""
    with _lock:
        _paused_until.pop(client, None)


@dataclasses.dataclass(frozen=True)
class QueryCache:
    """The client, key prefix and TTLs a service needs, handed in by the API (tests build their
    own). ``ttl_s`` (seconds) is every namespace's but those in ``ttls`` (``{namespace:
    seconds}``, e.g. the reports' shorter one); 0 turns caching off (reads compute every time;
    writes still bump)."""

    client: redis.Redis | None
    prefix: str
    ttl_s: int = DEFAULT_TTL_S
    ttls: tuple[tuple[str, int], ...] = ()

    def ttl_for(self, namespace: str) -> int:
        """The lifetime of ``namespace``'s entries (seconds); 0 when the cache is off."""
        if self.ttl_s <= 0:
            return 0
        return dict(self.ttls).get(namespace, self.ttl_s)

    def get_or_compute(
        self, company_id: int, namespace: str, key_parts, compute, ttl_s: int | None = None
    ) -> bytes:
        """``ttl_s`` (seconds) this entry's own lifetime; None the namespace's."""
        return get_or_compute(
            self.client,
            self.prefix,
            company_id,
            namespace,
            key_parts,
            compute,
            self.ttl_for(namespace) if ttl_s is None else ttl_s,
        )

    def bump(self, company_id: int, namespace: str | Sequence[str]) -> None:
        bump(self.client, self.prefix, company_id, namespace, ttl_s=self.ttl_s or DEFAULT_TTL_S)
