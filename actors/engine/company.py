"""CompanyActor: one company's running campaigns — start, plan batches, finish, pause on loss.

PostgreSQL is the truth (DESIGN rule 2): the actor's state is a cache that a fresh actor rebuilds
from the database in ``on_start``: a new actor for the company needs nothing from the old one.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import pykka

from actors.engine.throttle import SessionThrottle
from zapx import connections
from zapx.campaign_settings import get_settings
from zapx.campaigns import batches, flags, readiness, service
from zapx.campaigns.context import message_texts
from zapx.campaigns.lifecycle import EM_ANDAMENTO, FINALIZADA, PAUSADA, PROGRAMADA
from zapx.campaigns.pacing import PacingSettings, pacing_for
from zapx.db import Tenant, WhatsappConnection, db, utcnow
from zapx.db.campaign_models import Campaign
from zapx.redis import Keys, get_redis
from zapx.status import ConnectionStatus, RowStatus

log = logging.getLogger("zapx.engine.company")

#: Contacts in a campaign's first batch, sent ahead of other work: its first message is fast.
FIRST_BATCH_SIZE = 1
#: A batch holds the slots that fall within this many seconds, so a worker never sleeps long.
HORIZON_S = 2.0
#: A campaign's second batch waits for its first one's report, at most this long (seconds): when
#: many companies start at once, every first message goes out before any second batch competes
#: with them for the workers. Bounded, because a killed worker never reports.
FIRST_WAIT_S = 5.0
#: A running campaign's progress event (``company-{id}-campaign``) goes out at most once a
#: second per campaign, and at most once per PROGRESS_COST_FACTOR times what building it took:
#: its counts are one aggregate over the campaign's rows (about 40 ms of PostgreSQL at 200,000
#: rows here), so progress costs the database at most 2% of a core per running campaign.
PROGRESS_MIN_S = 1.0
PROGRESS_COST_FACTOR = 50


class Budget:
    """In-flight batches each company may have; the Directory updates ``per_company``.

    Shared read-only with the company actors (one int): telling thousands of actors about every
    change would cost more than the work it shares out.
    """

    def __init__(self, total: int):
        self.total = total
        self.per_company = total

    def share(self, active: int) -> None:
        self.per_company = max(1, self.total // max(active, 1))


@dataclasses.dataclass
class Live:
    """A running campaign as the actor tracks it."""

    campaign_id: int
    generation: int
    whatsapp_id: int
    in_flight: set = dataclasses.field(default_factory=set)
    wake_at: float = 0.0
    planned: int = 0  # batches planned or adopted by this actor (0: the next is the first)
    first_batch: int | None = None  # the first batch, while the second waits for it
    first_until: float = 0.0  # epoch seconds: the second batch waits no longer
    progress_at: float = 0.0  # monotonic seconds: the next progress event may go then
    progress_pending: bool = False  # a batch reported since the last progress event


class CompanyActor(pykka.ThreadingActor):
    def __init__(self, company_id: int, directory, budget: Budget, config, adopted=None):
        super().__init__()
        self.company_id = company_id
        self.tenant = Tenant(company_id)
        self.directory = directory
        self.budget = budget
        self.config = config
        self.keys = Keys(config.redis_prefix)
        self.live: dict[int, Live] = {}
        self.throttles: dict[int, SessionThrottle] = {}
        #: First batches the Directory planned in bulk, not yet counted: campaign id ->
        #: (generation, batch id, rows). Given before ``on_start`` for a new actor.
        self.adopted: dict[int, tuple[int, int, int]] = dict(adopted or {})
        #: Messages taken from the Directory (refresh, adopt, batch_done, pump), told back with
        #: ``company_idle`` so the Directory knows whether it sent anything since.
        self.received = 0

    # --- lifecycle ------------------------------------------------------------------------

    def on_start(self) -> None:
        with db.connection_context():
            ids = [
                c.id
                for c in self.tenant.select(Campaign, Campaign.id).where(
                    Campaign.status == EM_ANDAMENTO
                )
            ]
        for campaign_id in ids:
            self._refresh(campaign_id)

    def on_failure(self, exc_type, exc_value, traceback) -> None:
        log.error(
            "company actor crashed; it will be replaced",
            extra={"company_id": self.company_id, "error": repr(exc_value)},
        )

    # --- messages ---------------------------------------------------------------------------

    def refresh(self, campaign_id: int) -> None:
        """The campaign changed (command, schedule, lease expiry): act on its current row."""
        self.received += 1
        self._refresh(campaign_id)
        self._idle_check()

    def adopt(self, campaign_id: int, generation: int, batch_id: int, rows: int) -> None:
        """The Directory started the campaign and planned its first batch (``rows`` rows, sent
        now): count it in flight and in the throttle, then plan from the second batch on."""
        self.received += 1
        self.adopted[campaign_id] = (generation, batch_id, rows)
        self._refresh(campaign_id)
        self._idle_check()

    def batch_done(self, report: dict) -> None:
        self.received += 1
        live = self.live.get(report["campaign_id"])
        if report.get("stop") == "throttle":
            self._throttle(report["whatsapp_id"]).throttled(report.get("retry_after_s"))
        if report.get("stop") == "auth":
            self._connection_lost(report["whatsapp_id"], report.get("error") or "auth error")
        if live is not None:
            live.in_flight.discard(report["batch_id"])
            with db.connection_context():
                self._progress(live)
                self._pump(live)
        else:
            # The campaign stopped with this batch in flight (each stops within one message):
            # its counts moved after the stop's event. As many as the batches that were in
            # flight, once per stop.
            with db.connection_context():
                service.publish_campaign(self.tenant, report["campaign_id"])
        self._idle_check()

    def pump(self) -> None:
        """Plan what is due (the Directory's clock calls this at the wake-up time we gave)."""
        self.received += 1
        with db.connection_context():
            for live in list(self.live.values()):
                if live.progress_pending:
                    self._progress(live, rewake=True)
                self._pump(live)
        self._idle_check()

    # --- internals --------------------------------------------------------------------------

    def _redis(self):
        return get_redis(self.config.redis_url)

    def _refresh(self, campaign_id: int) -> None:
        with db.connection_context():
            row = self.tenant.select(Campaign).where(Campaign.id == campaign_id).first()
            if row is not None and row.status == PROGRAMADA and row.scheduled_at <= utcnow():
                row = self._start(row)
            if row is None or row.status != EM_ANDAMENTO:
                self.live.pop(campaign_id, None)
                self.adopted.pop(campaign_id, None)
                if row is None or row.status != PROGRAMADA:
                    flags.clear_running(self._redis(), self.keys, campaign_id)
                return
            live = self.live.get(campaign_id)
            if live is None or live.generation != row.generation:
                live = Live(row.id, row.generation, row.whatsapp_id)
                self.live[campaign_id] = live
                # (Re)starting: pacing settings may have been edited since the throttle began,
                # and slots promised before a pause belong to batches that were released.
                if row.whatsapp_id in self.throttles:
                    self.throttles[row.whatsapp_id].configure(self._pacing(row.whatsapp_id))
                self._throttle(row.whatsapp_id).rewind()
                self._progress(live)  # started, resumed or restarted: its status is news
            adopted = self.adopted.pop(campaign_id, None)
            if adopted is not None and adopted[0] == live.generation:
                _, batch_id, rows = adopted
                if batch_id not in live.in_flight:
                    live.in_flight.add(batch_id)
                    live.planned += 1
                    live.first_batch, live.first_until = batch_id, time.time() + FIRST_WAIT_S
                    self._throttle(live.whatsapp_id).taken(rows)
            flags.set_running(self._redis(), self.keys, row.id, row.generation)
            self._pump(live)

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

    def _throttle(self, whatsapp_id: int) -> SessionThrottle:
        throttle = self.throttles.get(whatsapp_id)
        if throttle is None:
            throttle = SessionThrottle(self.company_id, whatsapp_id, self._pacing(whatsapp_id))
            self.throttles[whatsapp_id] = throttle
        return throttle

    def _pacing(self, whatsapp_id: int) -> PacingSettings:
        with db.connection_context():
            settings = get_settings(self.tenant)
            connection = WhatsappConnection.get_or_none(WhatsappConnection.id == whatsapp_id)
        return pacing_for(settings, (connection.settings or {}) if connection else {})

    def _pump(self, live: Live) -> None:
        """Plan batches while the company's share of the budget allows and rows are due."""
        from actors.delivery import deliver_batch, deliver_first

        throttle = self._throttle(live.whatsapp_id)
        while len(live.in_flight) < self.budget.per_company:
            if live.first_batch in live.in_flight and time.time() < live.first_until:
                live.wake_at = live.first_until
                self.directory.wake(self.company_id, live.first_until)
                return
            first = live.planned == 0
            size = (
                min(self.config.batch_size, FIRST_BATCH_SIZE) if first else self.config.batch_size
            )
            slots, next_at = throttle.slots(size, HORIZON_S)
            if not slots:
                live.wake_at = next_at
                self.directory.wake(self.company_id, next_at)
                return
            planned = batches.plan_batch(
                live.campaign_id, self.company_id, live.whatsapp_id, live.generation, slots
            )
            if planned is None:
                throttle.give_back(len(slots))
                self._maybe_finish(live)
                return
            batch_id, size = planned
            if size < len(slots):
                throttle.give_back(len(slots) - size)
            live.in_flight.add(batch_id)
            live.planned += 1
            if first:
                live.first_batch, live.first_until = batch_id, time.time() + FIRST_WAIT_S
            delay_ms = max(0, int((slots[0][0] - time.time()) * 1000))
            actor = deliver_first if first else deliver_batch
            actor.send_with_options(args=(batch_id,), delay=delay_ms or None)

    def _maybe_finish(self, live: Live) -> None:
        if live.in_flight:
            # Reports die with a killed worker; the database knows which batches are done.
            live.in_flight -= batches.finished(sorted(live.in_flight))
        if live.in_flight:
            return
        open_rows = batches.open_rows(live.campaign_id)
        if not open_rows:
            finished = (
                Campaign.update(status=FINALIZADA, completed_at=utcnow(), updated_at=utcnow())
                .where((Campaign.id == live.campaign_id) & (Campaign.status == EM_ANDAMENTO))
                .execute()
            )
            flags.clear_running(self._redis(), self.keys, live.campaign_id)
            self.live.pop(live.campaign_id, None)
            if finished:
                log.info(
                    "campaign finished",
                    extra={"company_id": self.company_id, "campaign_id": live.campaign_id},
                )
                service.publish_campaign(self.tenant, live.campaign_id)
            return
        due_in = batches.next_due_in_s(live.campaign_id)
        if due_in is not None:
            live.wake_at = time.time() + max(due_in, 0.2)
            self.directory.wake(self.company_id, live.wake_at)
        elif open_rows.get(RowStatus.AWAITING) and not (open_rows.keys() - {RowStatus.AWAITING}):
            # Only confirmations outstanding: a reply re-opens a row (and notifies us); look
            # again now and then so the campaign ends when the window closes.
            live.wake_at = time.time() + 60.0
            self.directory.wake(self.company_id, live.wake_at)
        elif open_rows.get(RowStatus.QUEUED):
            # Rows in batches this actor does not track (planned before an engine restart): the
            # clock re-sends stale batches; look again shortly.
            live.wake_at = time.time() + 5.0
            self.directory.wake(self.company_id, live.wake_at)

    def _progress(self, live: Live, rewake: bool = False) -> None:
        """Publish the campaign's record now if the limit allows, else hold it and ask to be
        woken when it does: on the first report held back, or (``rewake``) from a wake-up that
        came earlier (the Directory keeps one wake-up time per company, the earliest)."""
        now = time.monotonic()
        if now < live.progress_at:
            if rewake or not live.progress_pending:
                self.directory.wake(self.company_id, time.time() + live.progress_at - now)
            live.progress_pending = True
            return
        service.publish_campaign(self.tenant, live.campaign_id)
        took = time.monotonic() - now
        live.progress_pending = False
        live.progress_at = now + took + max(PROGRESS_MIN_S, PROGRESS_COST_FACTOR * took)

    def _pause(self, campaign_id: int, reason: str) -> None:
        Campaign.update(status=PAUSADA, pause_reason=reason, updated_at=utcnow()).where(
            (Campaign.id == campaign_id) & (Campaign.status.in_((EM_ANDAMENTO, PROGRAMADA)))
        ).execute()
        flags.clear_running(self._redis(), self.keys, campaign_id)
        self.live.pop(campaign_id, None)
        log.warning(
            "campaign paused",
            extra={"company_id": self.company_id, "campaign_id": campaign_id, "reason": reason},
        )
        service.publish_campaign(self.tenant, campaign_id)

    def _connection_lost(self, whatsapp_id: int, error: str) -> None:
        """The provider refused our credentials: pause every campaign on the connection."""
        with db.connection_context():
            WhatsappConnection.update(
                status=ConnectionStatus.DISCONNECTED, updated_at=utcnow()
            ).where(WhatsappConnection.id == whatsapp_id).execute()
            connections.publish_connection(self.tenant, whatsapp_id)
            for live in [c for c in self.live.values() if c.whatsapp_id == whatsapp_id]:
                self._pause(live.campaign_id, f"connection {whatsapp_id} lost: {error}")

    def _idle_check(self) -> None:
        if not self.live:
            self.directory.company_idle(self.company_id, self.received)
