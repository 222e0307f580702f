"""CompanyLifecycle: one company's running campaigns — start, plan, record, finish, pause.

The one owner of a campaign's life in the engine (mopidy's split: a plain class holds the logic,
``actors.engine.company.CompanyActor`` only serializes calls into it). No Pykka, no Dramatiq: it
talks to the world through the ports it is given — an :class:`Outbox` that enqueues batches, a
``wake(at)`` callback (epoch seconds) asking to be pumped then, a ``publish(campaign id)``
callback (the realtime event), a clock (epoch seconds) — and through PostgreSQL and the run flags.

PostgreSQL is the truth (DESIGN rule 2): the state here is a cache that a fresh instance rebuilds
with :meth:`CompanyLifecycle.recover`, so a failed company actor is replaced by a new one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from zapx import alerts, connections
from zapx.campaign_settings import get_settings
from zapx.campaigns import batches, readiness
from zapx.campaigns.context import message_texts
from zapx.campaigns.lifecycle import EM_ANDAMENTO, FINALIZADA, PAUSADA, PROGRAMADA
from zapx.campaigns.pacing import PacingSettings, pacing_for
from zapx.circuits import Circuits
from zapx.config import Config
from zapx.db import Tenant, WhatsappConnection, db, utcnow
from zapx.db.campaign_models import Campaign
from zapx.engine import commands
from zapx.engine.live import Budget, Live, Outbox
from zapx.engine.messages import BatchReport, FirstBatch, Stop
from zapx.engine.planning import FIRST_WAIT_S, Planning
from zapx.engine.runflags import RunFlags
from zapx.engine.throttle import (
    LocalThrottles,
    SessionThrottle,
    ThrottlePort,
    Throttles,
)
from zapx.engine.throttle_build import build_throttle
from zapx.schedule import SendGate
from zapx.status import ConnectionStatus, RowStatus

log = logging.getLogger("zapx.engine.company")

#: A running campaign's progress event (``company-{id}-campaign``) goes out at most once a
#: second per campaign, and at most once per PROGRESS_COST_FACTOR times what building it took:
#: its counts are one aggregate over the campaign's rows (about 40 ms of PostgreSQL at 200,000
#: rows here), so progress costs the database at most 2% of a core per running campaign.
PROGRESS_MIN_S = 1.0
PROGRESS_COST_FACTOR = 50
#: Seconds before a campaign with nothing left to send but its audience still being copied
#: (``batches.audience_pending``) looks again: its completion, normally a tick after its start,
#: refreshes it at once when its company has an actor; this wake-up covers the rest.
AUDIENCE_WAIT_S = 0.5


class CompanyLifecycle(Planning):
    """Every running campaign of one company; methods run on one thread at a time."""

    def __init__(
        self,
        company_id: int,
        *,
        config: Config,
        budget: Budget,
        outbox: Outbox,
        flags: RunFlags,
        wake: Callable[[float], None],
        publish: Callable[[int], None],
        clock: Callable[[], float] = time.time,
        adopted: Iterable[FirstBatch] = (),
        throttles: Throttles | None = None,
        gate: SendGate | None = None,
        circuits: Circuits | None = None,
    ):
        self.company_id = company_id
        self.tenant = Tenant(company_id)
        self.config = config
        self.budget = budget
        self.outbox = outbox
        self.flags = flags
        self.wake = wake
        self.publish = publish
        self.clock = clock
        self.live: dict[int, Live] = {}
        #: The session throttle of each connection with live work (actors, in the engine).
        self.throttles: Throttles = throttles if throttles is not None else LocalThrottles()
        #: The connections' send schedule in Redis, read when a throttle is (re)built.
        self.gate = gate
        #: The connections' breakers (``zapx.circuits``), checked before each planning round.
        self.circuits = circuits
        #: The campaign being planned or finished (for the log of a failure mid-way).
        self.working_on: int | None = None
        #: First batches planned in bulk at the start, not yet counted, by campaign id.
        self.adopted: dict[int, FirstBatch] = {f.campaign_id: f for f in adopted}

    # --- what the actor calls -----------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing running: the company's actor may be stopped."""
        return not self.live

    def recover(self) -> None:
        """(Re)build from PostgreSQL: every campaign EM_ANDAMENTO runs again from its rows."""
        with db.connection_context():
            ids = [
                c.id
                for c in self.tenant.select(Campaign, Campaign.id).where(
                    Campaign.status == EM_ANDAMENTO
                )
            ]
        for campaign_id in ids:
            self.refresh(campaign_id)

    def refresh(self, campaign_id: int) -> None:
        """The campaign changed (command, schedule, lease expiry): act on its current row —
        start it when due, run or stop it as its status says, plan what is due."""
        with db.connection_context():
            row = self.tenant.select(Campaign).where(Campaign.id == campaign_id).first()
            if row is not None and row.status == PROGRAMADA and row.scheduled_at <= utcnow():
                row = self._start(row)
            if row is None or row.status != EM_ANDAMENTO:
                self._forget(campaign_id)
                self.adopted.pop(campaign_id, None)
                if row is None or row.status != PROGRAMADA:
                    self.flags.clear(self.company_id, campaign_id)
                return
            live = self.live.get(campaign_id)
            if live is None or live.generation != row.generation:
                live = Live(row.id, row.generation, row.whatsapp_id)
                self.live[campaign_id] = live
                # (Re)starting: pacing settings may have been edited since the throttle began.
                # A resumed campaign forgets the slots promised to its own released batches,
                # only when nothing is promised after them: a campaign never moves slots (nor a
                # long pause) promised to another; a new one has none to forget.
                throttle = self._throttle(row.whatsapp_id)
                throttle.configure(self._pacing(row.whatsapp_id))
                throttle.rewind(campaign_id)
                self._progress(live)  # started, resumed or restarted: its status is news
            first = self.adopted.pop(campaign_id, None)
            if (
                first is not None
                and first.generation == live.generation
                and first.batch_id not in live.in_flight
            ):
                live.in_flight.add(first.batch_id)
                live.planned += 1
                live.first_batch = first.batch_id
                live.first_until = self.clock() + FIRST_WAIT_S
                # Its slot was taken at the start, outside the throttle: the next slots come
                # after it, with the pacing's gaps and long pauses.
                self._throttle(live.whatsapp_id).taken(campaign_id, first.rows)
            elif live.in_flight:
                # Reports die with a killed worker, and the sweep that finished its batches
                # (lease over) refreshes their campaigns: the database knows which are done.
                # Left counted, a company at its budget share (1 when many companies run)
                # planned nothing more, ever: 72 campaigns stuck after a kill mid-chunk.
                live.in_flight -= batches.finished(sorted(live.in_flight))
            self.flags.set(self.company_id, row.id, row.generation)
            self._pump(live)

    def adopt(self, first: FirstBatch) -> None:
        """The campaign was started in bulk and its first batch planned and sent
        (``starts.plan_first_batches``): count it, then plan from the second batch on."""
        self.adopted[first.campaign_id] = first
        self.refresh(first.campaign_id)

    def record(self, report: BatchReport) -> None:
        """A worker reported a batch: feed the throttle, pause on a lost connection, publish
        the progress and plan what is due (or finish)."""
        if report.stop in (Stop.THROTTLE, Stop.SPAM):
            self._throttle(report.whatsapp_id).throttled(report.retry_after_s)
        if report.stop == Stop.AUTH:
            self.connection_lost(report.whatsapp_id, report.error or "auth error")
        if report.stop == Stop.SPAM:
            # 131048: the worker paused the campaign when the answer came (actors.delivery);
            # pause it here too if it could not, then open the alert (not at the alert rules'
            # next evaluation).
            reason = alerts.spam_reason(report.error)
            with db.connection_context():
                if report.campaign_id in self.live:
                    self._pause(report.campaign_id, reason)  # first: it matters most
                event = alerts.spam_rate_limit(self.company_id, report.campaign_id, reason)
            if event is not None:
                self._send_alert(event)
        if report.breaker and report.campaign_id in self.live:
            with db.connection_context():
                self._pause(report.campaign_id, report.breaker)  # logged, with the reason
        live = self.live.get(report.campaign_id)
        with db.connection_context():
            if live is not None:
                live.in_flight.discard(report.batch_id)
                self._progress(live)
                self._pump(live)
            else:
                # The campaign stopped with this batch in flight (each stops within one
                # message): its counts moved after the stop's event. As many as the batches
                # that were in flight, once per stop.
                self.publish(report.campaign_id)
                # What it leaves goes to the connection's other campaigns.
                self._pump_connection(report.whatsapp_id)

    def pump(self) -> None:
        """Plan what is due and publish held-back progress (at the wake-up time asked for)."""
        with db.connection_context():
            for live in list(self.live.values()):
                if live.progress_pending:
                    self._progress(live, rewake=True)
            for whatsapp_id in {live.whatsapp_id for live in self.live.values()}:
                self._pump_connection(whatsapp_id)

    def command(self, campaign_id: int, name: str, reason: str = "") -> Campaign:
        """``pause | resume | cancel | restart`` as the API applies it, then acted on here."""
        with db.connection_context():
            row, _ = commands.command(self.tenant, self.flags, campaign_id, name, reason)
        self.refresh(campaign_id)
        return row

    def connection_lost(self, whatsapp_id: int, error: str) -> None:
        """The provider refused our credentials: the connection is DISCONNECTED and every
        campaign on it paused with the reason (never running with nothing sent)."""
        with db.connection_context():
            with db.atomic():
                WhatsappConnection.update(
                    status=ConnectionStatus.DISCONNECTED, updated_at=utcnow()
                ).where(WhatsappConnection.id == whatsapp_id).execute()
            connections.publish_connection(self.tenant, whatsapp_id)
            reason = f"connection {whatsapp_id} lost: {error}"
            for changed in commands.connection_down(self.tenant, self.flags, whatsapp_id, reason):
                self._forget(changed.campaign_id)
                log.warning(
                    "campaign paused",
                    extra={
                        "company_id": self.company_id,
                        "campaign_id": changed.campaign_id,
                        "reason": reason,
                    },
                )
            for live in [c for c in self.live.values() if c.whatsapp_id == whatsapp_id]:
                self._pause(live.campaign_id, reason)  # not EM_ANDAMENTO in the database

    # --- internals ----------------------------------------------------------------------

    def _start(self, row: Campaign) -> Campaign | None:
        """PROGRAMADA -> EM_ANDAMENTO with the audience snapshot, in one transaction; or, when
        it cannot start (no CONNECTED connection, no list or an empty one), PAUSADA with the
        reason, never running with nothing to send through."""
        problem = readiness.start_problem(self.tenant, row)
        if problem is not None:
            self._pause(row.id, f"cannot start: {problem.message}")
            return self.tenant.select(Campaign).where(Campaign.id == row.id).first()
        whatsapp_id = readiness.connection_of(self.tenant, row).id
        messages = len(message_texts(row)) or 1
        with db.atomic():
            started = (
                Campaign.update(
                    status=EM_ANDAMENTO,
                    started_at=utcnow(),
                    whatsapp=whatsapp_id,
                    updated_at=utcnow(),
                )
                .where((Campaign.id == row.id) & (Campaign.status == PROGRAMADA))
                .execute()
            )
            if started:
                total = batches.snapshot_audience(
                    row.id, self.company_id, row.contact_list_id, messages
                )
                Campaign.update(total=total).where(Campaign.id == row.id).execute()
        if started:
            log.info(
                "campaign started",
                extra={"company_id": self.company_id, "campaign_id": row.id},
            )
        return self.tenant.select(Campaign).where(Campaign.id == row.id).first()

    def _throttle(self, whatsapp_id: int) -> ThrottlePort:
        return self.throttles.get(whatsapp_id, lambda: self._build_throttle(whatsapp_id))

    def _build_throttle(self, whatsapp_id: int) -> SessionThrottle:
        return build_throttle(
            self.company_id, whatsapp_id, self._pacing(whatsapp_id), self.clock, self.gate
        )

    def _pacing(self, whatsapp_id: int) -> PacingSettings:
        with db.connection_context():
            settings = get_settings(self.tenant)
            connection = WhatsappConnection.get_or_none(WhatsappConnection.id == whatsapp_id)
        return pacing_for(settings, (connection.settings or {}) if connection else {})

    def _wake(self, live: Live, at: float) -> None:
        live.wake_at = at
        self.wake(at)

    def _pump(self, live: Live) -> None:
        self._pump_connection(live.whatsapp_id)

    def _forget(self, campaign_id: int) -> None:
        """The campaign runs no more here: out of its connection's rotation."""
        live = self.live.pop(campaign_id, None)
        if live is None:
            return
        self.throttles.drop(live.whatsapp_id, campaign_id)
        if not any(other.whatsapp_id == live.whatsapp_id for other in self.live.values()):
            self.throttles.stop(live.whatsapp_id)  # no live work left on the connection

    def _maybe_finish(self, live: Live) -> None:
        """FINALIZADA when no row has work ahead, no batch is in flight and its whole audience is
        copied; else a wake-up when the next row is due (or the audience may be complete)."""
        if live.in_flight:
            # Reports die with a killed worker; the database knows which batches are done.
            live.in_flight -= batches.finished(sorted(live.in_flight))
        if live.in_flight:
            return
        open_rows = batches.open_rows(live.campaign_id)
        if not open_rows:
            if batches.audience_pending(live.campaign_id):
                # Started in bulk with the head of its audience only: the rest is being copied
                # (the Directory's tick), and its completion refreshes us; until then, look again.
                self._wake(live, self.clock() + AUDIENCE_WAIT_S)
                return
            # The rows again, read after the flag: a completion committed between the first
            # read and the flag's would leave its rows unseen, and the campaign finished with
            # them never sent. Only on the way to finishing: every other call reads the rows once.
            open_rows = batches.open_rows(live.campaign_id)
        if not open_rows:
            with db.atomic():
                finished = (
                    Campaign.update(status=FINALIZADA, completed_at=utcnow(), updated_at=utcnow())
                    .where((Campaign.id == live.campaign_id) & (Campaign.status == EM_ANDAMENTO))
                    .execute()
                )
            self.flags.clear(self.company_id, live.campaign_id)
            self._forget(live.campaign_id)
            if finished:
                log.info(
                    "campaign finished",
                    extra={"company_id": self.company_id, "campaign_id": live.campaign_id},
                )
                self.publish(live.campaign_id)
            return
        due_in = batches.next_due_in_s(live.campaign_id)
        if due_in is not None:
            self._wake(live, self.clock() + max(due_in, 0.2))
        elif open_rows.get(RowStatus.AWAITING) and not (open_rows.keys() - {RowStatus.AWAITING}):
            # Only confirmations outstanding: a reply re-opens a row (and notifies us); look
            # again now and then so the campaign ends when the window closes.
            self._wake(live, self.clock() + 60.0)
        elif open_rows.get(RowStatus.QUEUED):
            # Rows in batches not tracked here (planned before an engine restart): the clock
            # re-sends stale batches; look again shortly.
            self._wake(live, self.clock() + 5.0)

    def _progress(self, live: Live, rewake: bool = False) -> None:
        """Publish the campaign's record now if the limit allows, else hold it and ask to be
        woken when it does: on the first report held back, or (``rewake``) from a wake-up that
        came earlier (the Directory keeps one wake-up time per company, the earliest)."""
        now = self.clock()
        if now < live.progress_at:
            if rewake or not live.progress_pending:
                self.wake(live.progress_at)
            live.progress_pending = True
            return
        self.publish(live.campaign_id)
        took = self.clock() - now
        live.progress_pending = False
        live.progress_at = now + took + max(PROGRESS_MIN_S, PROGRESS_COST_FACTOR * took)

    def _send_alert(self, event: alerts.Event) -> None:
        try:
            self.outbox.send_alert(event.alert_id, event.kind)
        except Exception:  # the broker's Redis: the alert row stays, its webhook is lost
            log.exception("alert webhook not enqueued", extra={"alert_id": event.alert_id})

    def _pause(self, campaign_id: int, reason: str) -> None:
        with db.atomic():
            Campaign.update(status=PAUSADA, pause_reason=reason, updated_at=utcnow()).where(
                (Campaign.id == campaign_id) & (Campaign.status.in_((EM_ANDAMENTO, PROGRAMADA)))
            ).execute()
        self.flags.clear(self.company_id, campaign_id)
        self._forget(campaign_id)
        log.warning(
            "campaign paused",
            extra={"company_id": self.company_id, "campaign_id": campaign_id, "reason": reason},
        )
        self.publish(campaign_id)
