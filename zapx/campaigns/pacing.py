"""Send slots for one WhatsApp connection: jittered gaps, long pauses, provider cap, AIMD.

Pure logic (no I/O, no clock of its own): the engine's SessionThrottle actor owns one
:class:`Pacer` per connection and asks it for the slots of the next batch. Times are in seconds
(``time.time()`` epoch floats); rates in messages per second.
"""

from __future__ import annotations

import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class PacingSettings:
    """A company's pacing (campaign-settings) plus its connection's provider caps."""

    message_interval_s: float = 20.0
    jitter: float = 0.3
    longer_interval_after: int = 20
    greater_interval_s: float = 60.0
    #: Provider cap for this connection (Cloud API default 80/s).
    max_per_s: float = 80.0
    #: Unique recipients per rolling 24 h (Meta's tier); 0 means unlimited.
    daily_cap: int = 0

    @property
    def paced(self) -> bool:
        return self.message_interval_s > 0


class Pacer:
    """Hands out send slots in order; throttle signals slow it at once, success recovers it.

    AIMD on a rate factor in (``MIN_FACTOR``, 1]: a throttle signal halves it, and each second
    without one adds ``RECOVERY_PER_S``, so a 429 storm cuts the rate immediately while recovery
    to full speed takes tens of seconds.
    """

    MIN_FACTOR = 1 / 64
    RECOVERY_PER_S = 0.02

    def __init__(self, settings: PacingSettings, *, rng: random.Random | None = None):
        self.settings = settings
        self.rng = rng or random.Random()
        self.next_at = 0.0  # earliest time of the next slot
        self.gap_before_next = 0.0  # the spacing promised before that slot
        self.sent_since_pause = 0
        self.factor = 1.0
        self.factor_at = 0.0
        self.throttled = 0

    def _recover(self, now: float) -> None:
        if self.factor < 1.0 and now > self.factor_at:
            self.factor = min(1.0, self.factor + (now - self.factor_at) * self.RECOVERY_PER_S)
        self.factor_at = now

    def throttle(self, now: float, retry_after_s: float | None = None) -> None:
        """A throttle signal (HTTP 429, Cloud API 130429/131056): halve the rate now."""
        self._recover(now)
        self.factor = max(self.MIN_FACTOR, self.factor / 2)
        self.throttled += 1
        pause = retry_after_s if retry_after_s else 1.0 / max(self.rate(now), 1e-6)
        self.next_at = max(self.next_at, now + pause)

    def rate(self, now: float) -> float:
        """Current cap in messages per second, after AIMD."""
        self._recover(now)
        return self.settings.max_per_s * self.factor

    def _gap(self, now: float) -> float:
        s = self.settings
        cap_gap = 1.0 / max(self.rate(now), 1e-6)
        if not s.paced:
            return cap_gap
        low = s.message_interval_s * (1 - s.jitter)
        high = s.message_interval_s * (1 + s.jitter)
        return max(cap_gap, self.rng.uniform(low, high))

    def slots(self, count: int, now: float, horizon_s: float) -> list[tuple[float, float]]:
        """Up to ``count`` ``(slot time, gap before it)``, none beyond ``now + horizon_s``.

        At least one slot is given. The gap is the spacing promised since the previous slot of
        this connection, so a worker that starts a batch late can keep it (``flags.reserve``)
        instead of sending the overdue slots back to back. Slots are committed: the next call
        continues after the last one given.
        """
        s = self.settings
        at = max(self.next_at, now)
        out: list[tuple[float, float]] = []
        while len(out) < count:
            if out and at > now + horizon_s:
                break
            out.append((at, self.gap_before_next))
            self.sent_since_pause += 1
            gap = self._gap(at)
            if (
                s.paced
                and s.longer_interval_after
                and (self.sent_since_pause >= s.longer_interval_after)
            ):
                gap = max(gap, s.greater_interval_s)
                self.sent_since_pause = 0
            self.gap_before_next = gap
            at += gap
        self.next_at = at
        return out

    def give_back(self, unused: int) -> None:
        """Slots handed out but not used (a batch came back short): later slots may move up."""
        # Moving next_at earlier could break the minimum gap already promised to sent messages;
        # only the count towards the long pause is corrected.
        self.sent_since_pause = max(0, self.sent_since_pause - unused)
