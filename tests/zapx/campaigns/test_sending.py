"""BatchSender's handling of the gate's answers, with a scripted gate and provider (no Redis
script, no network): what a Wait, a throttle and an exception do to the batch."""

from __future__ import annotations

import time

import pytest
import redis

from tests.zapx.campaigns.scripted import Gate, claim, context
from zapx import rate_limits
from zapx.campaigns import flags, sending
from zapx.engine.messages import Stop
from zapx.providers import AMBIGUOUS, PERMANENT, SENT, THROTTLE, TRANSIENT, SendResult
from zapx.redis import Keys
from zapx.schedule import Grant, Stopped, Wait


class Provider:
    def __init__(self, results=(), boom=False):
        self.results, self.boom, self.sent = list(results), boom, []

    def send(self, message):
        if self.boom:
            raise RuntimeError("provider exploded")
        self.sent.append(message.to)
        return self.results.pop(0) if self.results else SendResult(SENT, f"wamid.{message.to}")


@pytest.fixture
def progress(monkeypatch):
    """flags.before_send, record_outcomes and note_waiting recorded, the run flag always set."""
    calls = {"before_send": [], "waiting": [], "end": [], "pushed": []}

    def before_send(client, keys, company, campaign, generation, batch_id, started, outcomes, ttl):
        calls["before_send"].append((started, [o.row_id for o in outcomes]))
        return True

    monkeypatch.setattr(flags, "before_send", before_send)
    monkeypatch.setattr(
        flags,
        "push_outcomes",
        lambda c, k, company, batch, outcomes, ttl: calls["pushed"].append(
            [o.row_id for o in outcomes]
        ),
    )
    monkeypatch.setattr(sending, "drain", lambda client: calls["end"].append("drain"))
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
    return calls


def _sender(gate, provider, rows=3, interval=0.0, deadline_s=30.0):
    return sending.BatchSender(
        claim(rows),
        context(provider, interval),
        redis=None,
        keys=Keys("sending-test:"),
        gate=gate,
        deadline=time.monotonic() + deadline_s,
        progress_ttl_s=60,
    )


def test_an_unpaced_send_costs_one_gate_call_and_its_outcome_leaves_at_once(progress):
    gate = Gate([])
    report, outcomes = _sender(gate, Provider()).run()
    assert report.stop is None and report.sent == 3
    # One gate call a row; each outcome pushed right after its answer, its reply read later.
    assert gate.calls == [("gate", 1, []), ("gate", 2, []), ("gate", 3, [])]
    assert progress["pushed"] == [[1], [2], [3]]
    assert progress["before_send"] == [] and progress["end"] == [[], "drain"]


def test_a_paced_outcome_goes_to_the_progress_right_after_its_answer(progress):
    gate = Gate([])
    report, _ = _sender(gate, Provider(), interval=0.01).run()
    assert report.stop is None and report.sent == 3
    # A sleep comes before the next gate call: the outcome is written before it.
    assert gate.calls == [("gate", 1, []), ("gate", 2, []), ("gate", 3, [])]
    assert progress["before_send"] == [(1, [1]), (2, [2]), (3, [3])]
    assert progress["end"] == [[], "drain"] and progress["pushed"] == []


def test_a_short_wait_is_slept_and_the_row_then_sent(progress):
    gate = Gate([Wait(0, 0.05, "interval")])
    started = time.monotonic()
    report, _ = _sender(gate, Provider(), rows=1).run()
    assert time.monotonic() - started >= 0.05
    assert report.stop is None and report.sent == 1 and len(gate.acquired) == 2


def test_a_daily_limit_gives_the_rest_back_due_at_the_gates_time(progress):
    gate = Gate([Grant(0, 1, 0.0), Wait(0, 3600.0, "daily limit")])
    report, outcomes = _sender(gate, Provider(), rows=3).run()
    assert report.stop == Stop.WAIT and report.retry_after_s == 3600.0
    assert report.sent == 1 and report.retry == 2
    assert [(o.row_id, o.status, o.delay_s) for o in outcomes[1:]] == [
        (2, "throttled", 3600.0),
        (3, "throttled", 3600.0),
    ]
    assert progress["waiting"] == ["daily limit"]


