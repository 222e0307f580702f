"""SessionThrottle: the planning state of one WhatsApp connection, shared by its campaigns.

A plain class (no Pykka, no I/O): ``actors.engine.throttle.SessionThrottleActor`` is its mailbox,
one per connection with live work, started by the connection's company actor. It decides *who*
gets the connection's next send slots and how big each batch is; the send gate in Redis
(``zapx.schedule``) is what enforces the schedule at the moment a request leaves, across
processes. The state here is a cache: :func:`seed` rebuilds it from the gate's state and the
batches PostgreSQL still holds, so a replaced throttle loses nothing.

**The sharing rule** (docs/ENGINE.md, "Sharing a connection"): round robin by batch, weighted
by slots (deficit round robin). Each call of :meth:`SessionThrottle.plan` deals the connection's
slots within the horizon, in time order, one batch at a time: the next batch goes to the campaign
that wants slots and has been dealt the fewest, ties to the one longest unserved (a campaign new
to the connection first). A campaign new or back after a while starts one batch behind the most
served, so it is served at the next planning round and catches up without starving the others;
over any shared window their slots differ by at most one batch. All slots come from one
:class:`~zapx.campaigns.pacing.Pacer`, so no campaign can push another past the connection's gaps,
long pauses or cap.

Times are the clock's epoch seconds; gaps are seconds.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from zapx.campaigns.pacing import Pacer, PacingSettings

log = logging.getLogger("zapx.engine.throttle")

#: A campaign's last committed slot is forgotten this many seconds after it passed.
KEEP_UNTIL_S = 60.0

Slot = tuple[float, float]  # (send time, gap before it)


@dataclasses.dataclass(frozen=True)
class Want:
    """A campaign asking for slots: up to ``batches`` batches of up to ``size`` slots each.
    ``first``: its first batch, whose slot carries at least the connection's minimum gap."""

    campaign_id: int
    size: int
    batches: int = 1
    first: bool = False


@dataclasses.dataclass(frozen=True)
class Plan:
    """Batches dealt by one :meth:`SessionThrottle.plan`, in slot order, and the next free time
    (the lifecycle plans again then when nothing was dealt)."""

    grants: tuple[tuple[int, tuple[Slot, ...]], ...]
    next_at: float


class ThrottlePort(Protocol):
    """What the lifecycle asks of a connection's throttle: the plain class, or an actor handle."""

    def plan(self, wants: Sequence[Want], horizon_s: float) -> Plan: ...
    def taken(self, campaign_id: int, count: int) -> None: ...
    def rewind(self, campaign_id: int) -> bool: ...
    def give_back(self, unused: int) -> None: ...
    def throttled(self, retry_after_s: float | None) -> None: ...
    def configure(self, settings: PacingSettings) -> None: ...
    def drop(self, campaign_id: int) -> None: ...


class Throttles(Protocol):
    """The throttles of one company's connections (only connections with live work have one)."""

    def get(self, whatsapp_id: int, build: Callable[[], SessionThrottle]) -> ThrottlePort:
        """The connection's throttle, made with ``build`` (from PostgreSQL and Redis) when it
        has none or the one it had failed."""

    def drop(self, whatsapp_id: int, campaign_id: int) -> None:
        """The campaign wants no more slots of the connection (a no-op without a throttle)."""

    def stop(self, whatsapp_id: int) -> None:
        """The connection has no live work left."""


