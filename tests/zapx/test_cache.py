"""zapx.cache on the real Redis: hits, versioned invalidation, tenants, TTL, Redis down."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from zapx import cache
from zapx.cache import QueryCache


@pytest.fixture
def client(redis_url):
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def prefix(client):
    """A key prefix of this test only, its keys deleted afterwards."""
    value = f"zapx:test-cache:{uuid.uuid4().hex[:10]}:"
    yield value
    keys = list(client.scan_iter(match=value + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def down():
    """A client of a port nobody listens on: every command fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = redis.Redis(
        port=port, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    yield client
    cache.resume(client)


class Counter:
    """A ``compute`` that counts its calls and returns a different page each time."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"records": [{"name": "José"}], "count": self.calls, "hasMore": False}


def test_miss_then_hit_returns_the_stored_bytes(client, prefix):
    compute = Counter()
    first = cache.get_or_compute(client, prefix, 1, "contacts", ("maria", 1), compute)
    second = cache.get_or_compute(client, prefix, 1, "contacts", ("maria", 1), compute)
    assert compute.calls == 1
    assert (
        first == second == '{"records": [{"name": "José"}], "count": 1, "hasMore": false}'.encode()
    )
    assert cache.stats(client, prefix)["contacts"] == {"hit": 1, "miss": 1, "invalidation": 0}


def test_key_layout_and_ttl(client, prefix):
    cache.get_or_compute(client, prefix, 7, "contacts", ("ana", 2), Counter(), ttl_s=60)
    keys = {k.decode() for k in client.scan_iter(match=prefix + "cache:7:*")}
    assert keys == {cache.entry_key(prefix, 7, "contacts", 0, ("ana", 2))}
    assert next(iter(keys)).startswith(f"{prefix}cache:7:contacts:0:")
    assert 55 < client.ttl(next(iter(keys))) <= 60
    cache.bump(client, prefix, 7, "contacts")
    assert client.get(cache.version_key(prefix, 7, "contacts")) == b"1"
    assert cache.version_key(prefix, 7, "contacts") == f"{prefix}cache:7:contacts:v"


def test_other_parameters_are_other_entries(client, prefix):
    compute = Counter()
    for parts in (("maria", 1), ("maria", 2), ("mari", 1), ("maria", 1)):
        cache.get_or_compute(client, prefix, 1, "contacts", parts, compute)
    assert compute.calls == 3


def test_bump_invalidates_the_namespace_only(client, prefix):
    contacts, lists = Counter(), Counter()
    cache.get_or_compute(client, prefix, 1, "contacts", ("a", 1), contacts)
    cache.get_or_compute(client, prefix, 1, "lists", ("a", 1), lists)
    cache.bump(client, prefix, 1, "contacts")
    after = cache.get_or_compute(client, prefix, 1, "contacts", ("a", 1), contacts)
    cache.get_or_compute(client, prefix, 1, "lists", ("a", 1), lists)
    assert (contacts.calls, lists.calls) == (2, 1)
    assert b'"count": 2' in after


def test_companies_have_separate_entries_and_versions(client, prefix):
    one, two = Counter(), Counter()
    a = cache.get_or_compute(client, prefix, 1, "contacts", ("maria", 1), one)
    b = cache.get_or_compute(client, prefix, 2, "contacts", ("maria", 1), two)
    assert (one.calls, two.calls) == (1, 1)  # company 2 did not get company 1's entry
    cache.bump(client, prefix, 2, "contacts")  # a write of company 2
    assert cache.get_or_compute(client, prefix, 1, "contacts", ("maria", 1), one) == a
    assert one.calls == 1
    assert cache.get_or_compute(client, prefix, 2, "contacts", ("maria", 1), two) != b
    assert two.calls == 2
    assert client.get(cache.version_key(prefix, 1, "contacts")) is None


def test_entries_expire_with_their_ttl(client, prefix):
    compute = Counter()
    cache.get_or_compute(client, prefix, 1, "contacts", ("x", 1), compute, ttl_s=1)
    cache.get_or_compute(client, prefix, 1, "contacts", ("x", 1), compute, ttl_s=1)
    assert compute.calls == 1
    time.sleep(1.1)
    cache.get_or_compute(client, prefix, 1, "contacts", ("x", 1), compute, ttl_s=1)
    assert compute.calls == 2


def test_a_write_during_the_computation_is_never_served_stale(client, prefix):
    """The version is read before the query: a result computed while a write commits and bumps
    is stored under the retired version, so the next read computes again."""
    calls = []

    def compute_racing_a_write():
        calls.append(1)
        if len(calls) == 1:
            cache.bump(client, prefix, 1, "contacts")  # the write commits mid-computation
            return {"count": "before the write"}
        return {"count": "after the write"}

    cache.get_or_compute(client, prefix, 1, "contacts", ("t", 1), compute_racing_a_write)
    again = cache.get_or_compute(client, prefix, 1, "contacts", ("t", 1), compute_racing_a_write)
    assert again == b'{"count": "after the write"}'


def test_disabled_cache_computes_every_time(client, prefix):
    compute = Counter()
    for _ in range(2):
        cache.get_or_compute(client, prefix, 1, "contacts", ("a", 1), compute, ttl_s=0)
        cache.get_or_compute(None, prefix, 1, "contacts", ("a", 1), compute)
    assert compute.calls == 4
    assert list(client.scan_iter(match=prefix + "*")) == []
    cache.bump(None, prefix, 1, "contacts")  # no client: nothing to do, no error


def test_redis_down_serves_computed_results_and_never_raises(down, prefix):
    compute = Counter()
    before = cache.stats(None, prefix)
    started = time.monotonic()
    first = cache.get_or_compute(down, prefix, 1, "contacts", ("a", 1), compute)
    second = cache.get_or_compute(down, prefix, 1, "contacts", ("a", 1), compute)
    cache.bump(down, prefix, 1, "contacts")
    assert b'"count": 1' in first and b'"count": 2' in second
    after = cache.stats(down, prefix)
    assert "contacts" not in after
    assert after["errors"] - before["errors"] == 2  # the failed read, the failed bump
    assert after["bypassed"] - before["bypassed"] == 1  # paused after the first failure
    assert time.monotonic() - started < 3


def test_query_cache_object(client, prefix):
    qc = QueryCache(client, prefix, ttl_s=30)
    compute = Counter()
    qc.get_or_compute(5, "contacts", ("a", 1), compute)
    qc.get_or_compute(5, "contacts", ("a", 1), compute)
    qc.bump(5, "contacts")
    qc.get_or_compute(5, "contacts", ("a", 1), compute)
    assert compute.calls == 2
    off = QueryCache(client, prefix, ttl_s=0)
    off.get_or_compute(5, "contacts", ("a", 1), compute)
    assert compute.calls == 3