def test_a_wait_past_the_deadline_ends_the_batch_at_once(progress):
    gate = Gate([Wait(0, 2.0, "provider cap")])
    started = time.monotonic()
    report, outcomes = _sender(gate, Provider(), rows=2, deadline_s=1.0).run()
    assert time.monotonic() - started < 0.5  # not slept: it would pass the deadline
    assert report.stop == Stop.WAIT and report.sent == 0
    assert [o.status for o in outcomes] == ["throttled", "throttled"]


def test_a_rate_limit_wait_backs_off_at_least_the_wait(progress):
    gate = Gate([Wait(0, 0.02, "rate limit whatsapp"), Wait(0, 0.02, "rate limit whatsapp")])
    started = time.monotonic()
    report, _ = _sender(gate, Provider(), rows=1).run()
    assert time.monotonic() - started >= 0.04
    assert report.sent == 1


def test_a_provider_throttle_slows_the_connection_for_every_sender(progress):
    gate = Gate([])
    provider = Provider([SendResult(THROTTLE, error="429", retry_after_s=2.0)])
    report, outcomes = _sender(gate, provider, rows=3).run()
    assert report.stop == Stop.THROTTLE and report.retry_after_s == 2.0
    assert gate.throttles == [(2.0, 80.0)]
    assert outcomes[0].status == "throttled" and len(outcomes) == 1


def test_a_spam_rate_limit_ends_the_batch_for_the_engine_to_pause(progress):
    """131048 is a throttle that stops the batch with Stop.SPAM and its reason; another code
    (130429) stays a plain throttle."""
    error = "400 131048: (#131048) Spam rate limit hit"
    spam = SendResult(THROTTLE, error=error, error_code="131048")
    provider = Provider([SendResult(SENT, message_id="m1"), spam])
    sender = _sender(Gate([]), provider, rows=4)
    paused = []
    sender.on_spam = paused.append  # the worker's pause, at once
    report, outcomes = sender.run()
    assert report.stop == Stop.SPAM and report.error == error
    assert paused == [error]
    assert [o.status for o in outcomes] == ["sent", "throttled"]  # rows 3, 4 never sent
    assert len(provider.sent) == 2
    other = Provider([SendResult(THROTTLE, error="400 130429: x", error_code="130429")])
    assert _sender(Gate([]), other, rows=2).run()[0].stop == Stop.THROTTLE


def test_a_paced_batch_gives_the_token_back_even_when_it_raises(progress):
    gate = Gate([])
    with pytest.raises(RuntimeError):
        _sender(gate, Provider(boom=True), interval=0.2).run()
    assert gate.released == ["batch:7"]
    assert gate.acquired[0][1] == "batch:7"


def test_an_unpaced_batch_takes_no_token(progress):
    gate = Gate([])
    _sender(gate, Provider(), interval=0.0).run()
    assert gate.released == [] and {holder for _, holder, _ in gate.acquired} == {""}


def test_a_pause_seen_by_the_gate_sends_nothing_more(progress):
    gate = Gate([Grant(time.time(), 1, 0.0), Stopped(time.time())])
    provider = Provider()
    report, outcomes = _sender(gate, provider, rows=3).run()
    assert report.stop == Stop.STOPPED and report.sent == 1
    assert provider.sent == ["5511900000001"] and len(gate.acquired) == 2
    assert progress["pushed"] == [[1]]  # the answered row's outcome, written at once