class SessionThrottle:
    """Owns the connection's :class:`Pacer` and the rotation of the campaigns sharing it."""

    def __init__(
        self,
        company_id: int,
        whatsapp_id: int,
        settings: PacingSettings,
        clock: Callable[[], float] = time.time,
        *,
        rng: random.Random | None = None,
    ):
        self.company_id = company_id
        self.whatsapp_id = whatsapp_id
        self.pacer = Pacer(settings, rng=rng)
        # A fresh throttle does not know the connection's previous send (another engine's, one
        # before a restart): its first slot carries the minimum gap, spaced in Redis.
        self.pacer.gap_before_next = self.first_gap_s()
        self.clock = clock
        #: The rotation: the first campaign here that wants slots is served next.
        self.order: list[int] = []
        #: Each campaign's last committed slot.
        self.until: dict[int, float] = {}
        #: Slots dealt to each campaign (what the API and the tests read).
        self.served: dict[int, int] = {}

    def configure(self, settings: PacingSettings) -> None:
        """New settings (edited campaign-settings or connection caps) from the next slot on."""
        self.pacer.settings = settings

    def plan(self, wants: Sequence[Want], horizon_s: float) -> Plan:
        """Deal the slots due within ``horizon_s`` seconds, one batch per turn, round robin.

        Nothing is dealt when the next free slot is beyond the horizon: the company plans again
        then, instead of parking a batch in the queue for minutes. Slots dealt are committed.
        """
        now = self.clock()
        by_id = {w.campaign_id: w for w in wants}
        for want in wants:
            if want.campaign_id not in self.order:
                self.order.insert(0, want.campaign_id)  # new here: first among equals
        if wants:
            # A campaign new here, or back after a while (its first batch's wait, its budget),
            # starts at most one batch behind the most served: it catches up, not starves.
            floor = max(self.served.get(c, 0) for c in by_id) - max(w.size for w in wants)
            for c in by_id:
                self.served[c] = max(self.served.get(c, 0), floor)
        left = {w.campaign_id: w.batches for w in wants}
        grants: list[tuple[int, tuple[Slot, ...]]] = []
        while self.pacer.next_at <= now + horizon_s:
            ready = [c for c in self.order if left.get(c, 0) > 0]
            if not ready:
                break
            # The fewest slots dealt goes next; ties in rotation order (min keeps the first).
            turn = min(ready, key=lambda c: self.served[c])
            want = by_id[turn]
            slots = self.pacer.slots(max(1, want.size), now, horizon_s)
            if want.first:
                send_at, gap = slots[0]
                slots = [(send_at, max(gap, self.first_gap_s())), *slots[1:]]
            grants.append((turn, tuple(slots)))
            left[turn] -= 1
            self._served(turn, len(slots), slots[-1][0])
        self._trim(now)
        return Plan(tuple(grants), self.pacer.next_at)

    def _served(self, campaign_id: int, count: int, last_at: float) -> None:
        if campaign_id in self.order:
            self.order.remove(campaign_id)
        self.order.append(campaign_id)
        self.until[campaign_id] = max(self.until.get(campaign_id, 0.0), last_at)
        self.served[campaign_id] = self.served.get(campaign_id, 0) + count

    def _trim(self, now: float) -> None:
        for campaign_id, at in list(self.until.items()):
            if at < now - KEEP_UNTIL_S and campaign_id not in self.order:
                del self.until[campaign_id]

    def first_gap_s(self) -> float:
        """The gap (seconds) a campaign's first send carries, as the bulk start plans it
        (``starts.plan_first_batches``): a paced connection's minimum gap, so the send is spaced
        through Redis against the connection's other sends; 0 when unpaced."""
        settings = self.pacer.settings
        if settings.message_interval_s <= 0:
            return 0.0
        cap_gap = 1.0 / max(settings.max_per_s, 1e-6)
        return max(cap_gap, settings.message_interval_s * (1 - settings.jitter))

    def taken(self, campaign_id: int, count: int) -> None:
        """``count`` slots from now were used by a batch planned elsewhere (the Directory's bulk
        first batches): the next slots come after them, with the pacing's gaps and long pauses.
        The campaign keeps its place at the front of the rotation (it was served once)."""
        slots = self.pacer.slots(count, self.clock(), float("inf"))
        if campaign_id not in self.order:
            self.order.insert(0, campaign_id)
        self.until[campaign_id] = max(self.until.get(campaign_id, 0.0), slots[-1][0])
        self.served[campaign_id] = self.served.get(campaign_id, 0) + count

    def rewind(self, campaign_id: int) -> bool:
        """A resumed campaign starts now: forget the slots promised to its batches that the
        pause released — only when the schedule's tail is its own. Slots (and a long pause)
        promised to another campaign, or to nobody, stand. True when it rewound."""
        now = self.clock()
        own = self.until.get(campaign_id)
        if own is None or own <= now:
            return False
        if any(at > now for c, at in self.until.items() if c != campaign_id):
            return False
        # Back by what was promised past now, keeping the gap after its last slot.
        self.pacer.next_at = max(now, self.pacer.next_at - (own - now))
        self.until[campaign_id] = now
        return True

    def give_back(self, unused: int) -> None:
        self.pacer.give_back(unused)

    def drop(self, campaign_id: int) -> None:
        """The campaign wants no more slots (finished, paused): out of the rotation. Its last
        slot is kept for a while, for :meth:`rewind` on a resume."""
        if campaign_id in self.order:
            self.order.remove(campaign_id)

    def throttled(self, retry_after_s: float | None) -> None:
        """The provider pushed back: halve the rate now (fire-and-forget from the company)."""
        self.pacer.throttle(self.clock(), retry_after_s)
        log.warning(
            "connection throttled",
            extra={
                "company_id": self.company_id,
                "whatsapp_id": self.whatsapp_id,
                "rate_per_s": round(self.pacer.rate(self.clock()), 3),
            },
        )


def seed(
    throttle: SessionThrottle,
    *,
    next_at: float = 0.0,
    last_at: float | None = None,
    sends_since_pause: int = 0,
    factor: float = 1.0,
) -> None:
    """Start ``throttle`` from what the connection already did (times on its clock, seconds):
    ``next_at`` the earliest departure the gate allows (or after the last slot of batches still
    planned), ``last_at`` the last departure or planned slot, ``sends_since_pause`` the long-pause
    count, ``factor`` the AIMD factor. Its first slot is then not before what Redis allows, and
    the long pause comes after every ``longerIntervalAfter`` sends across an engine restart."""
    pacer, s = throttle.pacer, throttle.pacer.settings
    now = throttle.clock()
    floor = next_at
    if last_at is not None:
        floor = max(floor, last_at + throttle.first_gap_s())
    pacer.sent_since_pause = max(pacer.sent_since_pause, sends_since_pause)
    if s.paced and s.longer_interval_after and pacer.sent_since_pause >= s.longer_interval_after:
        # The pause is due before the next send.
        pacer.gap_before_next = max(pacer.gap_before_next, s.greater_interval_s)
        pacer.sent_since_pause = 0
        if last_at is not None:
            floor = max(floor, last_at + s.greater_interval_s)
    pacer.next_at = max(pacer.next_at, floor)
    if factor < pacer.factor:
        pacer.factor, pacer.factor_at = max(Pacer.MIN_FACTOR, factor), now


class LocalThrottles:
    """:class:`Throttles` in the caller's thread (the lifecycle's unit tests, tools)."""

    def __init__(self):
        self.local: dict[int, SessionThrottle] = {}

    def get(self, whatsapp_id: int, build: Callable[[], SessionThrottle]) -> SessionThrottle:
        throttle = self.local.get(whatsapp_id)
        if throttle is None:
            throttle = self.local[whatsapp_id] = build()
        return throttle

    def drop(self, whatsapp_id: int, campaign_id: int) -> None:
        if whatsapp_id in self.local:
            self.local[whatsapp_id].drop(campaign_id)

    def stop(self, whatsapp_id: int) -> None:
        self.local.pop(whatsapp_id, None)
