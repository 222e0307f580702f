"""The shared breakers on the real Redis, each test under its own key prefix."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from zapx.circuits import Circuits, Health, Thresholds
from zapx.redis import Keys

COMPANY, WA, CAMPAIGN = 7, 3, 11


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def keys(client, redis_prefix):
    k = Keys(f"{redis_prefix}circuits-{uuid.uuid4().hex[:8]}")
    yield k
    for key in client.scan_iter(match=k.prefix + "*"):
        client.delete(key)


def make(client, keys, **over) -> Circuits:
    base = dict(min_calls=20, failure_rate=0.5, window_s=60, open_s=30, probe_lease_s=60)
    return Circuits(client, keys, Thresholds(**{**base, **over}))


def batch(calls=10, failures=0, *, sends=None, failed=None, tail=0, ok=True, error="HTTP 503"):
    return Health(
        calls=calls,
        failures=failures,
        error=error if failures else "",
        sends=calls if sends is None else sends,
        failed=failures if failed is None else failed,
        tail=tail,
        succeeded=ok,
        campaign_error=error,
    )


def report(c: Circuits, health: Health, batch_id=1, generation=1, campaign=CAMPAIGN):
    return c.report(COMPANY, WA, campaign, generation, batch_id, health)


def trip(c: Circuits) -> None:
    assert report(c, batch(10, 10))[0] == "closed"  # under the minimum of calls
    assert report(c, batch(10, 10))[0] == "open"


def test_trips_on_the_rate_only_past_the_minimum_of_calls(client, keys):
    c = make(client, keys)
    assert report(c, batch(10, 4))[0] == "closed"
    assert report(c, batch(9, 5))[0] == "closed"  # 9 of 19: under min calls
    assert c.check(COMPANY, WA).allowed
    assert report(c, batch(1, 1))[0] == "open"  # 10 of 20
    c._closed_until.clear()
    verdict = c.check(COMPANY, WA)
    assert not verdict.allowed and verdict.error == "HTTP 503"
    assert verdict.retry_at == pytest.approx(time.time() + 30, abs=2)


def test_permanent_errors_never_count_for_the_connection(client, keys):
    c = make(client, keys, campaign_failure_rate=1.0, campaign_consecutive=10_000)
    # Invalid numbers: failures of the campaign, not of the connection.
    for i in range(5):
        state, _ = report(c, batch(50, 0, failed=50, tail=50, ok=False), batch_id=i)
        assert state == "closed"
    [wa] = [b for b in c.listing([COMPANY]) if b["name"] == "whatsapp"]
    assert (wa["calls"], wa["failures"], wa["state"]) == (250, 0, "closed")


def test_half_open_lets_exactly_one_probe_through_across_processes(client, keys, redis_url):
    trip(make(client, keys, open_s=1))
    time.sleep(1.05)  # the open time passing, by Redis's clock
    verdicts, start = [], threading.Barrier(8)

    def racer():
        other = redis.Redis.from_url(redis_url)  # a process of its own: its own connection
        start.wait()
        verdicts.append(make(other, keys, open_s=1).check(COMPANY, WA))
        other.close()

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(v.allowed for v in verdicts) == 1
    assert [v.probe for v in verdicts if v.allowed] == [True]


def test_probe_success_closes_and_failure_reopens(client, keys):
    c = make(client, keys, open_s=1)
    trip(c)
    time.sleep(1.05)
    probe = c.check(COMPANY, WA)
    assert probe.probe
    c.bind_probe(COMPANY, WA, probe.token, 42)
    assert report(c, batch(5, 5), batch_id=41)[0] == "half_open"  # not the probe: counted only
    assert report(c, batch(5, 5), batch_id=42)[0] == "open"  # the probe failed
    assert not c.check(COMPANY, WA).allowed
    time.sleep(1.05)
    probe = c.check(COMPANY, WA)
    c.bind_probe(COMPANY, WA, probe.token, 43)
    assert report(c, batch(5, 0), batch_id=43)[0] == "closed"
    assert c.check(COMPANY, WA).allowed
    [wa] = [b for b in c.listing([COMPANY]) if b["name"] == "whatsapp"]
    assert (wa["state"], wa["calls"], wa["lastError"]) == ("closed", 0, "HTTP 503")


def test_a_dead_probe_lease_expires_and_another_probe_goes(client, keys):
    c = make(client, keys, open_s=1, probe_lease_s=1)
    trip(c)
    time.sleep(1.05)
    first = c.check(COMPANY, WA)
    assert first.probe
    assert not c.check(COMPANY, WA).allowed  # taken: its holder may still report
    time.sleep(1.05)  # the holder died
    second = c.check(COMPANY, WA)
    assert second.probe and second.token != first.token


def test_campaign_breaker_consecutive_and_rate(client, keys):
    c = make(client, keys, campaign_consecutive=50, campaign_failure_rate=0.8)
    assert report(c, batch(50, 0, failed=30, tail=30, ok=True))[1] == ""
    _, reason = report(c, batch(50, 0, failed=20, tail=20, ok=False))
    assert reason == "campaign breaker: 50 consecutive failures"
    # Once open, it does not pause again; a new generation starts over.
    assert report(c, batch(50, 0, failed=50, tail=50, ok=False))[1] == ""
    assert report(c, batch(50, 0, failed=49, tail=0, ok=True), generation=2)[1] == ""
    _, reason = report(c, batch(50, 0, failed=40, tail=0, ok=True), generation=2)
    assert reason == "campaign breaker: 89 of 100 sends failed"
