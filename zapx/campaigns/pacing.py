"""Send slots for one WhatsApp connection: jittered gaps, long pauses, provider cap, AIMD.

Pure logic (no I/O, no clock of its own): the engine's SessionThrottle (one per connection, run
by its SessionThrottleActor) owns the connection's :class:`Pacer` and asks it for the slots of
the next batches. Times are in seconds (``time.time()`` epoch floats); rates in messages per
second.
"""

from __future__ import annotations

import dataclasses
import random

#: A company's pacing when its campaign-settings name none, by setting key: ``messageInterval``
#: and ``greaterInterval`` in seconds, ``longerIntervalAfter`` a count of sends, ``jitter`` a
#: fraction of the interval. The one statement of these defaults (settings API, engine, SQL).
SETTING_DEFAULTS: dict[str, int | float] = {
    "messageInterval": 20,
    "longerIntervalAfter": 20,
    "greaterInterval": 60,
    "jitter": 0.3,
}
#: A connection's provider caps when its settings name none: ``messagesPerSecond`` (the Cloud
#: API's default throughput, messages per second) and ``dailyLimit`` (unique recipients per
#: rolling 24 h, Meta's tier; 0 means unlimited).
CAP_DEFAULTS: dict[str, int] = {"messagesPerSecond": 80, "dailyLimit": 0}


@dataclasses.dataclass(frozen=True)
class PacingSettings:
    """A company's pacing (campaign-settings) plus its connection's provider caps.

    Build it with :func:`pacing_for`; the field defaults are :data:`DEFAULTS`.
    """

    message_interval_s: float = float(SETTING_DEFAULTS["messageInterval"])
    jitter: float = float(SETTING_DEFAULTS["jitter"])
    longer_interval_after: int = int(SETTING_DEFAULTS["longerIntervalAfter"])
    greater_interval_s: float = float(SETTING_DEFAULTS["greaterInterval"])
    #: Provider cap for this connection, messages per second.
    max_per_s: float = float(CAP_DEFAULTS["messagesPerSecond"])
    #: Unique recipients per rolling 24 h (Meta's tier); 0 means unlimited.
    daily_cap: int = CAP_DEFAULTS["dailyLimit"]

    @property
    def paced(self) -> bool:
        return self.message_interval_s > 0


#: The pacing of a company that stored no settings on a connection that names no caps.
DEFAULTS = PacingSettings()


def _given(values: dict, key: str, default):
    # Missing, JSON null and "" all mean "not set", as the first batch's SQL reads them.
    value = values.get(key)
    return default if value is None or value == "" else value


def pacing_for(settings: dict, connection_settings: dict) -> PacingSettings:
    """The pacing of one connection: ``settings`` (campaign-settings keys, as from
    :func:`zapx.campaign_settings.get_settings`) and ``connection_settings`` (the connection's
    ``settings``, its caps), each missing key taken from :data:`SETTING_DEFAULTS` or
    :data:`CAP_DEFAULTS`."""
    setting = {k: _given(settings, k, v) for k, v in SETTING_DEFAULTS.items()}
    cap = {k: _given(connection_settings or {}, k, v) for k, v in CAP_DEFAULTS.items()}
    return PacingSettings(
        message_interval_s=float(setting["messageInterval"]),
        jitter=float(setting["jitter"]),
        longer_interval_after=int(setting["longerIntervalAfter"]),
        greater_interval_s=float(setting["greaterInterval"]),
        max_per_s=float(cap["messagesPerSecond"]),
        daily_cap=int(cap["dailyLimit"] or 0),
    )


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
        this connection; the worker's send gate (``zapx.schedule``) holds the spacing whatever
        the slots, so a batch started late does not send its overdue slots back to back.
        Slots are committed: the next call continues after the last one given.
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
