"""zapx.rate_limits: validation, storage (all or nothing), tenancy, and the cached read that the
workers call (this process's copy, Redis, PostgreSQL) with its invalidation on write."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time

import pytest

from zapx import cache, rate_limits
from zapx.auth import Principal
from zapx.cache import QueryCache
from zapx.db import Company, CompanyRateLimit, Tenant, db
from zapx.errors import NotFound, ValidationError
from zapx.rate_limits import KINDS, LocalLimits, RateLimit, limits_for, parse_limits, put_limits
from zapx.redis import get_redis

WA = {"kind": "whatsapp", "limit": 60, "periodS": 60}
GLOBAL = {"kind": "global", "limit": 1000, "periodS": 3600.5}


@pytest.fixture
def qcache(config):
    return QueryCache(get_redis(config.redis_url), config.redis_prefix, 60)


@pytest.fixture
def companies(clean_db):
    with db.connection_context(), db.atomic():
        return Company.create(name="A").id, Company.create(name="B").id


def _put(company_id: int, limits: list, qcache, **kw) -> dict:
    with db.connection_context():
        return put_limits(Tenant(company_id), {"limits": limits}, cache=qcache, **kw)


def _rows() -> list[tuple]:
    with db.connection_context():
        return list(
            CompanyRateLimit.select(
                CompanyRateLimit.company, CompanyRateLimit.kind, CompanyRateLimit.max_sends,
                CompanyRateLimit.period_s, CompanyRateLimit.updated_at,
            ).order_by(CompanyRateLimit.id).tuples()
        )  # fmt: skip


# --- validation ----------------------------------------------------------------------------------


def test_kinds_and_the_limit_value():
    assert KINDS == ("whatsapp", "contact", "campaign", "global")
    limit = RateLimit("whatsapp", 60, 60.0)
    assert limit.interval_s == 1.0
    assert limit.as_json() == {"kind": "whatsapp", "limit": 60, "periodS": 60.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        limit.limit = 5  # type: ignore[misc]
    for bad in (("chat", 1, 1), ("global", 0, 1), ("global", True, 1), ("global", 1, 0.5)):
        with pytest.raises(ValueError):
            RateLimit(*bad)


def test_a_valid_body_parses_in_kind_order():
    body = {"limits": [GLOBAL, WA, {"kind": "contact", "limit": 1, "periodS": 86400}]}
    assert parse_limits(body) == (
        RateLimit("whatsapp", 60, 60.0),
        RateLimit("contact", 1, 86400.0),
        RateLimit("global", 1000, 3600.5),
    )
    assert parse_limits({"limits": []}) == ()
    # Keys it does not know are ignored, as elsewhere (a client may send back what it read).
    assert parse_limits({"limits": [WA | {"updatedAt": "x"}], "companyId": 9}) == (
        RateLimit("whatsapp", 60, 60.0),
    )


BAD = [
    ([], "limits", "request body must be"),
    ("x", "limits", "request body must be"),
    ({}, "limits", "request body must be"),
    ({"limits": {"kind": "whatsapp"}}, "limits", "limits must be an array"),
    ({"limits": None}, "limits", "limits must be an array"),
    ({"limits": ["whatsapp"]}, "limits[0]", "must be an object"),
    ({"limits": [WA, {**WA, "kind": "chat"}]}, "limits[1].kind", "must be one of: whatsapp"),
    ({"limits": [{"limit": 1, "periodS": 1}]}, "limits[0].kind", "(missing)"),
    ({"limits": [{**WA, "kind": 3}]}, "limits[0].kind", "must be one of"),
    ({"limits": [{**WA, "limit": 0}]}, "limits[0].limit", "positive integer"),
    ({"limits": [{**WA, "limit": -5}]}, "limits[0].limit", "positive integer"),
    ({"limits": [{**WA, "limit": 1.5}]}, "limits[0].limit", "positive integer"),
    ({"limits": [{**WA, "limit": "60"}]}, "limits[0].limit", "positive integer"),
    ({"limits": [{**WA, "limit": True}]}, "limits[0].limit", "positive integer"),
    ({"limits": [{**WA, "limit": 10**30}]}, "limits[0].limit", "at most 1000000"),
    ({"limits": [{"kind": "global", "limit": 1}]}, "limits[0].periodS", "from 1 to 86400"),
    ({"limits": [{**WA, "periodS": 0.5}]}, "limits[0].periodS", "from 1 to 86400"),
    ({"limits": [{**WA, "periodS": 86401}]}, "limits[0].periodS", "from 1 to 86400"),
    ({"limits": [{**WA, "periodS": "60"}]}, "limits[0].periodS", "number of seconds"),
    ({"limits": [{**WA, "periodS": float("nan")}]}, "limits[0].periodS", "number of seconds"),
    ({"limits": [{**WA, "periodS": 1e308}]}, "limits[0].periodS", "number of seconds"),
    ({"limits": [WA, GLOBAL, {**WA, "limit": 5}]}, "limits[2].kind", "repeats kind 'whatsapp'"),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD)
def test_each_bad_body_names_its_field(body, field, words):
    with pytest.raises(ValidationError) as caught:
        parse_limits(body)
    assert caught.value.field == field
    assert words in caught.value.message
    assert field.split("[")[0] in caught.value.message


# --- storage -------------------------------------------------------------------------------------


def test_put_replaces_the_set_and_get_reads_it(companies, qcache):
    a, b = companies
    with db.connection_context():
        assert rate_limits.get_limits(Tenant(a)) == {"companyId": a, "limits": []}
    answer = _put(a, [GLOBAL, WA], qcache)
    assert answer == {
        "companyId": a,
        "limits": [WA | {"periodS": 60.0}, GLOBAL],
    }
    first = _rows()
    assert [(r[0], r[1], r[2], r[3]) for r in first] == [
        (a, "whatsapp", 60, 60.0),
        (a, "global", 1000, 3600.5),
    ]
    # A kind left out is no longer limited; one given again is updated in place.
    answer = _put(a, [{**WA, "limit": 30}], qcache)
    assert answer["limits"] == [{"kind": "whatsapp", "limit": 30, "periodS": 60.0}]
    rows = _rows()
    assert [(r[1], r[2]) for r in rows] == [("whatsapp", 30)]
    assert rows[0][4] > first[0][4]  # updated_at moved
    _put(b, [GLOBAL], qcache)  # the other company's are its own
    assert _put(a, [], qcache) == {"companyId": a, "limits": []}
    assert [(r[0], r[1]) for r in _rows()] == [(b, "global")]


@pytest.mark.parametrize(("body", "field", "words"), BAD)
def test_a_bad_put_changes_nothing(companies, qcache, body, field, words):
    a, _ = companies
    _put(a, [WA, GLOBAL], qcache)
    before = _rows()
    cached = limits_for(a, cache=qcache)
    with db.connection_context(), pytest.raises(ValidationError):
        put_limits(Tenant(a), body, cache=qcache)
    assert _rows() == before
    assert limits_for(a, cache=qcache) == cached == parse_limits({"limits": [WA, GLOBAL]})


def test_the_database_refuses_what_the_api_refuses(companies):
    """The CHECK constraints: a writer other than the API cannot store an unusable limit."""
    a, _ = companies
    for kind, sends, period in (("chat", 1, 1), ("global", 0, 1), ("global", 1, 0.1)):
        refused = pytest.raises(Exception, match="check constraint")
        with db.connection_context(), refused, db.atomic():
            CompanyRateLimit.create(company=a, kind=kind, max_sends=sends, period_s=period)
    with db.connection_context(), pytest.raises(Exception, match="unique"), db.atomic():
        CompanyRateLimit.create(company=a, kind="global", max_sends=1, period_s=1)
        CompanyRateLimit.create(company=a, kind="global", max_sends=2, period_s=1)


def test_two_puts_at_once_leave_one_of_the_two_sets(companies, qcache):
    a, _ = companies
    sets = ([WA], [GLOBAL, {"kind": "contact", "limit": 1, "periodS": 6}])

    def put(limits, barrier, errors):
        try:
            barrier.wait(timeout=5)
            _put(a, limits, qcache)
        except BaseException as exc:  # reported below
            errors.append(exc)

    for _ in range(10):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=put, args=(s, barrier, errors)) for s in sets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert errors == []
        kinds = sorted(r[1] for r in _rows())
        assert kinds in (["whatsapp"], ["contact", "global"]), kinds


# --- tenancy -------------------------------------------------------------------------------------


def test_company_tenant(companies):
    a, b = companies
    admin = Principal(1, a, "admin", False, 0)
    root = Principal(2, b, "admin", True, 0)
    with db.connection_context():
        assert rate_limits.company_tenant(admin).company_id == a
        assert rate_limits.company_tenant(admin, "").company_id == a
        assert rate_limits.company_tenant(admin, str(a)).company_id == a
        with pytest.raises(NotFound):
            rate_limits.company_tenant(admin, str(b))
        assert rate_limits.company_tenant(root, str(a)).company_id == a
        assert rate_limits.company_tenant(root).company_id == b
        with pytest.raises(NotFound):
            rate_limits.company_tenant(root, "99999")
        with pytest.raises(ValidationError, match="companyId"):
            rate_limits.company_tenant(root, "x")


# --- the cached read -----------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_limits_is_an_empty_tuple_and_ids_are_checked(companies, qcache):
    a, _ = companies
    assert limits_for(a, cache=qcache) == ()
    for bad in (0, -1, True, "1", None):
        with pytest.raises(ValueError):
            limits_for(bad, cache=qcache)


def test_a_write_is_seen_at_once_in_this_process(companies, qcache):
    a, b = companies
    assert limits_for(a, cache=qcache) == ()  # now cached here and in Redis
    assert limits_for(b, cache=qcache) == ()
    _put(a, [WA], qcache)
    assert limits_for(a, cache=qcache) == (RateLimit("whatsapp", 60, 60.0),)
    _put(a, [GLOBAL], qcache)
    assert limits_for(a, cache=qcache) == (RateLimit("global", 1000, 3600.5),)
    assert limits_for(b, cache=qcache) == ()


def test_another_process_sees_a_write_within_its_ttl(companies, qcache):
    """``other`` stands for another process: a copy of its own, the same Redis."""
    a, _ = companies
    clock = Clock()
    other = LocalLimits(ttl_s=rate_limits.LOCAL_TTL_S, clock=clock)
    assert limits_for(a, cache=qcache, local=other) == ()
    _put(a, [WA], qcache)
    clock.now += rate_limits.LOCAL_TTL_S * 0.9
    assert limits_for(a, cache=qcache, local=other) == ()  # its copy is still under its TTL
    clock.now += rate_limits.LOCAL_TTL_S * 0.2
    assert limits_for(a, cache=qcache, local=other) == (RateLimit("whatsapp", 60, 60.0),)


def test_a_fresh_copy_reads_redis_not_the_database(companies, qcache, config):
    a, _ = companies
    _put(a, [WA], qcache)
    client = get_redis(config.redis_url)
    assert limits_for(a, cache=qcache, local=LocalLimits()) == (RateLimit("whatsapp", 60, 60.0),)
    hits = cache.stats(client, config.redis_prefix).get("rate_limits", {}).get("hit", 0)
    with db.connection_context():
        CompanyRateLimit.update(max_sends=7).execute()  # behind the cache's back
    assert limits_for(a, cache=qcache, local=LocalLimits()) == (RateLimit("whatsapp", 60, 60.0),)
    assert cache.stats(client, config.redis_prefix)["rate_limits"]["hit"] == hits + 1
    _put(a, [{**WA, "limit": 8}], qcache)  # the bump retires the Redis entry
    assert limits_for(a, cache=qcache, local=LocalLimits()) == (RateLimit("whatsapp", 8, 60.0),)


def test_a_load_that_began_before_a_write_is_not_kept():
    local = LocalLimits(ttl_s=60)
    old = (RateLimit("global", 1, 1.0),)

    def slow_old_read():
        local.forget(7)  # the write commits while this read is under way
        return old

    assert local.get(7, slow_old_read) == old
    new = (RateLimit("global", 2, 1.0),)
    assert local.get(7, lambda: new) == new  # the old answer was not kept


def test_the_last_known_limits_hold_while_nothing_can_be_read():
    clock = Clock()
    local = LocalLimits(ttl_s=1.0, clock=clock)
    known = (RateLimit("contact", 1, 6.0),)
    assert local.get(3, lambda: known) == known
    calls = []

    def down():
        calls.append(1)
        raise ConnectionError("database and Redis gone")

    clock.now += 2
    assert local.get(3, down) == known
    assert local.get(3, down) == known  # not retried on every call: once a TTL
    assert len(calls) == 1
    with pytest.raises(ConnectionError):
        local.get(4, down)  # nothing known: the caller decides


_CHILD = """
import json, sys, time
from zapx import rate_limits
from zapx.config import load_config
from zapx.db import init_db
config = load_config()
init_db(config.database_url, 2, application_name="zapx-test-limits")
company = int(sys.argv[1])
first = rate_limits.limits_for(company)
print(json.dumps({"ready": [r.as_json() for r in first]}), flush=True)
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    now = rate_limits.limits_for(company)
    if now != first:
        print(json.dumps({"at": time.time(), "limits": [r.as_json() for r in now]}), flush=True)
        break
    time.sleep(0.002)
"""


def test_a_real_other_process_sees_a_put_within_the_documented_time(companies, qcache, process_env):
    a, _ = companies
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(a)],
        env=process_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(child.stdout.readline()) == {"ready": []}
        _put(a, [WA], qcache)
        written = time.time()
        seen = json.loads(child.stdout.readline())
        assert seen["limits"] == [{"kind": "whatsapp", "limit": 60, "periodS": 60.0}]
        # The TTL, plus what the child's loop and a loaded machine add.
        assert seen["at"] - written <= rate_limits.LOCAL_TTL_S + 0.5
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
