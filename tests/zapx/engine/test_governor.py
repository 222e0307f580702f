"""zapx.engine.governor: the AIMD rule driven by synthetic load, on a fake clock.

A load spike cuts the budget by half per cooldown down to the floor (fast), calm grows it back by
one batch per sample (slowly); cuts are at most one per cooldown; the budget never falls below
one batch per company with live work; an unmeasured signal never counts as load.
"""

from __future__ import annotations

import dataclasses

import pytest

from zapx.config import Config
from zapx.engine.governor import (
    CUT,
    FLOOR,
    GROW,
    SIGNALS,
    Governor,
    LoadSample,
    Pressure,
    Thresholds,
    pressure,
)
from zapx.engine.live import Budget

INTERVAL_S = 5.0  # the default GOVERNOR_INTERVAL_S
THRESHOLDS = Thresholds.from_config(Config())
CALM = LoadSample(
    cpu_percent=30.0,
    memory_percent=40.0,
    queue_depth=3,
    oldest_message_age_s=0.4,
    db_latency_ms=0.8,
    redis_latency_ms=0.2,
)
BUSY = dataclasses.replace(CALM, cpu_percent=99.0)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


def governor(clock, maximum=64, cooldown_s=15.0) -> Governor:
    return Governor(maximum, THRESHOLDS, cooldown_s, clock)


def run(gov: Governor, clock: FakeClock, load, seconds: float, active: int = 1) -> list[int]:
    """Feed ``load(t)`` (t: seconds since the start of this run) every INTERVAL_S for
    ``seconds``; the total after each sample."""
    totals = []
    start = clock.now
    for step in range(int(seconds / INTERVAL_S)):
        clock.now = start + step * INTERVAL_S
        gov.update(load(clock.now - start), active)
        totals.append(gov.total)
    clock.now = start + seconds
    return totals


def test_the_budget_falls_fast_and_recovers_slowly(clock):
    gov = governor(clock)
    # 60 s of overload, then calm: four companies have live work.
    fallen = run(gov, clock, lambda t: BUSY, 60, active=4)
    # One cut per 15 s cooldown: 64 -> 32 -> 16 -> 8 -> 4, the floor, in 45 s (samples 0,3,6,9).
    assert fallen == [32, 32, 32, 16, 16, 16, 8, 8, 8, 4, 4, 4]
    recovered = run(gov, clock, lambda t: CALM, 400, active=4)
    # +1 a sample: 60 samples (300 s) from the floor back to ENGINE_BUDGET, and no further.
    assert recovered[:3] == [5, 6, 7]
    assert recovered.index(64) == 59
    assert recovered[59:] == [64] * (len(recovered) - 59)


def test_a_synthetic_load_that_follows_the_budget_is_kept_under_its_threshold(clock):
    """CPU rises with the batches in flight (30 % idle + 2 % a batch): the governor saws
    between half the budget that trips 90 % and that budget (15..31), so the load stays under
    it (76 % on average over the hour)."""
    gov = governor(clock)

    def load(t: float) -> LoadSample:
        return dataclasses.replace(CALM, cpu_percent=30 + 2 * gov.total)

    totals = run(gov, clock, load, 3600, active=2)
    settled = totals[60:]  # after the first fall
    assert max(settled) <= 31  # 30 + 2 * 31 = 92: overloaded, cut at the next sample
    assert min(settled) >= 15  # a cut from 31 gives 15
    cpu = [30 + 2 * total for total in settled]
    assert sum(cpu) / len(cpu) < THRESHOLDS.cpu_percent


def test_cuts_are_at_most_one_per_cooldown(clock):
    gov = governor(clock, cooldown_s=15)
    change = gov.update(BUSY, active=1)
    assert (change.old, change.new, change.reason, change.over) == (64, 32, CUT, ("cpu_percent",))
    clock.now += 14.9
    assert gov.update(BUSY, active=1) is None  # held: the cut has not shown yet
    assert gov.total == 32
    clock.now += 0.1
    assert gov.update(BUSY, active=1).new == 16
    # Calm between cuts grows the total, but does not restart the cooldown.
    clock.now += 5
    assert gov.update(CALM, active=1).reason == GROW
    clock.now += 5
    assert gov.update(BUSY, active=1) is None
    assert gov.total == 17


def test_never_below_one_batch_per_company_with_live_work(clock):
    gov = governor(clock, cooldown_s=1)
    totals = run(gov, clock, lambda t: BUSY, 600, active=10)
    assert min(totals) == 10 and totals[-1] == 10
    # More companies start: raised to the new floor at once, even under load.
    change = gov.update(BUSY, active=12)
    assert (change.old, change.new, change.reason) == (10, 12, FLOOR)
    # More companies than the maximum: one batch each, above ENGINE_BUDGET.
    change = gov.update(CALM, active=80)
    assert (change.new, change.reason) == (80, FLOOR)
    # They finish: back down to the maximum, then the floor holds no more.
    change = gov.update(CALM, active=3)
    assert (change.old, change.new, change.reason) == (80, 64, FLOOR)
    assert gov.update(CALM, active=3) is None
    # No company at all: still one batch.
    alone = governor(FakeClock(), maximum=4, cooldown_s=0)
    changes = [alone.update(BUSY, active=0) for _ in range(4)]
    assert [change and change.new for change in changes] == [2, 1, None, None]
    assert alone.total == 1


def test_each_signal_above_its_threshold_is_named(clock):
    assert pressure(CALM, THRESHOLDS) == Pressure(())
    for name in SIGNALS:
        at = dataclasses.replace(CALM, **{name: getattr(THRESHOLDS, name)})
        assert not pressure(at, THRESHOLDS).overloaded, name  # strictly above trips
        above = dataclasses.replace(CALM, **{name: getattr(THRESHOLDS, name) + 1})
        assert pressure(above, THRESHOLDS).over == (name,)
    both = dataclasses.replace(BUSY, redis_latency_ms=500.0)
    assert pressure(both, THRESHOLDS).over == ("cpu_percent", "redis_latency_ms")


def test_a_signal_not_measured_is_not_load(clock):
    """PostgreSQL or Redis down is the breakers' business: cutting then only slows the
    recovery."""
    gov = governor(clock)
    blind = LoadSample(None, None, None, None, None, None)
    assert not pressure(blind, THRESHOLDS).overloaded
    assert gov.update(blind, active=1) is None and gov.total == 64
    assert not pressure(dataclasses.replace(CALM, db_latency_ms=float("nan")), THRESHOLDS).over


def test_the_budget_takes_the_new_total_and_shares_it_again():
    budget = Budget(64)
    budget.share(3)
    assert budget.per_company == 21
    budget.set_total(8)
    assert (budget.total, budget.per_company) == (8, 2)
    budget.set_total(2)  # fewer batches than companies: still one each
    assert budget.per_company == 1
    budget.share(1)
    assert budget.per_company == 2
    with pytest.raises(ValueError, match="at least 1"):
        budget.set_total(0)
