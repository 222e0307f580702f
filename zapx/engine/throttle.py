"""SessionThrottle: the pacing of one WhatsApp connection, shared by its campaigns.

A plain object owned by the company's :class:`~zapx.engine.lifecycle.CompanyLifecycle` (only its
company actor's thread uses it), not an actor of its own: see docs/ENGINE.md, "Throttle inside the
company actor".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from zapx.campaigns.pacing import Pacer, PacingSettings

log = logging.getLogger("zapx.engine.throttle")


class SessionThrottle:
    """Owns one :class:`~zapx.campaigns.pacing.Pacer`; asked once per batch, never per message."""

    def __init__(
        self,
        company_id: int,
        whatsapp_id: int,
        settings: PacingSettings,
        clock: Callable[[], float] = time.time,
    ):
        self.company_id = company_id
        self.whatsapp_id = whatsapp_id
        self.pacer = Pacer(settings)
        self.clock = clock  # epoch seconds

    def configure(self, settings: PacingSettings) -> None:
        """New settings (edited campaign-settings or connection caps) from the next slot on."""
        self.pacer.settings = settings

    def slots(self, count: int, horizon_s: float) -> tuple[list[tuple[float, float]], float]:
        """``([(send time, gap before)], next free time)``, seconds, for up to ``count`` sends.

        Empty when the next free slot is beyond ``horizon_s``: the company plans again then,
        instead of parking a batch in the queue for minutes. Slots returned are committed.
        """
        now = self.clock()
        if self.pacer.next_at > now + horizon_s:
            return [], self.pacer.next_at
        slots = self.pacer.slots(count, now, horizon_s)
        return slots, self.pacer.next_at

    def first_gap_s(self) -> float:
        """The gap (seconds) a campaign's first send carries, as the bulk start plans it
        (``starts.plan_first_batches``): a paced connection's minimum gap, so the send is spaced
        through Redis (``flags.reserve``) against the connection's other sends and recorded for
        the next one; 0 when unpaced."""
        settings = self.pacer.settings
        if settings.message_interval_s <= 0:
            return 0.0
        cap_gap = 1.0 / max(settings.max_per_s, 1e-6)
        return max(cap_gap, settings.message_interval_s * (1 - settings.jitter))

    def taken(self, count: int) -> None:
        """``count`` slots from now were used by a batch planned elsewhere (the Directory's bulk
        first batches): the next slots come after them, with the pacing's gaps and long pauses."""
        self.pacer.slots(count, self.clock(), float("inf"))

    def rewind(self) -> None:
        """Forget slots promised to batches that a pause or cancel released, so that a resumed
        campaign starts now. Spacing from the last real send still holds: paced sends reserve
        their time against it in Redis (``flags.reserve``)."""
        self.pacer.next_at = min(self.pacer.next_at, self.clock())

    def give_back(self, unused: int) -> None:
        self.pacer.give_back(unused)

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
