"""The concurrent loop's handling of the gate's answers and the providers' (a scripted gate, a
scripted multi handle: no Redis, no network): what a throttle, a pause, a long wait and a lost
Redis do with requests in flight."""

from __future__ import annotations

import json
import time

import pytest
import redis

from tests.zapx.campaigns.scripted import Gate, claim, context, row
from zapx import rate_limits
from zapx.campaigns import flags, sending, window
from zapx.engine.messages import Stop
from zapx.providers import SENT, THROTTLE, HttpRequest, HttpResponse, SendResult
from zapx.redis import Keys
from zapx.schedule import GrantMany, Stopped, Wait


class ManyGate(Gate):
    """``acquire_many`` from a script (default: grant all asked); records each call."""

    def acquire_many(self, wa, company, campaign, recipients, settings, limits, progress, before,
                     outcomes=()):  # fmt: skip
        self.calls.append(("many", before, len(recipients), [json.loads(o)[0] for o in outcomes]))
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer or GrantMany(time.time(), len(recipients))


class Multi:
    """A multi handle whose requests complete in the order added, ``per_wait`` a wait()."""

    def __init__(self, per_wait=1):
        self.per_wait, self.flying, self.peak, self.added = per_wait, [], 0, []

    @property
    def in_flight(self):
        return len(self.flying)

    def add(self, tag, request):
        assert len(self.flying) < window.MAX_IN_FLIGHT
        self.flying.append((tag, request))
        self.added.append(tag)
        self.peak = max(self.peak, len(self.flying))

    def wait(self, timeout_s):
        done, self.flying = self.flying[: self.per_wait], self.flying[self.per_wait :]
        return [(tag, HttpResponse(200, request.body)) for tag, request in done]


class Provider:
    """request/result with answers scripted by recipient (default: sent)."""

    outbound = object()

    def __init__(self, results=None):
        self.results = results or {}

    def request(self, message):
        return HttpRequest("http://x", message.to.encode(), ())

    def result(self, answer):
        return self.results.get(answer.body.decode(), SendResult(SENT, "wamid"))


@pytest.fixture
def env(monkeypatch):
    """The progress writes recorded; ``multi`` the loop's handle."""
    calls = {"pushed": [], "end": [], "waiting": []}
    monkeypatch.setattr(
        flags,
        "push_outcomes",
        lambda c, k, company, batch, outcomes, ttl, expire=True: calls["pushed"].append(
            [o.row_id for o in outcomes]
        ),
    )
    monkeypatch.setattr(sending, "drain", lambda client: None)
    monkeypatch.setattr(
        flags,
        "record_outcomes",
        lambda c, k, company, batch, outcomes, ttl: calls["end"].append(
            [o.row_id for o in outcomes]
        ),
    )
    monkeypatch.setattr(
        flags, "note_waiting", lambda c, k, cid, reason, ttl: calls["waiting"].append(reason)
    )
    monkeypatch.setattr(rate_limits, "limits_for", lambda company_id: ())
    multi = Multi()
    monkeypatch.setattr(window, "concurrent", lambda outbound, n: multi)
    calls["multi"] = multi
    return calls


def _sender(gate, provider, rows=20):
    return window.WindowSender(
        claim(rows),
        context(provider),
        redis=None,
        keys=Keys("window-test:"),
        gate=gate,
        deadline=time.monotonic() + 30,
        progress_ttl_s=60,
    )


def test_the_window_refills_at_half_and_each_call_carries_the_outcomes(env):
    gate = ManyGate([])
    report, outcomes = _sender(gate, Provider(), rows=20).run()
    assert report.stop is None and report.sent == 20
    assert env["multi"].peak == window.MAX_IN_FLIGHT
    # 8 first, then 4 each time four have come back; answered one at a time, the first three
    # are pushed at once (a wait follows), the fourth goes with the gate call that follows it.
    assert [c[1:3] for c in gate.calls] == [(0, 8), (8, 4), (12, 4), (16, 4)]
    assert env["pushed"][:3] == [[1], [2], [3]] and gate.calls[1][3] == [4]
    # Answers no call follows at once are pushed right away: every row's outcome is written
    # before the next wait, by a push or by a gate call.
    written = [r for c in gate.calls for r in c[3]] + [r for p in env["pushed"] for r in p]
    written += [r for e in env["end"] for r in e]
    assert sorted(written) == list(range(1, 21))


def test_a_throttle_stops_new_requests_and_the_ones_in_flight_are_recorded(env):
    gate = ManyGate([])
    provider = Provider({row(3).number: SendResult(THROTTLE, error="429", retry_after_s=2.0)})
    report, outcomes = _sender(gate, provider, rows=20).run()
    assert report.stop == Stop.THROTTLE and report.retry_after_s == 2.0
    assert len(gate.calls) == 1  # nothing asked after the throttle
    assert env["multi"].added == list(range(8))
    assert sorted(o.row_id for o in outcomes) == list(range(1, 9))  # the 8 in flight recorded
    assert gate.throttles == [(2.0, 80.0)]


def test_a_pause_lets_the_requests_in_flight_finish_and_records_them(env):
    gate = ManyGate([None, Stopped(time.time())])
    report, outcomes = _sender(gate, Provider(), rows=20).run()
    assert report.stop == Stop.STOPPED
    assert len(outcomes) == 8 and {o.status for o in outcomes} == {"sent"}
    assert gate.calls[1][1] == 8  # the call that was Stopped asked from row 8 on


def test_a_long_wait_gives_the_rows_not_granted_back_after_the_in_flight_ones(env):
    wait = Wait(time.time() + 60, 60.0, "daily limit")
    gate = ManyGate([None, wait])
    report, outcomes = _sender(gate, Provider(), rows=20).run()
    assert report.stop == Stop.WAIT and report.retry_after_s == 60.0
    assert [o.status for o in outcomes[:8]] == ["sent"] * 8
    assert [o.status for o in outcomes[8:]] == ["throttled"] * 12
    assert env["waiting"] == ["daily limit"]


def test_redis_lost_mid_window_keeps_the_answers_in_flight_and_gives_the_rest_back(env):
    gate = ManyGate([None, redis.ConnectionError("Error 111")])
    report, outcomes = _sender(gate, Provider(), rows=20).run()
    assert report.stop == Stop.WAIT
    by_status = {}
    for o in outcomes:
        by_status.setdefault(o.status, []).append(o.row_id)
    # The 8 granted and answered are kept (sent, never resent); the 12 never granted go back.
    assert by_status == {"sent": list(range(1, 9)), "throttled": list(range(9, 21))}