def test_a_pause_seen_after_a_paced_answer_asks_the_gate_for_nothing_more(progress, monkeypatch):
    running = {"flag": True}

    def before_send(client, keys, company, campaign, generation, batch_id, started, outcomes, ttl):
        progress["before_send"].append((started, [o.row_id for o in outcomes]))
        return running["flag"]

    monkeypatch.setattr(flags, "before_send", before_send)
    provider = Provider()
    real_send = provider.send

    def send_then_pause(message):
        running["flag"] = False  # the pause lands while the request is on the wire
        return real_send(message)

    provider.send = send_then_pause
    gate = Gate([])
    report, outcomes = _sender(gate, provider, rows=3, interval=0.01).run()
    assert report.stop == Stop.STOPPED and report.sent == 1
    # No grant spent on a row that would not leave (it would hold its recipient 6 s).
    assert len(gate.acquired) == 1 and provider.sent == ["5511900000001"]


class RedisGone(Gate):
    """Grants ``grants`` sends, then every call fails as with Redis stopped; so does release."""

    def __init__(self, grants: int):
        super().__init__([])
        self.grants = grants

    def acquire(self, *args, **kwargs):
        if len(self.acquired) >= self.grants:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379")
        return super().acquire(*args, **kwargs)

    def release(self, wa, company, holder, ago):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379")


@pytest.mark.parametrize("interval", [0.0, 0.01])
def test_redis_lost_mid_batch_returns_what_was_done_for_postgresql(progress, interval):
    # Before, the error left the batch claimed: after its lease the engine finished it from a
    # progress that a restarted Redis no longer had, and every row became unknown.
    provider = Provider()
    report, outcomes = _sender(RedisGone(2), provider, rows=4, interval=interval).run()
    assert provider.sent == ["5511900000001", "5511900000002"]
    assert [(o.row_id, o.status) for o in outcomes] == [
        (1, "sent"),
        (2, "sent"),
        (3, "throttled"),  # not sent: pending again, its attempt unused
        (4, "throttled"),
    ]
    assert outcomes[2].delay_s >= 1 and "redis unavailable" in outcomes[2].error
    assert report.stop == Stop.WAIT and report.sent == 2 and report.retry == 2


def test_redis_lost_after_a_paced_answer_keeps_that_answer(progress, monkeypatch):
    def before_send(*args):
        raise redis.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(flags, "before_send", before_send)
    report, outcomes = _sender(Gate([]), Provider(), rows=2, interval=0.01).run()
    assert [(o.row_id, o.status) for o in outcomes] == [(1, "sent"), (2, "throttled")]
    assert report.sent == 1


class Circuits:
    """Records the batch's one report to the breakers; trips the campaign breaker."""

    def __init__(self):
        self.reports = []

    def report(self, company_id, whatsapp_id, campaign_id, generation, batch_id, health):
        self.reports.append((company_id, whatsapp_id, campaign_id, batch_id, health))
        return "closed", "campaign breaker: 2 consecutive failures"


def test_the_breakers_get_one_report_a_batch_counting_only_their_failures(progress):
    results = [
        SendResult(SENT, "wamid.1"),
        SendResult(TRANSIENT, error="HTTP 503"),
        SendResult(PERMANENT, error="131026: not on WhatsApp"),
        SendResult(AMBIGUOUS, error="read timeout"),
        SendResult(PERMANENT, error="131026: not on WhatsApp"),
    ]
    sender = _sender(Gate([]), Provider(results), rows=5)
    sender.circuits = circuits = Circuits()
    report, _ = sender.run()
    [(company, wa, campaign, batch_id, health)] = circuits.reports
    assert (company, wa, campaign, batch_id) == (1, 2, 3, 7)
    # The connection: 5 answers, 2 of the transport; the campaign: 3 answers, 2 refused in a row.
    assert (health.calls, health.failures, health.error) == (5, 2, "read timeout")
    assert (health.sends, health.failed, health.tail, health.succeeded) == (3, 2, 2, True)
    assert report.breaker == "campaign breaker: 2 consecutive failures"


def test_a_throttle_counts_for_no_breaker(progress):
    sender = _sender(Gate([]), Provider([SendResult(THROTTLE, error="429")]), rows=2)
    sender.circuits = circuits = Circuits()
    report, _ = sender.run()
    assert report.stop == Stop.THROTTLE
    health = circuits.reports[0][4]
    assert (health.calls, health.failures, health.sends, health.failed) == (0, 0, 0, 0)
