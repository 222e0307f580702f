"""The send gate against the real Redis: every rule, across threads and processes."""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import random
import threading
import time

import pytest
from redis.crc import key_slot

from tests.zapx.schedule.hammer import child, run_threads
from zapx.campaigns.pacing import PacingSettings
from zapx.redis import Keys, get_redis
from zapx.schedule import Grant, Progress, SendGate, Stopped, Wait, backoff_s

UNPACED = PacingSettings(message_interval_s=0, jitter=0, max_per_s=10_000)
_ids = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class Limit:
    """The shape of ``zapx.rate_limits.RateLimit``."""

    kind: str
    limit: int
    period_s: float


@pytest.fixture
def env(redis_url, redis_prefix):
    """``(gate, client, company_id)``, a company of its own per test; its keys removed after."""
    client = get_redis(redis_url)
    keys = Keys(redis_prefix + "gate:")
    company_id = next(_ids) + random.randrange(10**6) * 1000
    yield SendGate(client, keys), client, company_id
    found = list(client.scan_iter(match=f"{keys.prefix}{{c{company_id}}}*"))
    if found:
        client.delete(*found)


def windows_max(times: list[float], width_s: float) -> int:
    """The most events in any half-open window ``[t, t + width_s)`` (worst: one starting at an
    event)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < t + width_s:
            j += 1
        best = max(best, j - i)
    return best


def until_granted(gate, *args, limit_s=5.0, **kwargs) -> tuple[Grant, list[Wait]]:
    waits = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        r = gate.acquire(*args, **kwargs)
        if isinstance(r, Grant):
            return r, waits
        waits.append(r)
        time.sleep(r.wait_s)
    raise AssertionError(f"no grant in {limit_s} s: {waits[-3:]}")


def test_gaps_hold_at_the_server_across_threads_and_processes(env, redis_url, redis_prefix):
    """3 processes x 3 threads and 3 threads here on one connection, interval 0.05 s, jitter 0,
    each request arriving 0-30 ms after its grant: every two consecutive arrivals (and
    departures) are at least 0.05 s apart."""
    gate, client, company = env
    settings = PacingSettings(message_interval_s=0.05, jitter=0, longer_interval_after=0)
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    common = (redis_url, gate.keys.prefix, company, 1, settings)
    children = [
        ctx.Process(target=child, args=(barrier, queue, *common, f"p{k}", 3, 1.5)) for k in range(3)
    ]
    for p in children:
        p.start()
    try:
        barrier.wait(timeout=60)  # every child has imported and connected: all start together
        start_at = time.time()
        records = run_threads(*common, "main", 3, start_at, start_at + 1.5)
        for _ in children:
            records += queue.get(timeout=30)[1]
    finally:
        for p in children:
            p.join(10)
            if p.is_alive():
                p.kill()
    records.sort(key=lambda r: r[1])
    arrivals = [r[1] for r in records]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(records) >= 15, len(records)
    assert min(gaps) >= 0.05, sorted(gaps)[:5]
    departures = sorted(r[0] for r in records)
    assert min(b - a for a, b in itertools.pairwise(departures)) >= 0.05
    assert len({r[2].split("t")[0] for r in records}) >= 3  # of the 4 processes
    assert len({r[2] for r in records}) >= 6  # and several threads: the token changed hands


def test_the_gap_counts_from_the_previous_departure_whoever_sends(env):
    """A new gate (an engine restart, another worker) still spaces its first message."""
    gate, client, company = env
    settings = PacingSettings(message_interval_s=0.3, jitter=0)
    first = gate.acquire(1, company, 1, "a", settings, holder="b1")
    assert isinstance(first, Grant)
    assert gate.release(1, company, "b1")
    other = SendGate(client, gate.keys)
    w = other.acquire(1, company, 2, "b", settings, holder="b2")
    assert isinstance(w, Wait) and w.reason == "interval"
    assert 0.25 < w.wait_s <= 0.3
    grant, _ = until_granted(other, 1, company, 2, "b", settings, holder="b2")
    assert grant.at_s - first.at_s >= 0.3


def test_jitter_stays_above_its_floor_and_varies(env):
    gate, client, company = env
    gate.rng = random.Random(3)
    settings = PacingSettings(message_interval_s=0.04, jitter=0.5, longer_interval_after=0)
    times, gaps_promised = [], []
    for i in range(12):
        g, _ = until_granted(gate, 1, company, 1, f"r{i}", settings, holder="b", completed_ago_s=0)
        times.append(g.at_s)
        gaps_promised.append(g.next_gap_s)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.02
    assert all(0.02 <= p < 0.06 for p in gaps_promised)
    assert max(gaps_promised) - min(gaps_promised) > 0.01  # drawn, not fixed
    for gap, promised in zip(gaps, gaps_promised, strict=False):
        assert gap >= promised


def test_a_holder_that_vanishes_frees_the_connection_when_its_lease_ends(env):
    gate, client, company = env
    short = SendGate(client, gate.keys, lease_s=0.2)
    settings = PacingSettings(message_interval_s=0.05, jitter=0)
    first = short.acquire(1, company, 1, "a", settings, holder="dead")
    w = short.acquire(1, company, 1, "b", settings, holder="alive")
    assert isinstance(w, Wait) and w.reason == "connection busy"
    assert short.state(1, company, settings).holder == "dead"
    grant, waits = until_granted(short, 1, company, 1, "b", settings, holder="alive")
    # counted as departed when the lease ended, then the gap
    assert grant.at_s - first.at_s >= 0.2 + 0.05
    assert not short.release(1, company, "dead")  # a late release changes nothing
    assert short.state(1, company, settings).holder == "alive"


def test_a_long_pause_after_every_five_sends_whichever_batch_sends(env):
    gate, client, company = env
    settings = PacingSettings(
        message_interval_s=0.02, jitter=0, longer_interval_after=5, greater_interval_s=0.25
    )
    times, reasons = [], []
    for i in range(16):
        holder = f"batch{i // 3}"  # a new batch every 3 sends: the count is not the batch's
        g, waits = until_granted(gate, 1, company, 1, f"r{i}", settings, holder=holder)
        if i % 3 == 2:
            gate.release(1, company, holder)
        times.append(g.at_s)
        reasons.append({w.reason for w in waits})
        assert g.sends_since_pause == i % 5 + 1
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for k, gap in enumerate(gaps, start=1):  # gap k is between send k and send k + 1
        if k % 5 == 0:
            assert gap >= 0.25, (k, gaps)
            assert "long pause" in reasons[k]
        else:
            assert 0.02 <= gap < 0.25, (k, gaps)
    assert gate.state(1, company, settings).sends_since_pause == 1


def test_the_provider_cap_holds_in_every_second_and_aimd_halves_it(env, redis_url):
    gate, client, company = env
    settings = PacingSettings(message_interval_s=0, jitter=0, max_per_s=20)
    start_at = time.time() + 0.05
    records = run_threads(
        redis_url,
        gate.keys.prefix,
        company,
        1,
        settings,
        "u",
        4,
        start_at,
        start_at + 2.2,
        max_delay_s=0,
    )
    grants = [r[3] for r in records]
    assert windows_max(grants, 1.0) == 20
    assert len(grants) >= 50  # 20 at once, then 20 a second: not an average
    # A throttle signal on connection 2, seen by every sender of it (another gate here).
    assert gate.throttled(2, company, 0.1, max_per_s=20) == 0.5
    other = SendGate(client, gate.keys)
    w = other.acquire(2, company, 1, "x", settings)
    assert isinstance(w, Wait) and w.reason == "throttled" and 0.05 < w.wait_s <= 0.1
    s = other.state(2, company, settings)
    assert s.throttle_signals == 1 and 0.5 <= s.throttle_factor < 0.51
    assert 10 <= s.rate_per_s < 10.2
    assert gate.state(1, company, settings).throttle_factor == 1.0
    time.sleep(0.1)
    start_at = time.time()
    records = run_threads(
        redis_url,
        gate.keys.prefix,
        company,
        2,
        settings,
        "v",
        4,
        start_at,
        start_at + 1.2,
        max_delay_s=0,
    )
    assert windows_max([r[3] for r in records], 1.0) <= 10
    assert len(records) >= 10
    assert gate.throttled(2, company, 0, max_per_s=20) == pytest.approx(0.25, abs=0.03)


def test_one_message_per_recipient_per_six_seconds_on_a_connection(env):
    gate, client, company = env
    first = gate.acquire(1, company, 1, "5511", UNPACED)
    assert isinstance(first, Grant)
    again = gate.acquire(1, company, 2, "5511", UNPACED)
    assert isinstance(again, Wait) and again.reason == "recipient pair"
    assert again.until_s == pytest.approx(first.at_s + 6.0, abs=1e-6)
    assert isinstance(gate.acquire(1, company, 1, "5522", UNPACED), Grant)  # another recipient
    assert isinstance(gate.acquire(2, company, 1, "5511", UNPACED), Grant)  # another connection


def test_the_daily_cap_counts_distinct_recipients_in_a_rolling_day(env):
    gate, client, company = env
    settings = dataclasses.replace(UNPACED, daily_cap=5)
    daily_key = gate._conn_keys(company, 1)[2]
    now_us = int(client.time()[0]) * 1_000_000
    seen_us = now_us - 10_000_000  # 10 s ago: in the window
    client.zadd(daily_key, {"gone": now_us - 86_401_000_000, "r0": seen_us})
    results = [gate.acquire(1, company, 1, f"r{i}", settings) for i in range(10)]
    granted = [i for i, r in enumerate(results) if isinstance(r, Grant)]
    assert granted == [0, 1, 2, 3, 4]  # r0 was already counted: 4 new ones fill the cap
    # A recipient stays in the window until a day after its latest message (r0's: just now).
    for r in results[5:]:
        assert isinstance(r, Wait) and r.reason == "daily limit"
        assert r.until_s == pytest.approx(results[0].at_s + 86_400, abs=1e-6)
    assert gate.state(1, company, settings).daily_sent == 5
    assert client.zcard(daily_key) == 5  # the stale entry trimmed, no refused one added


def test_gcra_never_lets_more_than_the_limit_into_any_window(env, redis_url):
    """6 per second (60/min scaled down), hammered by 4 threads for 2.2 s."""
    gate, client, company = env
    limits = (Limit("whatsapp", 6, 1.0),)
    start_at = time.time() + 0.05
    records = run_threads(
        redis_url,
        gate.keys.prefix,
        company,
        1,
        UNPACED,
        "g",
        4,
        start_at,
        start_at + 2.2,
        max_delay_s=0,
        limits=limits,
    )
    grants = sorted(r[3] for r in records)
    assert windows_max(grants, 1.0) <= 6
    assert len(grants) >= 13
    assert min(b - a for a, b in itertools.pairwise(grants)) >= 1 / 6 - 1e-6


def test_each_rate_limit_kind_has_its_own_key(env):
    gate, client, company = env
    contact, campaign, glob = (
        Limit("contact", 1, 60),
        Limit("campaign", 1, 60),
        Limit("global", 2, 60),
    )
    acq = gate.acquire
    assert isinstance(acq(1, company, 1, "a", UNPACED, [contact]), Grant)
    w = acq(2, company, 1, "a", UNPACED, [contact])  # the same person on another connection
    assert isinstance(w, Wait) and w.reason == "rate limit contact" and 59 < w.wait_s <= 60
    assert isinstance(acq(1, company + 1, 1, "a", UNPACED, [contact]), Grant)  # another company
    assert isinstance(acq(1, company, 7, "b", UNPACED, [campaign]), Grant)
    w = acq(2, company, 7, "c", UNPACED, [campaign])
    assert isinstance(w, Wait) and w.reason == "rate limit campaign"
    assert isinstance(acq(2, company, 8, "c", UNPACED, [campaign]), Grant)
    assert isinstance(acq(1, company, 1, "d", UNPACED, [glob]), Grant)
    w = acq(3, company, 9, "e", UNPACED, [glob])
    assert isinstance(w, Wait) and w.reason == "rate limit global" and 29 < w.wait_s <= 30
    gate_keys = list(client.scan_iter(match=f"{gate.keys.prefix}{{c{company}}}*"))
    assert len({key_slot(k) for k in gate_keys}) == 1  # one hash slot: runs on Redis Cluster
    client.delete(*client.scan_iter(match=f"{gate.keys.prefix}{{c{company + 1}}}*"))


def test_a_wait_consumes_nothing(env):
    gate, client, company = env
    paced = PacingSettings(message_interval_s=0.01, jitter=0, daily_cap=1000)
    limits = (Limit("whatsapp", 1000, 1), Limit("campaign", 1000, 1), Limit("global", 1, 60))
    assert isinstance(gate.acquire(1, company, 1, "a", paced, limits, "b1"), Grant)
    gate.release(1, company, "b1")
    time.sleep(0.02)

    def snapshot():
        found = sorted(client.scan_iter(match=f"{gate.keys.prefix}{{c{company}}}*"))
        return {k: client.dump(k) for k in found}

    before = snapshot()
    for i in range(5):  # refused by the global limit only: every other rule would pass
        w = gate.acquire(1, company, 2, f"new{i}", paced, limits, f"b{i + 2}")
        assert isinstance(w, Wait) and w.reason == "rate limit global"
    assert snapshot() == before
    s = gate.state(1, company, paced)
    assert (s.daily_sent, s.sends_since_pause, s.holder) == (1, 1, "")


def test_state_shows_the_schedule(env):
    gate, client, company = env
    settings = PacingSettings(
        message_interval_s=0.5, jitter=0, longer_interval_after=10, daily_cap=250, max_per_s=80
    )
    g = gate.acquire(4, company, 1, "a", settings, holder="b9")
    s = gate.state(4, company, settings)
    assert s.holder == "b9" and s.lease_until_s == pytest.approx(g.at_s + 30)
    assert s.last_departure_s == g.at_s and s.next_departure_s == pytest.approx(g.at_s + 0.5)
    assert s.waiting_because == "connection busy"
    assert (s.daily_sent, s.daily_cap, s.sends_since_pause, s.longer_interval_after) == (
        1,
        250,
        1,
        10,
    )
    assert (s.rate_per_s, s.throttle_factor, s.throttled_until_s) == (80.0, 1.0, None)
    gate.release(4, company, "b9")
    s = gate.state(4, company, settings)
    assert s.holder == "" and s.waiting_because == "interval"


def test_backoff_never_goes_before_the_scripts_time():
    rng = random.Random(1)
    for attempt in range(12):
        values = [backoff_s(attempt, 0.3, rng=rng) for _ in range(200)]
        assert min(values) >= 0.3
        assert max(values) < 0.3 + min(30.0, 0.05 * 2**attempt)
    assert max(backoff_s(8, 0.0, rng=rng) for _ in range(200)) > 5  # it grows


def test_senders_in_threads_share_one_connection_without_a_short_gap(env):
    """Eight threads of one process, 20 sends, jitter 0.2: the floor 0.8 x 0.03 s holds."""
    gate, client, company = env
    settings = PacingSettings(message_interval_s=0.03, jitter=0.2, longer_interval_after=0)
    times, lock = [], threading.Lock()

    def send(k):
        for i in range(3):
            g, _ = until_granted(gate, 1, company, 1, f"t{k}-{i}", settings, holder=f"t{k}")
            with lock:
                times.append(g.at_s)
            gate.release(1, company, f"t{k}")

    pool = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    times.sort()
    assert len(times) == 24
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.024


def _progress(gate, company, generation=2, batch_id=90):
    """A batch's progress under the gate's keys (``flags.gate_progress`` builds the same)."""
    tag = f"{{c{company}}}"
    return Progress(
        gate.keys.of(tag, "campaign", 5, "run"),
        generation,
        gate.keys.of(tag, "batch", batch_id, "started"),
        gate.keys.of(tag, "batch", batch_id, "outcomes"),
        60,
    )


def test_a_stopped_campaign_is_granted_nothing_and_the_token_goes_back(env):
    """The run-flag check and the grant are one step: a paused batch's call changes no rule's
    state (the recipient is not held 6 s, no gap is spent), still writes its outcomes, and gives
    the holder's token back, so the connection's next sender need not wait for the lease."""
    gate, client, company = env
    paced = PacingSettings(message_interval_s=0.01, jitter=0, daily_cap=1000)
    progress = _progress(gate, company)
    client.set(progress.flag_key, 2)
    first = gate.acquire(1, company, 5, "a", paced, (), "b1", progress=progress, started=1)
    assert isinstance(first, Grant) and client.get(progress.started_key) == b"1"
    client.delete(progress.flag_key)  # paused while row 1 was on the wire

    def snapshot():
        found = sorted(client.scan_iter(match=f"{gate.keys.prefix}{{c{company}}}*wa*"))
        return {k: client.dump(k) for k in found if not k.endswith(b":gate")}

    before = snapshot()
    stopped = gate.acquire(
        1, company, 5, "b", paced, (), "b1", 0.0, progress=progress, started=2, outcomes=["[1]"]
    )
    assert isinstance(stopped, Stopped)
    assert snapshot() == before  # no departure logged, no pair key, no daily recipient
    assert client.get(progress.started_key) == b"1"  # row 2 never started
    assert client.lrange(progress.outcomes_key, 0, -1) == [b"[1]"]
    assert gate.state(1, company, paced).holder == ""
    # Another batch of the connection is granted at once (recipient "b" not held by the pair
    # rule), not after the 30 s lease.
    time.sleep(0.02)
    assert isinstance(gate.acquire(1, company, 6, "b", paced, (), "b2"), Grant)


def test_a_batch_of_another_generation_is_stopped_and_a_wait_still_writes_outcomes(env):
    gate, client, company = env
    progress = _progress(gate, company, generation=2)
    client.set(progress.flag_key, 3)  # restarted: generation 3 runs
    assert isinstance(gate.acquire(1, company, 5, "a", UNPACED, (), progress=progress), Stopped)
    client.set(progress.flag_key, 2)
    limits = (Limit("global", 1, 60),)
    assert isinstance(gate.acquire(1, company, 5, "a", UNPACED, limits), Grant)
    wait = gate.acquire(
        1, company, 5, "b", UNPACED, limits, progress=progress, started=1, outcomes=["[7]", "[8]"]
    )
    assert isinstance(wait, Wait) and wait.reason == "rate limit global"
    assert client.lrange(progress.outcomes_key, 0, -1) == [b"[7]", b"[8]"]
    assert client.get(progress.started_key) is None  # not granted: nothing started
    assert 0 < client.ttl(progress.outcomes_key) <= 60
