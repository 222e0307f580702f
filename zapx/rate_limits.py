"""Per-company rate limits of four kinds (``/rate-limits``), stored, validated and cached.

A limit is ``limit`` sends per ``period_s`` seconds, and its kind says what it counts:

- ``whatsapp``: each connection of the company on its own (60 per 60 s: every connection may
  send 60 a minute);
- ``contact``: each recipient (number), over all the company's connections and campaigns;
- ``campaign``: each campaign on its own;
- ``global``: the whole company, everything it sends.

A company has at most one limit per kind. A kind without one is not limited (the default for
every kind: only the connection's own pacing applies). The delivery's Redis gate enforces them
(another module); here is what they are.

Reading (:func:`limits_for`, called by the workers for every batch they send) goes through
three layers: this process's copy (kept :data:`LOCAL_TTL_S` seconds: a dict lookup, about
0.2 µs), then the query cache in Redis (``zapx.cache``, namespace :data:`NAMESPACE`, one script
call), then PostgreSQL. :func:`put_limits` commits, bumps the Redis namespace and drops this
process's copy, so this process sees a change at once and every other within
:data:`LOCAL_TTL_S` (while Redis is up; a failed bump is logged and the query cache stops serving
for its TTL, see ``zapx/cache.py``). docs/BENCHMARKS.md has the measured costs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from peewee import EXCLUDED

from zapx.auth import Principal
from zapx.cache import RATE_LIMITS, QueryCache
from zapx.config import load_config
from zapx.db import Company, CompanyRateLimit, Tenant, db, utcnow
from zapx.db.rate_limit_models import KINDS, MAX_PERIOD_S, MAX_SENDS, MIN_PERIOD_S
from zapx.errors import ValidationError, not_found
from zapx.redis import get_redis
from zapx.validation import positive_id

log = logging.getLogger("zapx.rate_limits")

__all__ = [
    "KINDS",
    "LOCAL_TTL_S",
    "MAX_PERIOD_S",
    "MAX_SENDS",
    "MIN_PERIOD_S",
    "LocalLimits",
    "RateLimit",
    "company_tenant",
    "get_limits",
    "limits_for",
    "parse_limits",
    "put_limits",
]

#: How long a process keeps its copy of a company's limits (seconds): the most another
#: process's change takes to be seen here.
LOCAL_TTL_S = 1.0
#: The query-cache namespace of the limits (``<prefix>cache:<company>:rate_limits:...``).
NAMESPACE = RATE_LIMITS
_SHAPE = '{"limits": [{"kind": ..., "limit": ..., "periodS": ...}, ...]}'


@dataclasses.dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` sends per ``period_s`` seconds, counted per ``kind`` (see the module)."""

    kind: str
    limit: int
    period_s: float

    def __post_init__(self):
        # The gate divides by these: a bad one must fail here, not in a Lua script.
        if self.kind not in KINDS:
            raise ValueError(f"unknown rate-limit kind {self.kind!r}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"limit must be a positive integer, got {self.limit!r}")
        if not MIN_PERIOD_S <= self.period_s <= MAX_PERIOD_S:
            raise ValueError(f"period_s must be within 1 .. 86400 s, got {self.period_s!r}")

    @property
    def interval_s(self) -> float:
        """The even spacing the limit allows (seconds per send; GCRA's emission interval)."""
        return self.period_s / self.limit

    def as_json(self) -> dict:
        """As the API shows it: ``{kind, limit, periodS}``."""
        return {"kind": self.kind, "limit": self.limit, "periodS": self.period_s}


def _ordered(limits) -> tuple[RateLimit, ...]:
    return tuple(sorted(limits, key=lambda r: KINDS.index(r.kind)))


# --- validation ----------------------------------------------------------------------------------


def _item(i: int, item: object) -> RateLimit:
    where = f"limits[{i}]"
    if not isinstance(item, Mapping):
        raise ValidationError(f"{where} must be an object {{kind, limit, periodS}}", field=where)
    kind, limit, period = item.get("kind"), item.get("limit"), item.get("periodS")
    if not isinstance(kind, str) or kind not in KINDS:
        got = "missing" if kind is None else f"got {str(kind)[:40]!r}"
        raise ValidationError(
            f"{where}.kind must be one of: {', '.join(KINDS)} ({got})", field=f"{where}.kind"
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SENDS:
        raise ValidationError(
            f"{where}.limit must be a positive integer of sends per period, at most {MAX_SENDS}",
            field=f"{where}.limit",
        )
    number = isinstance(period, int | float) and not isinstance(period, bool)
    if not number or not math.isfinite(period) or not MIN_PERIOD_S <= period <= MAX_PERIOD_S:
        raise ValidationError(
            f"{where}.periodS must be a number of seconds from {MIN_PERIOD_S:g} to "
            f"{MAX_PERIOD_S:g}",
            field=f"{where}.periodS",
        )
    return RateLimit(kind, limit, float(period))


def parse_limits(body: object) -> tuple[RateLimit, ...]:
    """The limits of a ``PUT /rate-limits`` body, in :data:`KINDS` order, or a
    :class:`ValidationError` naming the first bad field (``limits[1].periodS``)."""
    if not isinstance(body, Mapping) or "limits" not in body:
        raise ValidationError(f"request body must be {_SHAPE}", field="limits")
    items = body["limits"]
    if not isinstance(items, list):
        raise ValidationError(f"limits must be an array: {_SHAPE}", field="limits")
    seen: dict[str, int] = {}
    out = []
    for i, item in enumerate(items):
        limit = _item(i, item)
        if limit.kind in seen:
            raise ValidationError(
                f"limits[{i}] repeats kind {limit.kind!r} (also limits[{seen[limit.kind]}]); "
                "give each kind at most once",
                field=f"limits[{i}].kind",
            )
        seen[limit.kind] = i
        out.append(limit)
    return _ordered(out)


# --- storage -------------------------------------------------------------------------------------


def _stored(company_id: int) -> tuple[RateLimit, ...]:
    rows = CompanyRateLimit.select(
        CompanyRateLimit.kind, CompanyRateLimit.max_sends, CompanyRateLimit.period_s
    ).where(CompanyRateLimit.company == company_id)
    return _ordered(RateLimit(r.kind, r.max_sends, r.period_s) for r in rows)


def company_tenant(principal: Principal, company_id: object = None) -> Tenant:
    """The company whose limits a request reads or writes: the caller's own, or with
    ``?companyId=`` any existing one for a platform administrator. Another company is a 404 for
    everyone else, as another company's objects are (``zapx/db/tenant.py``)."""
    if company_id is None or company_id == "":
        return Tenant(principal.company_id)
    wanted = positive_id(company_id, "companyId")
    if wanted != principal.company_id and not principal.is_super:
        raise not_found("Company", wanted)
    if not Company.select(Company.id).where(Company.id == wanted).exists():
        raise not_found("Company", wanted)
    return Tenant(wanted)


def get_limits(tenant: Tenant) -> dict:
    """``GET /rate-limits``: ``{companyId, limits: [{kind, limit, periodS}]}``, from the
    database (not the cache), kinds without a limit left out."""
    return {
        "companyId": tenant.company_id,
        "limits": [r.as_json() for r in _stored(tenant.company_id)],
    }


def put_limits(
    tenant: Tenant,
    body: object,
    *,
    cache: QueryCache | None = None,
    local: LocalLimits | None = None,
) -> dict:
    """``PUT /rate-limits``: the body's limits become the company's, every kind not in it is
    unlimited from now on (``{"limits": []}`` removes them all). All or nothing: a bad item
    changes nothing. Answers as :func:`get_limits`.

    ``cache`` is the query cache to bump (the process's default one when None), ``local`` the
    process copy to drop (this process's when None).
    """
    limits = parse_limits(body)
    company_id = tenant.company_id
    now = utcnow()
    with db.atomic():
        # Two PUTs at once take turns: each leaves exactly its own set, never a mix of both.
        Company.select(Company.id).where(Company.id == company_id).for_update().execute()
        CompanyRateLimit.delete().where(
            (CompanyRateLimit.company == company_id)
            & CompanyRateLimit.kind.not_in([r.kind for r in limits])
        ).execute()
        if limits:
            rows = [
                {
                    "company": company_id,
                    "kind": r.kind,
                    "max_sends": r.limit,
                    "period_s": r.period_s,
                    "created_at": now,
                    "updated_at": now,
                }
                for r in limits
            ]
            CompanyRateLimit.insert_many(rows).on_conflict(
                conflict_target=[CompanyRateLimit.company, CompanyRateLimit.kind],
                update={
                    CompanyRateLimit.max_sends: EXCLUDED.max_sends,
                    CompanyRateLimit.period_s: EXCLUDED.period_s,
                    CompanyRateLimit.updated_at: EXCLUDED.updated_at,
                },
            ).execute()
    # After the commit: Redis first, then this process's copy, so that no thread here can copy
    # the old entry back from Redis once its own copy is gone.
    (cache or default_cache()).bump(company_id, NAMESPACE)
    (local or _process).forget(company_id)
    log.info(
        "rate limits changed",
        extra={
            "company_id": company_id,
            "campaign_id": None,
            "limits": [r.as_json() for r in limits],
        },
    )
    return get_limits(tenant)


# --- the cached read -----------------------------------------------------------------------------


class LocalLimits:
    """A process's copy of each company's limits, each kept ``ttl_s`` seconds (``clock`` is
    monotonic seconds). A load that began before a :meth:`forget` is returned but not kept, so a
    write in this process is seen by the next read."""

    def __init__(self, ttl_s: float = LOCAL_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, tuple[RateLimit, ...]]] = {}
        self._generation = 0

    def get(self, company_id: int, load: Callable[[], tuple[RateLimit, ...]]):
        now = self.clock()
        entry = self._entries.get(company_id)
        if entry is not None and now < entry[0]:
            return entry[1]
        generation = self._generation
        try:
            limits = load()
        except Exception as exc:
            if entry is None:
                raise
            # The database and Redis both failing: the last known limits hold (sending on with
            # none would be the unsafe side), and the next try waits a TTL, not every send.
            log.warning(
                "rate limits unreadable, keeping the last known ones",
                extra={"company_id": company_id, "campaign_id": None, "error": repr(exc)},
            )
            limits = entry[1]
        with self._lock:
            if generation == self._generation:
                self._entries[company_id] = (now + self.ttl_s, limits)
        return limits

    def get_many(
        self,
        company_ids: Iterable[int],
        load: Callable[[list[int]], dict[int, tuple[RateLimit, ...]]],
    ) -> dict[int, tuple[RateLimit, ...]]:
        """:meth:`get` for many companies: those not kept fresh are loaded together, by one
        call of ``load`` (their ids) that returns each one's limits (a company without any
        may be left out: it has none)."""
        now = self.clock()
        found, missing = {}, []
        for company_id in dict.fromkeys(company_ids):
            entry = self._entries.get(company_id)
            if entry is not None and now < entry[0]:
                found[company_id] = entry[1]
            else:
                missing.append(company_id)
        if not missing:
            return found
        generation = self._generation
        try:
            loaded = load(missing)
        except Exception:
            stale = {c: self._entries.get(c) for c in missing}
            if any(e is None for e in stale.values()):
                raise
            log.warning("rate limits unreadable, keeping the last known ones")
            return found | {c: e[1] for c, e in stale.items()}
        fresh = {c: loaded.get(c, ()) for c in missing}
        with self._lock:
            if generation == self._generation:
                for company_id, limits in fresh.items():
                    self._entries[company_id] = (now + self.ttl_s, limits)
        return found | fresh

    def forget(self, company_id: int | None = None) -> None:
        """Drop one company's copy (None: every company's)."""
        with self._lock:
            self._generation += 1
            if company_id is None:
                self._entries.clear()
            else:
                self._entries.pop(company_id, None)


#: This process's copy, shared by every thread.
_process = LocalLimits()
_default: QueryCache | None = None
_default_lock = threading.Lock()


def default_cache() -> QueryCache:
    """The query cache of this process, from the environment (REDIS_URL, REDIS_PREFIX,
    QUERY_CACHE_TTL_S), as every zapx process has validated it at start."""
    global _default
    if _default is None:
        config = load_config()
        with _default_lock:
            if _default is None:
                _default = QueryCache(
                    get_redis(config.redis_url), config.redis_prefix, config.query_cache_ttl_s
                )
    return _default


def _load(company_id: int, cache: QueryCache) -> tuple[RateLimit, ...]:
    def compute() -> list[list]:
        with db.connection_context():
            return [[r.kind, r.limit, r.period_s] for r in _stored(company_id)]

    raw = cache.get_or_compute(company_id, NAMESPACE, (), compute)
    return tuple(RateLimit(kind, limit, period) for kind, limit, period in json.loads(raw))


def limits_for(
    company_id: int, *, cache: QueryCache | None = None, local: LocalLimits | None = None
) -> tuple[RateLimit, ...]:
    """The company's limits in :data:`KINDS` order; empty when it has none (nothing limited).

    Cheap enough for every send: this process's copy when it is under :data:`LOCAL_TTL_S` old,
    else one Redis script call, else a query (its own connection scope; nests in a caller's).
    """
    if isinstance(company_id, bool) or not isinstance(company_id, int) or company_id <= 0:
        raise ValueError(f"a company id is a positive integer, got {company_id!r}")
    store = local or _process
    return store.get(company_id, lambda: _load(company_id, cache or default_cache()))


def limits_for_many(company_ids: Iterable[int]) -> dict[int, tuple[RateLimit, ...]]:
    """:func:`limits_for` of many companies (a chunk of first batches, one company each): this
    process's copies when fresh, else one query for all the others (not one Redis call and a
    query each: at a mass start no company's limits are cached yet). Callers hold a
    connection scope."""
    return _process.get_many(company_ids, _stored_many)


def _stored_many(company_ids: list[int]) -> dict[int, tuple[RateLimit, ...]]:
    rows = CompanyRateLimit.select(
        CompanyRateLimit.company,
        CompanyRateLimit.kind,
        CompanyRateLimit.max_sends,
        CompanyRateLimit.period_s,
    ).where(CompanyRateLimit.company.in_(company_ids))
    by_company: dict[int, list[RateLimit]] = {}
    for r in rows:
        by_company.setdefault(r.company_id, []).append(RateLimit(r.kind, r.max_sends, r.period_s))
    return {c: _ordered(limits) for c, limits in by_company.items()}


def forget_local() -> None:
    """Drop this process's copies (tests whose company ids restart; an operator's reload)."""
    _process.forget()
