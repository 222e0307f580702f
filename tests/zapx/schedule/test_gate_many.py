"""``SendGate.acquire_many`` (unpaced batches): one call grants what that many single acquires at
one instant would, and leaves every key as they would."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from tests.zapx.schedule.test_gate import Limit, windows_max
from zapx.campaigns.pacing import PacingSettings
from zapx.redis import Keys, get_redis
from zapx.schedule import Grant, GrantMany, Progress, SendGate, Stopped, Wait

_ids = itertools.count(1)


@pytest.fixture
def gates(redis_url, redis_prefix):
    """``(gate, client, company_a, company_b)``: two companies with key sets of their own, one
    for ``acquire_many``, one for the single calls it is compared with."""
    client = get_redis(redis_url)
    keys = Keys(redis_prefix + "many:")
    base = random.randrange(10**6) * 1000
    a, b = base + next(_ids), base + 500 + next(_ids)
    yield SendGate(client, keys), client, a, b
    for company in (a, b):
        found = list(client.scan_iter(match=f"{keys.prefix}{{c{company}}}*"))
        if found:
            client.delete(*found)


def _progress(gate, company, generation=2, batch_id=90):
    tag = f"{{c{company}}}"
    return Progress(
        gate.keys.of(tag, "campaign", 5, "run"),
        generation,
        gate.keys.of(tag, "batch", batch_id, "started"),
        gate.keys.of(tag, "batch", batch_id, "outcomes"),
        60,
    )


def _state(gate, client, company, progress):
    """Every rule's state of connection 1 and the batch's progress, without the company id or
    the times (the two key sets' calls run microseconds apart)."""
    g, log, daily, pair = gate._conn_keys(company, 1)
    found = [
        k.decode()
        for k in client.scan_iter(match=f"{gate.keys.prefix}{{c{company}}}*", count=10_000)
    ]
    pairs = sorted(k[len(pair) :] for k in found if k.startswith(pair))
    limits = sorted(k.split("rl:")[1] for k in found if ":rl:" in k)
    return {
        "log": client.llen(log),
        "pairs": pairs,
        "daily": sorted(m.decode() for m in client.zrange(daily, 0, -1)),
        "limits": limits,
        "started": client.get(progress.started_key),
        "outcomes": client.lrange(progress.outcomes_key, 0, -1),
        "hash": client.hgetall(g),
    }


def _singles(gate, company, recipients, settings, limits, progress, started_before):
    """What a serial batch does: one acquire per row until one is not granted."""
    m = 0
    answer = None
    for i, recipient in enumerate(recipients):
        answer = gate.acquire(
            1, company, 5, recipient, settings, limits, progress=progress,
            started=started_before + i + 1, outcomes=["[1]"] if i == 0 else (),
        )  # fmt: skip
        if not isinstance(answer, Grant):
            break
        m += 1
    return m, answer


CASES = {
    # name: (settings, limits, recipients sent before, the call's recipients, rows granted)
    "provider cap": (PacingSettings(0, 0, max_per_s=5), (), ["p", "q"], list("abcdefgh"), 3),
    "pair rule": (PacingSettings(0, 0, max_per_s=100), (), ["c"], list("abcdeaf"), 2),
    "duplicate": (PacingSettings(0, 0, max_per_s=100), (), [], list("abcdeaf"), 5),
    "daily cap": (
        PacingSettings(0, 0, max_per_s=100, daily_cap=4),
        (),
        ["x", "y"],
        ["x", "a", "b", "c", "d"],
        3,
    ),
    "rate limit": (
        PacingSettings(0, 0, max_per_s=100),
        (Limit("contact", 10, 60), Limit("global", 10, 1)),
        [],
        list("abcd"),
        1,
    ),
    "contact limit": (
        PacingSettings(0, 0, max_per_s=100),
        (Limit("contact", 1, 60),),
        ["c"],
        list("abcd"),
        2,
    ),
    "high cap": (PacingSettings(0, 0, max_per_s=5000), (), list("pqrstu"), list("abcdefgh"), 8),
    "all refused": (PacingSettings(0, 0, max_per_s=2), (), ["p", "q"], list("ab"), 0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_acquire_many_leaves_what_as_many_single_acquires_leave(gates, name):
    """Same rows granted and the same departure log length, pair keys, daily recipients, GCRA
    keys and rows started as successive single acquires on a second company's fresh keys."""
    gate, client, a, b = gates
    settings, limits, before, recipients, expected = CASES[name]
    states, answers = [], []
    for company in (a, b):
        progress = _progress(gate, company)
        client.set(progress.flag_key, 2)
        for r in before:
            assert isinstance(gate.acquire(1, company, 5, r, settings, limits), Grant)
        if name == "daily cap":  # sent more than 6 s ago: the pair rule passes them
            client.delete(*(gate._conn_keys(company, 1)[3] + r for r in before))
        if company == a:
            answer = gate.acquire_many(
                1, company, 5, recipients, settings, limits, progress, 4, ["[1]"]
            )
            m = answer.count if isinstance(answer, GrantMany) else 0
        else:
            m, answer = _singles(gate, company, recipients, settings, limits, progress, 4)
        answers.append((m, answer))
        states.append(_state(gate, client, company, progress))
    (m_many, many), (m_one, one) = answers
    assert m_many == m_one == expected
    assert states[0] == states[1]
    if expected == 0:
        assert isinstance(many, Wait) and isinstance(one, Wait)
        assert many.reason == one.reason == "provider cap"
        assert states[0]["started"] is None  # nothing granted: nothing started
    else:
        assert states[0]["started"] == str(4 + expected).encode()
    assert states[0]["outcomes"] == [b"[1]"]  # written whatever the call answers


def test_a_throttle_hold_and_a_stopped_campaign_grant_nothing(gates):
    gate, client, a, _ = gates
    settings = PacingSettings(0, 0, max_per_s=100)
    progress = _progress(gate, a)
    client.set(progress.flag_key, 3)  # another generation runs
    before = _state(gate, client, a, progress)
    stopped = gate.acquire_many(1, a, 5, ["a", "b"], settings, (), progress, 0, ["[9]"])
    assert isinstance(stopped, Stopped)
    after = _state(gate, client, a, progress)
    assert after["outcomes"] == [b"[9]"] and after["started"] is None
    assert {**after, "outcomes": []} == before
    client.set(progress.flag_key, 2)
    gate.throttled(1, a, 2.0, max_per_s=100)
    wait = gate.acquire_many(1, a, 5, ["a", "b"], settings, (), progress, 0)
    assert isinstance(wait, Wait) and wait.reason == "throttled" and 1.9 < wait.wait_s <= 2.0
    assert client.get(progress.started_key) is None


def test_the_aimd_factor_lowers_what_one_call_grants(gates):
    """After a throttle signal the rate is halved: a cap of 8 grants 4 in a second."""
    gate, client, a, _ = gates
    settings = PacingSettings(0, 0, max_per_s=8)
    progress = _progress(gate, a)
    client.set(progress.flag_key, 2)
    gate.throttled(1, a, 0.001, max_per_s=8)
    client.hset(gate._conn_keys(a, 1)[0], "hu", 0)  # the hold over, the factor kept
    answer = gate.acquire_many(1, a, 5, list("abcdefgh"), settings, (), progress, 0)
    assert isinstance(answer, GrantMany) and answer.count == 4


def test_the_provider_cap_holds_in_every_window_under_repeated_calls(gates):
    """Calls of up to 8 rows as fast as they are granted for 2.2 s at a cap of 20/s: no
    one-second window of grants holds more than 20."""
    gate, client, a, _ = gates
    settings = PacingSettings(0, 0, max_per_s=20)
    progress = _progress(gate, a)
    client.set(progress.flag_key, 2)
    times, started = [], 0
    deadline = time.monotonic() + 2.2
    while time.monotonic() < deadline:
        rows = [f"r{started + i}" for i in range(8)]
        answer = gate.acquire_many(1, a, 5, rows, settings, (), progress, started)
        if isinstance(answer, GrantMany):
            times += [answer.at_s] * answer.count
            started += answer.count
        else:
            assert answer.reason == "provider cap"
            time.sleep(answer.wait_s)
    assert windows_max(times, 1.0) <= 20
    assert len(times) >= 40  # about 2.2 s at 20/s
    assert client.get(progress.started_key) == str(started).encode()


def test_paced_settings_are_refused(gates):
    gate, _, a, _ = gates
    with pytest.raises(ValueError):
        gate.acquire_many(1, a, 5, ["a"], PacingSettings(1, 0), (), _progress(gate, a), 0)
