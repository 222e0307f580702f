"""The send gate's values: what a call answers, the shapes of its inputs (times in seconds)."""

from __future__ import annotations

import dataclasses
import random
from typing import Protocol

KINDS = ("whatsapp", "contact", "campaign", "global")


class Rule(Protocol):
    """A rate limit: at most ``limit`` sends per ``period_s`` seconds of one ``kind``'s key."""

    @property
    def kind(self) -> str: ...
    @property
    def limit(self) -> int: ...
    @property
    def period_s(self) -> float: ...


class Settings(Protocol):
    """A connection's pacing (``zapx.campaigns.pacing.PacingSettings`` fits)."""

    @property
    def message_interval_s(self) -> float: ...
    @property
    def jitter(self) -> float: ...
    @property
    def longer_interval_after(self) -> int: ...
    @property
    def greater_interval_s(self) -> float: ...
    @property
    def max_per_s(self) -> float: ...
    @property
    def daily_cap(self) -> int: ...


@dataclasses.dataclass(frozen=True)
class Grant:
    """Send now. ``at_s``: the grant's Redis time (epoch s), the request's departure."""

    at_s: float
    #: Paced connections: sends since the last long pause, this one included.
    sends_since_pause: int
    #: Paced connections: the gap (s) the next send needs after this request's completion.
    next_gap_s: float


@dataclasses.dataclass(frozen=True)
class Wait:
    """Not now: try again at ``until_s`` (Redis epoch s), that is after ``wait_s`` seconds."""

    until_s: float
    #: ``until_s`` minus the Redis time of the call: sleep this long (no clock of the caller's).
    wait_s: float
    #: The rule that gave the latest time: ``interval``, ``long pause``, ``connection busy``,
    #: ``throttled``, ``provider cap``, ``recipient pair``, ``daily limit``,
    #: ``rate limit <kind>``.
    reason: str


@dataclasses.dataclass(frozen=True)
class Stopped:
    """No grant: the batch's campaign no longer runs in its generation (paused, cancelled,
    restarted). The holder's send token was given back by the same call."""

    now_s: float


@dataclasses.dataclass(frozen=True)
class Progress:
    """A batch's run flag and progress keys, checked and written by every :meth:`SendGate.acquire`
    of its rows (``zapx.campaigns.flags.gate_progress`` builds it). They must carry the
    company's hash tag, as every key of the call does."""

    flag_key: str
    generation: int
    started_key: str
    outcomes_key: str
    ttl_s: int


@dataclasses.dataclass(frozen=True)
class GateState:
    """What the API shows of a connection's schedule. Times are Redis epoch seconds."""

    now_s: float
    #: Messages per second after AIMD (``max_per_s * throttle_factor``).
    rate_per_s: float
    throttle_factor: float
    #: Earliest departure the connection's own rules allow (recipients and limits aside).
    next_departure_s: float
    #: Why not before (``""`` when a send may go now).
    waiting_because: str
    last_departure_s: float | None
    daily_sent: int
    daily_cap: int
    sends_since_pause: int
    longer_interval_after: int
    #: The send token's holder (``""``: none) and its lease end.
    holder: str
    lease_until_s: float | None
    throttled_until_s: float | None
    throttle_signals: int


def backoff_s(
    attempt: int,
    wait_s: float,
    *,
    base_s: float = 0.05,
    cap_s: float = 30.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to sleep after the ``attempt``-th (0 first) rate-limit Wait in a row: the Wait's
    ``wait_s`` plus a jitter in [0, min(cap_s, base_s * 2**attempt)), so senders hitting one
    limit spread out. Never less than ``wait_s``: going earlier would only be refused again."""
    spread = min(cap_s, base_s * 2 ** min(attempt, 60))
    return max(0.0, wait_s) + (rng or random).uniform(0.0, spread)


@dataclasses.dataclass(frozen=True)
class GrantMany:
    """Send the first ``count`` (>= 1) rows asked for, now. ``at_s``: the grants' Redis time
    (epoch s), their departure."""

    at_s: float
    count: int
