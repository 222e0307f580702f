"""zapx.breakers: when a breaker opens, how long it stays open, its one probe, and its state
as fields (on a clock the test moves)."""

from __future__ import annotations

import threading

import pytest

from zapx.breakers import Breaker, BreakerOpen, BreakerState, Policy, State


class Clock:
    def __init__(self, now: float = 1_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def breaker(**policy) -> tuple[Breaker, Clock, list]:
    clock, changes = Clock(), []
    b = Breaker(
        "dep",
        Policy(**policy),
        clock=clock,
        on_change=lambda br, old, new: changes.append((old, new)),
    )
    return b, clock, changes


def refused(b: Breaker) -> bool:
    try:
        b.before()
    except BreakerOpen:
        return True
    return False


def test_a_failure_rate_below_the_minimum_of_calls_keeps_it_closed():
    b, clock, _ = breaker(min_calls=5, failure_rate=0.5, consecutive=0)
    for _ in range(4):
        b.failure("down")
    assert b.state is State.CLOSED and not refused(b)
    b.failure("down")  # the fifth call: 5 of 5 failed
    assert b.state is State.OPEN and refused(b)


def test_it_opens_at_the_failure_rate_and_not_below():
    b, clock, _ = breaker(min_calls=10, failure_rate=0.5, consecutive=0)
    b.record(successes=6, failures=4)
    assert b.state is State.CLOSED  # 40 %
    b.record(failures=1)
    assert b.state is State.CLOSED  # 5 of 11 = 45 %
    b.record(failures=1)
    assert b.state is State.OPEN  # 6 of 12 = 50 %


def test_consecutive_failures_open_it_after_a_busy_window_of_successes():
    b, clock, _ = breaker(min_calls=3, failure_rate=0.5, consecutive=3)
    b.record(successes=10_000)
    b.failure("a")
    b.failure("b")
    assert b.state is State.CLOSED
    b.success()  # a success ends the run
    b.failure("c")
    b.failure("d")
    assert b.state is State.CLOSED
    b.failure("e")
    assert b.state is State.OPEN
    assert b.snapshot().last_error == "e"


def test_a_batch_with_a_success_ends_the_run_of_failures():
    b, _, _ = breaker(min_calls=1000, consecutive=3)
    b.record(failures=2)
    b.record(successes=1, failures=1)  # one failure in the run now, not three
    assert b.state is State.CLOSED
    b.record(failures=2)
    assert b.state is State.OPEN


def test_old_outcomes_leave_the_window():
    b, clock, _ = breaker(window_s=10, min_calls=4, failure_rate=0.5, consecutive=0)
    b.record(failures=3)
    clock.now += 25  # two windows later: nothing of that is left
    b.record(successes=1, failures=1)
    assert b.state is State.CLOSED
    assert b.snapshot().calls == 2


def test_the_previous_window_counts_by_how_much_of_it_still_overlaps():
    b, clock, _ = breaker(window_s=10, min_calls=1, failure_rate=0.6, consecutive=0)
    b.record(successes=10)
    clock.now += 15  # the next window, half way: the 10 successes weigh 5
    b.record(failures=7)  # 7 of 12 = 58 %
    assert b.state is State.CLOSED
    b.record(failures=1)  # 8 of 13 = 62 %
    assert b.state is State.OPEN


def test_open_then_one_probe_then_closed():
    b, clock, changes = breaker(consecutive=1, open_s=2, max_open_s=8)
    b.failure("down")
    assert refused(b)
    with pytest.raises(BreakerOpen) as refusal:
        b.before()
    assert refusal.value.retry_after_s == pytest.approx(2.0)
    clock.now += 2
    assert b.state is State.HALF_OPEN
    assert b.before() is True  # the probe
    assert refused(b)  # only one at a time
    b.success(probe=True)
    assert b.state is State.CLOSED and b.before() is False
    assert changes == [
        (State.CLOSED, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.CLOSED),
    ]


def test_each_failed_probe_doubles_the_open_time_up_to_the_maximum():
    b, clock, _ = breaker(consecutive=1, open_s=2, max_open_s=7)
    b.failure("down")
    opened = []
    for _ in range(4):
        opened.append(b.retry_after_s())
        clock.now += opened[-1]
        assert b.before() is True
        b.failure("still down", probe=True)
        assert b.state is State.OPEN
    assert opened == [2, 4, 7, 7]
    clock.now += 7
    assert b.before() is True
    b.success(probe=True)
    b.failure("again")  # closed since: the first open time again
    assert b.retry_after_s() == 2


def test_a_probe_that_never_reports_lets_another_probe_after_its_lease():
    b, clock, _ = breaker(consecutive=1, open_s=1, probe_lease_s=5)
    b.failure("down")
    clock.now += 1
    assert b.before() is True
    clock.now += 4.9
    assert refused(b)
    clock.now += 0.2
    assert b.before() is True


def test_late_outcomes_of_calls_made_while_closed_are_dropped():
    b, clock, _ = breaker(consecutive=1, open_s=1)
    b.failure("down")
    b.success()  # a call that had started before it opened
    assert b.state is State.OPEN
    clock.now += 1
    assert b.state is State.HALF_OPEN
    b.success()  # not the probe
    assert b.state is State.HALF_OPEN


def test_refuses_peeks_without_taking_the_probe():
    b, clock, _ = breaker(consecutive=1, open_s=1)
    assert not b.refuses()
    b.failure("down")
    assert b.refuses()
    clock.now += 1
    assert not b.refuses()
    assert not b.refuses()  # still nobody took the probe
    assert b.before() is True
    assert b.refuses()


def test_the_refusal_is_the_breakers_error_class():
    class Mine(BreakerOpen):
        pass

    b = Breaker("mine", Policy(consecutive=1), refuse=Mine)
    b.failure(ValueError("boom"))
    with pytest.raises(Mine) as refusal:
        b.before()
    assert refusal.value.breaker == "mine" and refusal.value.code == "ERR_UNAVAILABLE"
    assert b.snapshot().last_error == "ValueError: boom"


def test_the_state_round_trips_through_fields():
    b, clock, _ = breaker(consecutive=2)
    b.record(successes=3, failures=1, error="x")
    state = b._state
    again = BreakerState.from_fields({k.encode(): v.encode() for k, v in state.to_fields().items()})
    assert again == state
    b.record(failures=1)
    assert BreakerState.from_fields(b._state.to_fields()).state is State.OPEN
    assert BreakerState.from_fields({}) == BreakerState()


def test_threads_count_every_outcome():
    b = Breaker("dep", Policy(window_s=3600, min_calls=10**9, consecutive=0))

    def work():
        for _ in range(2000):
            b.success()
            b.failure("x")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = b.snapshot()
    assert (snap.calls, snap.failures) == (32_000, 16_000)
