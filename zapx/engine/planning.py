"""Planning a connection's batches: what each campaign wants, the breaker, the throttle's grants.

``Planning`` is the part of :class:`zapx.engine.lifecycle.CompanyLifecycle` that turns due rows
into batches (a mixin: it uses the lifecycle's ``live`` campaigns, ``budget``, ``config``,
``throttles``, ``circuits``, ``outbox``, ``flags``, ``clock`` and ``wake``, and its ``_wake``,
``_throttle`` and ``_maybe_finish``). Times are epoch seconds.
"""

from __future__ import annotations

import dataclasses

from zapx import cache
from zapx.campaigns import batches
from zapx.circuits import Verdict
from zapx.engine.live import Live
from zapx.engine.throttle import ThrottlePort, Want

#: Contacts in a campaign's first batch, sent ahead of other work: its first message is fast.
FIRST_BATCH_SIZE = 1
#: A batch holds the slots that fall within this many seconds, so a worker never sleeps long.
HORIZON_S = 2.0
#: A campaign's second batch waits for its first one's report, at most this long (seconds): when
#: many companies start at once, every first message goes out before any second batch competes
#: with them for the workers. Bounded, because a killed worker never reports.
FIRST_WAIT_S = 5.0


class Planning:
    """Plans batches for a company's connections (mixed into ``CompanyLifecycle``)."""

    def _want(self, live: Live) -> Want | None:
        """What the campaign asks of its connection now; None (after finishing it, or asking to
        be woken) when it has nothing due: checked before any slot is asked for, so a campaign
        with nothing left finishes when its last batch reports, not a slot later."""
        self.working_on = live.campaign_id
        room = self.budget.per_company - len(live.in_flight)
        if room <= 0:
            return None
        if live.first_batch in live.in_flight and self.clock() < live.first_until:
            self._wake(live, live.first_until)
            return None
        due_in = batches.next_due_in_s(live.campaign_id)
        if due_in is None or due_in > 0:
            self._maybe_finish(live)  # finished, or woken when its next row is due
            return None
        if live.planned == 0:
            return Want(live.campaign_id, min(self.config.batch_size, FIRST_BATCH_SIZE), 1, True)
        return Want(live.campaign_id, self.config.batch_size, room)

    def _pump_connection(self, whatsapp_id: int) -> None:
        """Plan batches for the connection's campaigns while the company's share of the budget
        allows and rows are due; the connection's throttle decides who gets which slots."""
        while True:
            wants = [
                want
                for live in list(self.live.values())
                if live.whatsapp_id == whatsapp_id and (want := self._want(live)) is not None
            ]
            if not wants:
                if not any(live.whatsapp_id == whatsapp_id for live in self.live.values()):
                    self.throttles.stop(whatsapp_id)  # no live work left on the connection
                return
            verdict = self._breaker(whatsapp_id)
            if not verdict.allowed:
                return
            if verdict.probe:  # half-open: one batch, the probe
                wants = [dataclasses.replace(wants[0], batches=1)]
            throttle = self._throttle(whatsapp_id)
            plan = throttle.plan(wants, HORIZON_S)
            if not plan.grants:
                if verdict.probe:
                    self.circuits.bind_probe(self.company_id, whatsapp_id, verdict.token, None)
                self.wake(plan.next_at)
                return
            for campaign_id, slots in plan.grants:
                batch_id = self._plan_batch(throttle, self.live[campaign_id], list(slots))
            if verdict.probe:
                self.circuits.bind_probe(self.company_id, whatsapp_id, verdict.token, batch_id)
                return
            if plan.next_at > self.clock() + HORIZON_S:
                self.wake(plan.next_at)
                return

    def _breaker(self, whatsapp_id: int) -> Verdict:
        """The connection's breaker: while it is open (or its probe is out) nothing is planned,
        its campaigns' reports say why, and the company wakes when it may probe."""
        if self.circuits is None:
            return Verdict(True)
        campaign_ids = [c.campaign_id for c in self.live.values() if c.whatsapp_id == whatsapp_id]
        verdict = self.circuits.hold(self.company_id, whatsapp_id, campaign_ids, self.clock())
        if not verdict.allowed:
            self.wake(max(verdict.retry_at, self.clock() + 0.2))
        return verdict

    def _plan_batch(self, throttle: ThrottlePort, live: Live, slots: list) -> int | None:
        first = live.planned == 0
        planned = batches.plan_batch(
            live.campaign_id, self.company_id, live.whatsapp_id, live.generation, slots
        )
        if planned is None:  # its rows were taken meanwhile (a replaced engine's planner)
            throttle.give_back(len(slots))
            return None
        batch_id, size = planned
        if size < len(slots):
            throttle.give_back(len(slots) - size)
        # Its rows went pending -> queued: the company's cached reports are stale (zapx.cache).
        cache.bump(self.flags.client, self.flags.keys.prefix, self.company_id, cache.REPORTS)
        live.in_flight.add(batch_id)
        live.planned += 1
        if first:
            live.first_batch, live.first_until = batch_id, self.clock() + FIRST_WAIT_S
        delay_s = max(0.0, slots[0][0] - self.clock())
        self.outbox.send_batch(batch_id, self.company_id, first, delay_s)
        return batch_id
