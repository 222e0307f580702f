"""The governor: load in, the engine's in-flight batch budget out (AIMD).

A plain class, no I/O: it is handed one :class:`LoadSample` at a time (``actors/engine/governor.py``
measures them every ``GOVERNOR_INTERVAL_S`` seconds) and the number of companies with live
work, and answers the budget's new total. The rule (docs/ENGINE.md, "The governor"):

- a sample is **overloaded** when any signal is above its threshold (:class:`Thresholds`;
  a signal that could not be measured, ``None``, counts as not over);
- overloaded: the total is cut to ``total * CUT_FACTOR`` (rounded down), at most once per
  ``cooldown_s`` seconds (a cut shows in the signals only once the batches already in flight
  are done; cutting again before that would overshoot);
- not overloaded: the total grows by ``GROW_STEP`` per sample, up to ``maximum``
  (``ENGINE_BUDGET``);
- never below the floor, one batch per company with live work (at least 1): a company with
  work always has a batch in flight, whatever the load.

Cut fast, grow slowly: from 64 to 4 takes four cuts (45 s at the defaults), back to 64 sixty
samples (300 s).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from zapx.config import Config

#: A cut multiplies the total by this.
CUT_FACTOR = 0.5
#: A sample that is not overloaded adds this many batches to the total.
GROW_STEP = 1


@dataclasses.dataclass(frozen=True)
class LoadSample:
    """One measurement of the load; ``None`` where a probe failed (its dependency down)."""

    #: CPU in use on the host since the previous sample, 0-100 (all cores).
    cpu_percent: float | None
    #: Memory in use on the host, 0-100.
    memory_percent: float | None
    #: Delivery messages waiting for a worker (the ``delivery`` and ``delivery_first`` queues).
    queue_depth: int | None
    #: Seconds since the oldest waiting delivery message was sent (0 when none waits).
    oldest_message_age_s: float | None
    #: Round trip of ``SELECT 1`` to PostgreSQL, ms.
    db_latency_ms: float | None
    #: Round trip of ``PING`` to Redis, ms.
    redis_latency_ms: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        """The signals by name (rounded), for a log line."""
        return {
            name: (round(value, 2) if isinstance(value, float) else value)
            for name, value in dataclasses.asdict(self).items()
        }


#: The signals, in LoadSample's order.
SIGNALS = tuple(f.name for f in dataclasses.fields(LoadSample))


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """A signal above its threshold (strictly) makes a sample overloaded; same names and
    units as :class:`LoadSample` (a percent threshold of 100 never trips). Their defaults are
    the configuration's (``GOVERNOR_*``, docs/CONFIG.md)."""

    cpu_percent: float
    memory_percent: float
    queue_depth: int
    oldest_message_age_s: float
    db_latency_ms: float
    redis_latency_ms: float

    @classmethod
    def from_config(cls, config: Config) -> Thresholds:
        return cls(
            cpu_percent=config.governor_cpu_percent,
            memory_percent=config.governor_memory_percent,
            queue_depth=config.governor_queue_depth,
            oldest_message_age_s=config.governor_queue_age_s,
            db_latency_ms=config.governor_db_latency_ms,
            redis_latency_ms=config.governor_redis_latency_ms,
        )


@dataclasses.dataclass(frozen=True)
class Pressure:
    """A sample's verdict: the signals above their thresholds, in LoadSample's order."""

    over: tuple[str, ...] = ()

    @property
    def overloaded(self) -> bool:
        return bool(self.over)


def pressure(sample: LoadSample, thresholds: Thresholds) -> Pressure:
    """Which of ``sample``'s signals are above ``thresholds`` (unmeasured ones never are)."""
    over = []
    for name in SIGNALS:
        value = getattr(sample, name)
        if value is not None and not math.isnan(value) and value > getattr(thresholds, name):
            over.append(name)
    return Pressure(tuple(over))


#: Why a total changed: a cut (overloaded), a step up (not overloaded), or a rise to the floor.
CUT, GROW, FLOOR = "overload", "calm", "floor"


@dataclasses.dataclass(frozen=True)
class Change:
    """The total went from ``old`` to ``new`` batches, because of ``reason`` (CUT, GROW or
    FLOOR); ``over`` names the signals above their thresholds in the sample."""

    old: int
    new: int
    reason: str
    over: tuple[str, ...]


class Governor:
    """The AIMD rule over a stream of samples (see the module's docstring).

    Parameters:
      maximum: the largest total, batches (``ENGINE_BUDGET``); the total starts there.
      thresholds: when a sample is overloaded.
      cooldown_s: least seconds between two cuts.
      clock: seconds, monotonic (``time.monotonic``; tests pass their own).
    """

    def __init__(
        self,
        maximum: int,
        thresholds: Thresholds,
        cooldown_s: float,
        clock: Callable[[], float],
    ):
        if maximum < 1:
            raise ValueError(f"the maximum budget is at least 1 batch, got {maximum}")
        self.maximum = maximum
        self.thresholds = thresholds
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.total = maximum
        #: The last sample's verdict.
        self.pressure = Pressure()
        self._cut_at: float | None = None  # the clock at the last cut

    def update(self, sample: LoadSample, active: int) -> Change | None:
        """Take one sample, with ``active`` companies having live work; the change of the
        total it makes, or None (held: in the cooldown, at the maximum, at the floor)."""
        self.pressure = verdict = pressure(sample, self.thresholds)
        floor = max(1, active)
        old = self.total
        now = self.clock()
        if verdict.overloaded:
            cooling = self._cut_at is not None and now - self._cut_at < self.cooldown_s
            cut = max(floor, math.floor(old * CUT_FACTOR))
            if not cooling and cut < old:
                self._cut_at = now
                self.total = cut
                return Change(old, cut, CUT, verdict.over)
            grown = old  # held
        else:
            grown = min(self.maximum, old + GROW_STEP)
        # The floor wins over the maximum: with more companies than batches, each has one.
        new = max(floor, grown)
        if new == old:
            return None
        self.total = new
        reason = GROW if new == grown and new > old else FLOOR
        return Change(old, new, reason, verdict.over)
