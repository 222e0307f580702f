"""CompanyLifecycle, alone: every transition and every status rule of the original
(shared/reference/WHATICKET.md), on the real PostgreSQL and Redis, with a fake outbox and clock —
no Pykka, no Dramatiq, no running engine. A "worker" here is the real SQL a worker runs
(claim, record) followed by the report it sends."""

from __future__ import annotations

import datetime
import time

import pytest

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from zapx import cache
from zapx.campaigns import batches, flags
from zapx.campaigns.lifecycle import (
    CANCELADA,
    EM_ANDAMENTO,
    FINALIZADA,
    INATIVA,
    PAUSADA,
    PROGRAMADA,
)
from zapx.campaigns.pacing import pacing_for
from zapx.db import Alert, CampaignBatch, CampaignSetting, CampaignShipping, ContactListItem, db
from zapx.db import WhatsappConnection as Whatsapp
from zapx.db.campaign_models import Campaign
from zapx.engine import commands, planning
from zapx.engine.duties import Duties
from zapx.engine.lifecycle import AUDIENCE_WAIT_S, PROGRESS_MIN_S, CompanyLifecycle
from zapx.engine.live import Budget
from zapx.engine.messages import BatchReport, Outcome, Stop
from zapx.engine.planning import FIRST_WAIT_S
from zapx.engine.runflags import RunFlags
from zapx.errors import Conflict
from zapx.redis import Keys, get_redis
from zapx.schedule import Grant, SendGate


class FakeOutbox:
    def __init__(self):
        self.sent: list[tuple[int, bool, float]] = []
        self.alerts: list[tuple[int, str]] = []

    def send_alert(self, alert_id: int, kind: str) -> None:
        self.alerts.append((alert_id, kind))

    def send_batch(self, batch_id: int, company_id: int, first: bool, delay_s: float) -> None:
        assert company_id > 0
        self.sent.append((batch_id, first, delay_s))

    def send_first_batches(self, batches, counted=False) -> None:
        for batch_id, company_id in batches:
            self.send_batch(batch_id, company_id, True, 0.0)

    def take(self) -> list[int]:
        ids = [b for b, _, _ in self.sent]
        self.sent.clear()
        return ids


class FakeClock:
    """Epoch seconds that move only when the test says (starting at the real time: the SQL
    compares retry times with PostgreSQL's now())."""

    def __init__(self):
        self.now = datetime.datetime.now(datetime.UTC).timestamp()

    def __call__(self) -> float:
        return self.now


class World:
    """One company with a CONNECTED connection, a list and a lifecycle wired to fakes."""

    def __init__(self, config, size: int, *, interval: float = 0, budget: int = 4):
        self.config = config
        self.company_id = make_company("lifecycle")
        self.list_id = make_list(self.company_id, size)
        with db.connection_context(), db.atomic():
            self.whatsapp_id = Whatsapp.create(
                company=self.company_id, name="w", status="CONNECTED", is_default=True
            ).id
            for key, value in {"messageInterval": interval, "longerIntervalAfter": 0}.items():
                CampaignSetting.create(company=self.company_id, key=key, value=value)
        self.redis = get_redis(config.redis_url)
        self.keys = Keys(config.redis_prefix + "lifecycle:")
        self.flags = RunFlags(self.redis, self.keys)
        self.outbox, self.clock = FakeOutbox(), FakeClock()
        self.wakes: list[float] = []
        self.published: list[int] = []
        self.budget = Budget(budget)
        self.lifecycle = self.new_lifecycle()

    def new_lifecycle(self, adopted=()) -> CompanyLifecycle:
        return CompanyLifecycle(
            self.company_id,
            config=self.config,
            budget=self.budget,
            outbox=self.outbox,
            flags=self.flags,
            wake=self.wakes.append,
            publish=self.published.append,
            clock=self.clock,
            adopted=adopted,
        )

    def campaign(self, status=PROGRAMADA, **fields) -> int:
        fields = {
            "name": "c",
            "status": status,
            "contact_list": self.list_id,
            "message1": "Oi {nome}",
            "scheduled_at": datetime.datetime.now(datetime.UTC),
        } | fields
        with db.connection_context():
            return Campaign.create(company=self.company_id, **fields).id

    def row(self, campaign_id: int) -> Campaign:
        with db.connection_context():
            return Campaign.get_by_id(campaign_id)

    def flag(self, campaign_id: int) -> int | None:
        value = self.redis.get(flags.run_key(self.keys, self.company_id, campaign_id))
        return None if value is None else int(value)

    def statuses(self, campaign_id: int) -> dict[str, int]:
        with db.connection_context():
            rows = CampaignShipping.select().where(CampaignShipping.campaign == campaign_id)
            out: dict[str, int] = {}
            for r in rows:
                out[r.status] = out.get(r.status, 0) + 1
        return out

    def deliver(self, batch_id: int, outcome="sent", stop: Stop | None = None, error=None):
        """What a worker does with a batch: claim, record every row as ``outcome``, report."""
        with db.connection_context():
            claim = batches.claim_batch(batch_id, 60)
            assert claim is not None
            done = [Outcome(r.id, outcome, f"wamid.{r.id}", error, "Oi") for r in claim.rows]
            batches.finish_batch(batch_id, done if stop is None else done[:1])
        self.lifecycle.record(
            BatchReport(
                self.company_id,
                claim.campaign_id,
                claim.whatsapp_id,
                batch_id,
                claim.generation,
                stop=stop,
                error=error,
                sent=len(done),
            )
        )

    def run_out(self, limit: int = 200) -> None:
        """Deliver every batch sent until none is left, moving the clock past each wait."""
        for _ in range(limit):
            sent = self.outbox.take()
            if not sent:
                self.clock.now += FIRST_WAIT_S + 1
                self.lifecycle.pump()
                sent = self.outbox.take()
                if not sent:
                    return
            for batch_id in sent:
                self.deliver(batch_id)
        raise AssertionError("the campaign never ran out of batches")


@pytest.fixture
def world(config, clean_db):
    made = []

    def make(size=5, **kw) -> World:
        made.append(World(config, size, **kw))
        return made[-1]

    yield make
    for w in made:
        found = list(w.redis.scan_iter(match=w.keys.prefix + "*"))
        if found:
            w.redis.delete(*found)


# --- start ------------------------------------------------------------------------------------


def test_a_due_campaign_starts_with_its_audience_and_first_batch(world):
    w = world(size=5)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    row = w.row(campaign_id)
    assert row.status == EM_ANDAMENTO and row.started_at is not None and row.total == 5
    assert row.whatsapp_id == w.whatsapp_id  # the company's default connection
    assert w.flag(campaign_id) == row.generation
    [(batch_id, first, delay_s)] = w.outbox.sent
    assert first and delay_s == 0.0
    with db.connection_context():
        assert CampaignBatch.get_by_id(batch_id).size == planning.FIRST_BATCH_SIZE
    assert w.published == [campaign_id]  # started: its status is news


def test_only_items_that_may_be_on_whatsapp_are_snapshotted_once(world):
    w = world(size=4)
    with db.connection_context():
        ContactListItem.update(is_whatsapp_valid=False).where(
            ContactListItem.number.endswith("0")
        ).execute()
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    w.lifecycle.refresh(campaign_id)  # unique on (campaign, contact): nothing twice
    assert w.row(campaign_id).total == 3
    assert sum(w.statuses(campaign_id).values()) == 3


@pytest.mark.parametrize("status", [INATIVA, PROGRAMADA])
def test_an_inactive_or_future_campaign_does_not_start(world, status):
    w = world()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    campaign_id = w.campaign(status, scheduled_at=later)
    w.lifecycle.refresh(campaign_id)
    assert w.row(campaign_id).status == status and w.outbox.sent == []
    assert w.lifecycle.idle


@pytest.mark.parametrize("problem", ["disconnected", "empty list", "no list"])
def test_a_campaign_that_cannot_start_is_paused_with_the_reason(world, problem):
    w = world(size=0 if problem == "empty list" else 3)
    if problem == "disconnected":
        with db.connection_context():
            Whatsapp.update(status="DISCONNECTED").execute()
    campaign_id = w.campaign(contact_list=None if problem == "no list" else w.list_id)
    w.flags.set(w.company_id, campaign_id, 0)
    w.lifecycle.refresh(campaign_id)
    row = w.row(campaign_id)
    assert row.status == PAUSADA and row.pause_reason.startswith("cannot start: ")
    assert w.flag(campaign_id) is None and w.outbox.sent == [] and w.lifecycle.idle
    assert w.published == [campaign_id]


# --- plan, record, finish ----------------------------------------------------------------------


def test_planning_a_batch_invalidates_the_companys_cached_reports(world):
    w = world(size=10)
    version = cache.version_key(w.keys.prefix, w.company_id, cache.REPORTS)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)  # the first batch: its rows pending -> queued
    assert len(w.outbox.take()) == 1 and w.redis.get(version) == b"1"
    w.clock.now += FIRST_WAIT_S
    w.lifecycle.pump()  # the next batches
    assert int(w.redis.get(version)) == 1 + len(w.outbox.take()) > 1


def test_the_second_batch_waits_for_the_first_report_at_most_first_wait_s(world):
    w = world(size=10)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    [first] = w.outbox.take()
    assert w.wakes[-1] == w.clock.now + FIRST_WAIT_S
    w.lifecycle.pump()
    assert w.outbox.sent == []  # still waiting for the first one
    w.clock.now += FIRST_WAIT_S
    w.lifecycle.pump()
    assert [not f for _, f, _ in w.outbox.sent] == [True]  # no report: it goes anyway


def test_a_report_plans_the_next_batches_within_the_budget(world):
    w = world(size=200, budget=3)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    w.deliver(w.outbox.take()[0])
    planned = w.outbox.take()
    assert len(planned) == 3  # the company's share of the in-flight budget
    with db.connection_context():
        sizes = [CampaignBatch.get_by_id(b).size for b in planned]
    assert sizes == [w.config.batch_size] * 3
    # Started: published; the report's progress, within PROGRESS_MIN_S of that, is held back
    # for a wake-up.
    assert w.published == [campaign_id] and w.clock.now + PROGRESS_MIN_S in w.wakes


def test_the_campaign_is_finalizada_when_every_row_is_done(world):
    w = world(size=60)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    w.run_out()
    row = w.row(campaign_id)
    assert row.status == FINALIZADA and row.completed_at is not None
    assert w.statuses(campaign_id) == {"sent": 60}
    assert w.flag(campaign_id) is None and w.lifecycle.idle
    assert w.published[-1] == campaign_id


def test_a_lost_report_does_not_keep_the_campaign_running(world):
    w = world(size=1)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    [batch_id] = w.outbox.take()
    with db.connection_context():  # the worker recorded the batch, then died before reporting
        claim = batches.claim_batch(batch_id, 60)
        batches.finish_batch(batch_id, [Outcome(r.id, "sent") for r in claim.rows])
    w.clock.now += FIRST_WAIT_S
    w.lifecycle.pump()
    assert w.row(campaign_id).status == FINALIZADA


def test_rows_to_retry_later_wake_the_company_when_they_are_due(world):
    w = world(size=1)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    [batch_id] = w.outbox.take()
    with db.connection_context():
        claim = batches.claim_batch(batch_id, 60)
        batches.finish_batch(batch_id, [Outcome(claim.rows[0].id, "pending", delay_s=30)])
    w.lifecycle.record(BatchReport(w.company_id, campaign_id, w.whatsapp_id, batch_id, 0))
    assert w.row(campaign_id).status == EM_ANDAMENTO and w.outbox.sent == []
    assert 29 < w.wakes[-1] - w.clock.now <= 31


def test_awaiting_confirmations_keep_the_campaign_running(world):
    w = world(size=1)
    campaign_id = w.campaign(confirmation=True, confirmation_message1="Pode?")
    w.lifecycle.refresh(campaign_id)
    [batch_id] = w.outbox.take()
    w.deliver(batch_id, outcome="awaiting")
    assert w.row(campaign_id).status == EM_ANDAMENTO
    assert w.wakes[-1] == pytest.approx(w.clock.now + 60.0)  # looks again for the window's end


def test_progress_events_are_limited_per_campaign(world):
    w = world(size=200, budget=6)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    w.deliver(w.outbox.take()[0])
    w.published.clear()
    for batch_id in w.outbox.take():
        w.deliver(batch_id)  # within PROGRESS_MIN_S of the last event: held back
    assert w.published == []
    w.clock.now += PROGRESS_MIN_S
    w.lifecycle.pump()
    assert w.published == [campaign_id]


# --- pause, resume, cancel, restart ------------------------------------------------------------


def running(w, size_sent=True) -> int:
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    if size_sent:
        w.deliver(w.outbox.take()[0])
    return campaign_id


def test_pause_stops_the_flag_and_planning_and_resume_goes_on(world):
    w = world(size=200, budget=2)
    campaign_id = running(w)
    in_flight = w.outbox.take()
    w.lifecycle.command(campaign_id, "pause", "paused by a user")
    row = w.row(campaign_id)
    assert row.status == PAUSADA and row.pause_reason == "paused by a user"
    assert w.flag(campaign_id) is None and w.lifecycle.idle
    for batch_id in in_flight:  # workers find it stopped: their batches plan nothing more
        w.deliver(batch_id, stop=Stop.STOPPED)
    assert w.outbox.sent == []
    w.lifecycle.command(campaign_id, "resume")
    assert w.row(campaign_id).status == EM_ANDAMENTO and w.flag(campaign_id) == 0
    assert w.outbox.sent and not w.lifecycle.idle
    w.run_out()
    assert w.row(campaign_id).status == FINALIZADA
    assert w.statuses(campaign_id) == {"sent": 200}  # each contact once


def test_cancel_stops_sending_and_restart_sends_only_what_was_not_sent(world):
    w = world(size=120, budget=1)
    campaign_id = running(w)
    w.deliver(w.outbox.take()[0])  # 1 + 50 sent
    w.outbox.take()  # one batch queued, never delivered
    w.lifecycle.command(campaign_id, "cancel")
    row = w.row(campaign_id)
    assert row.status == CANCELADA and w.flag(campaign_id) is None and w.lifecycle.idle
    assert w.statuses(campaign_id) == {"sent": 51, "pending": 69}  # queued rows back
    w.lifecycle.command(campaign_id, "restart")
    row = w.row(campaign_id)
    assert row.status == EM_ANDAMENTO and row.generation == 1 and w.flag(campaign_id) == 1
    w.run_out()
    assert w.row(campaign_id).status == FINALIZADA
    assert w.statuses(campaign_id) == {"sent": 120}


def test_a_campaign_paused_before_it_started_resumes_as_a_first_start(world):
    w = world(size=3)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    campaign_id = w.campaign(scheduled_at=later)
    w.lifecycle.command(campaign_id, "cancel")
    w.lifecycle.command(campaign_id, "restart")  # never started: PROGRAMADA due now, then starts
    row = w.row(campaign_id)
    assert row.status == EM_ANDAMENTO and row.total == 3


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (INATIVA, "pause"),
        (PROGRAMADA, "pause"),
        (FINALIZADA, "pause"),
        (EM_ANDAMENTO, "resume"),
        (CANCELADA, "resume"),
        (FINALIZADA, "cancel"),
        (CANCELADA, "cancel"),
        (EM_ANDAMENTO, "restart"),
        (FINALIZADA, "restart"),
        (PAUSADA, "restart"),
    ],
)
def test_a_command_the_status_does_not_allow_is_refused_and_changes_nothing(world, status, name):
    w = world()
    campaign_id = w.campaign(status)
    w.flags.set(w.company_id, campaign_id, 0)
    with pytest.raises(Conflict):
        w.lifecycle.command(campaign_id, name)
    assert w.row(campaign_id).status == status and w.flag(campaign_id) == 0


def test_a_running_campaign_cannot_be_deleted(world):
    w = world()
    campaign_id = running(w, size_sent=False)
    with db.connection_context(), pytest.raises(Conflict):
        commands.delete(w.lifecycle.tenant, w.flags, campaign_id)
    assert w.flag(campaign_id) == 0
    w.lifecycle.command(campaign_id, "cancel")
    with db.connection_context():
        commands.delete(w.lifecycle.tenant, w.flags, campaign_id)
        assert Campaign.get_or_none(Campaign.id == campaign_id) is None


# --- connection lost and back, throttles --------------------------------------------------------


def test_an_auth_failure_disconnects_and_pauses_every_campaign_on_the_connection(world):
    w = world(size=200, budget=2)
    one, two = running(w), running(w)
    w.outbox.take()
    with db.connection_context():
        planned = (
            CampaignBatch.select()
            .where((CampaignBatch.campaign == one) & (CampaignBatch.status == "planned"))
            .first()
        )
    w.deliver(planned.id, stop=Stop.AUTH, error="190: token expired")
    with db.connection_context():
        assert Whatsapp.get_by_id(w.whatsapp_id).status == "DISCONNECTED"
    for campaign_id in (one, two):
        row = w.row(campaign_id)
        assert row.status == PAUSADA and "lost: 190: token expired" in row.pause_reason
        assert w.flag(campaign_id) is None
    assert w.lifecycle.idle and w.outbox.sent == []
    # Back: CONNECTED again, a resume runs it (refused while the connection is down).
    with pytest.raises(Conflict):
        w.lifecycle.command(one, "resume")
    with db.connection_context():
        Whatsapp.update(status="CONNECTED").execute()
    w.lifecycle.command(one, "resume")
    assert w.row(one).status == EM_ANDAMENTO and w.outbox.sent


def test_a_connection_set_disconnected_pauses_its_campaigns(world):
    w = world(size=100)
    campaign_id = running(w)
    with db.connection_context():
        changed = commands.connection_down(w.lifecycle.tenant, w.flags, w.whatsapp_id, "gone")
    assert [c.campaign_id for c in changed] == [campaign_id]
    assert w.row(campaign_id).status == PAUSADA and w.flag(campaign_id) is None
    w.lifecycle.refresh(campaign_id)  # the engine hears of it
    assert w.lifecycle.idle


def test_a_throttle_report_slows_the_connection(world):
    w = world(size=200, budget=1)
    campaign_id = running(w)
    throttle = w.lifecycle.throttles.local[w.whatsapp_id]
    before = throttle.pacer.rate(w.clock.now)
    w.deliver(w.outbox.take()[0], stop=Stop.THROTTLE)
    assert throttle.pacer.rate(w.clock.now) < before
    assert w.row(campaign_id).status == EM_ANDAMENTO


def test_a_spam_rate_limit_report_pauses_the_campaign_at_once_and_opens_one_alert(world):
    """Cloud 131048, the worker's pause missing (PostgreSQL was down for it): the report
    pauses the campaign with the reason (not at the alert rules' next evaluation), slows the
    connection, opens spam_rate_limit once and asks for its webhook; a second such report of a
    batch that was in flight touches the same alert."""
    w = world(size=200, budget=2)
    campaign_id, other = running(w), running(w)
    w.outbox.take()
    with db.connection_context():
        first = (
            CampaignBatch.select()
            .where((CampaignBatch.campaign == campaign_id) & (CampaignBatch.status == "planned"))
            .first()
        )
    throttle = w.lifecycle.throttles.local[w.whatsapp_id]
    before = throttle.pacer.rate(w.clock.now)
    error = "400 131048: (#131048) Spam rate limit hit"
    w.deliver(first.id, stop=Stop.SPAM, error=error)
    row = w.row(campaign_id)
    assert row.status == PAUSADA and row.pause_reason.startswith("spam rate limit hit")
    assert error in row.pause_reason and w.flag(campaign_id) is None
    assert w.row(other).status == EM_ANDAMENTO  # only the campaign that hit it
    assert throttle.pacer.rate(w.clock.now) < before
    with db.connection_context():
        alert = Alert.get(Alert.rule == "spam_rate_limit")
    assert (alert.company_id, alert.subject, alert.status) == (
        w.company_id,
        f"campaign:{campaign_id}",
        "open",
    )
    assert w.outbox.alerts == [(alert.id, "opened")]
    # A batch that was in flight reports the same later: the alert is touched, not reopened.
    late = BatchReport(
        w.company_id, campaign_id, w.whatsapp_id, first.id, first.generation, stop=Stop.SPAM
    )
    w.lifecycle.record(late)
    with db.connection_context():
        assert Alert.get_by_id(alert.id).occurrences == 2
    assert w.outbox.alerts == [(alert.id, "opened")]
    assert w.row(campaign_id).status == PAUSADA


# --- first batches planned in bulk, recovery ----------------------------------------------------


def test_a_first_batch_planned_in_bulk_is_adopted_and_its_slot_taken(world):
    w = world(size=10, interval=3)
    campaign_id = w.campaign()
    duties = Duties(w.config, w.outbox, w.flags)
    with db.connection_context():
        [(started, [first])] = duties.start_due()
    assert started == [(w.company_id, campaign_id)]
    assert w.outbox.sent == [(first.batch_id, True, 0.0)] and w.flag(campaign_id) == 0
    w.outbox.take()
    fresh = w.new_lifecycle(adopted=[first])
    w.lifecycle = fresh
    fresh.recover()
    live = fresh.live[campaign_id]
    assert live.in_flight == {first.batch_id} and live.planned == 1
    # The throttle counted the first send: the next slot is a paced gap after it.
    assert fresh.throttles.local[w.whatsapp_id].pacer.next_at >= w.clock.now + 3 * 0.5
    w.deliver(first.batch_id)
    assert w.outbox.sent == []  # paced: the next slot is beyond now
    assert w.wakes[-1] > w.clock.now


def test_a_campaign_whose_audience_is_pending_is_not_finished_until_it_is_complete(world):
    """Started in bulk with its first row only: that row sent, nothing is open, yet the
    campaign runs on (a wake-up shortly) until the rest of its audience is copied; then it sends
    every row once and finishes."""
    w = world(size=4)
    campaign_id = w.campaign()
    duties = Duties(w.config, w.outbox, w.flags)
    with db.connection_context():
        [(started, [first])] = duties.start_due()
    assert started == [(w.company_id, campaign_id)]
    row = w.row(campaign_id)
    assert (row.total, row.audience_pending) == (1, True)
    w.outbox.take()
    w.lifecycle = w.new_lifecycle(adopted=[first])
    w.lifecycle.recover()
    w.deliver(first.batch_id)
    assert w.statuses(campaign_id) == {"sent": 1}
    for _ in range(3):  # however often it looks, it does not finish
        w.clock.now += FIRST_WAIT_S + 1
        w.lifecycle.pump()
        assert w.row(campaign_id).status == EM_ANDAMENTO and campaign_id in w.lifecycle.live
        assert w.wakes[-1] == pytest.approx(w.clock.now + AUDIENCE_WAIT_S)
    assert w.outbox.take() == []
    with db.connection_context():
        assert duties.complete_audiences() == [(w.company_id, campaign_id)]
    w.lifecycle.refresh(campaign_id)  # what the Directory sends on completion
    w.run_out()
    row = w.row(campaign_id)
    assert (row.status, row.total, row.audience_pending) == (FINALIZADA, 4, False)
    assert w.statuses(campaign_id) == {"sent": 4}


def test_a_new_lifecycle_recovers_running_campaigns_from_the_database(world):
    w = world(size=100, budget=1)
    campaign_id = running(w)
    [lost] = w.outbox.take()  # in flight when the engine died
    w.redis.delete(flags.run_key(w.keys, w.company_id, campaign_id))  # and Redis lost the flag
    w.lifecycle = w.new_lifecycle()
    w.lifecycle.recover()
    assert w.flag(campaign_id) == 0 and campaign_id in w.lifecycle.live
    w.deliver(lost)  # the worker's report reaches the new lifecycle
    w.run_out()
    assert w.row(campaign_id).status == FINALIZADA
    assert w.statuses(campaign_id) == {"sent": 100}


def test_a_first_batch_planned_here_is_spaced_through_redis_like_a_bulk_one(world):
    """Planned by the lifecycle (the API's command came first) or in bulk, a paced campaign's
    first send carries the connection's minimum gap, as every slot the planner gives does (the
    send gate, ``zapx.schedule``, then spaces it at the moment it leaves)."""
    w = world(size=3, interval=2)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    [(batch_id, first, _)] = w.outbox.sent
    with db.connection_context():
        [[_, gap]] = CampaignBatch.get_by_id(batch_id).slots
    assert first and gap == pytest.approx(2 * (1 - 0.3))


# --- the connection's throttle: sharing, finishing, rebuilding ---------------------------------


def test_a_paced_campaign_finishes_when_its_last_batch_reports_not_a_slot_later(world):
    w = world(size=2, interval=5)  # each batch one slot; the next slot 5 s away
    campaign_id = running(w)  # the first batch sent; the second slot beyond the horizon
    assert w.outbox.sent == []
    w.clock.now += 5
    w.lifecycle.pump()
    [last] = w.outbox.take()
    w.deliver(last)  # the last row: nothing left to plan, whenever the next slot would be
    assert w.row(campaign_id).status == FINALIZADA


def test_a_second_campaign_on_a_busy_connection_gets_the_next_batch(world):
    w = world(size=400, interval=0.1, budget=50)
    one = running(w)
    w.clock.now += 0.5
    w.lifecycle.pump()
    assert w.row(one).status == EM_ANDAMENTO
    w.list_id = make_list(w.company_id, 50, name="second", prefix="55118")
    two = running(w)  # its first batch, then it wants slots
    by_campaign: dict[int, int] = {one: 0, two: 0}
    for _ in range(40):  # 10 s of planning rounds; every batch delivered when planned
        for batch_id in w.outbox.take():
            with db.connection_context():
                batch = CampaignBatch.get_by_id(batch_id)
            by_campaign[batch.campaign_id] += batch.size
            w.deliver(batch_id)
        w.clock.now += 0.25
        w.lifecycle.pump()
    assert by_campaign[two] >= 40, by_campaign
    assert abs(by_campaign[one] - by_campaign[two]) <= w.config.batch_size, by_campaign


def test_a_rebuilt_throttle_starts_from_the_gates_state(world):
    w = world(size=100, interval=0.5, budget=2)
    gate = SendGate(w.redis, w.keys)
    fast = pacing_for({"messageInterval": 0.01, "jitter": 0, "longerIntervalAfter": 4}, {})
    for i in range(4):  # 4 sends on the connection before the engine died: the pause is due
        grant = gate.acquire(w.whatsapp_id, w.company_id, 0, f"55{i}", fast, holder=f"h{i}")
        assert isinstance(grant, Grant), grant
        gate.release(w.whatsapp_id, w.company_id, f"h{i}")
        time.sleep(0.02)
    with db.connection_context(), db.atomic():
        CampaignSetting.update(value=4).where(
            (CampaignSetting.company == w.company_id)
            & (CampaignSetting.key == "longerIntervalAfter")
        ).execute()
    settings = pacing_for({"messageInterval": 0.5, "longerIntervalAfter": 4}, {})
    state = gate.state(w.whatsapp_id, w.company_id, settings)
    assert state.sends_since_pause == 4
    campaign_id = w.campaign()
    w.lifecycle = w.new_lifecycle()
    w.lifecycle.gate = gate
    w.lifecycle.refresh(campaign_id)
    throttle = w.lifecycle.throttles.local[w.whatsapp_id]
    # The long pause (60 s) after the 4 sends made before the restart: nothing planned before.
    assert w.outbox.sent == [] and w.wakes[-1] >= w.clock.now + 59
    assert throttle.pacer.next_at >= w.clock.now + 59 and throttle.pacer.gap_before_next >= 60


# --- Redis lost its data (restarted without persistence, flushed) -------------------------------


def _flush(w: World) -> None:
    """What a Redis restarted empty leaves of this world's keys: nothing."""
    found = list(w.redis.scan_iter(match=w.keys.prefix + "*"))
    if found:
        w.redis.delete(*found)


def test_redis_losing_its_data_gets_the_run_flags_and_the_batch_messages_back(world):
    w = world(size=300, budget=3)
    campaign_id = running(w)
    paused_id = running(w)
    w.lifecycle.command(paused_id, "pause", "paused by a user")
    assert w.row(paused_id).status == PAUSADA
    w.outbox.take()
    with db.connection_context():
        in_flight = sorted(  # their messages in the queue
            b.id for b in CampaignBatch.select().where(CampaignBatch.status == "planned")
        )
    assert in_flight
    duties = Duties(w.config, w.outbox, w.flags)
    with db.connection_context():
        duties.redis_lost()  # the first look sets the mark (and rebuilds: nothing lost)
        w.outbox.take()
        assert duties.redis_lost() is None  # nothing lost since: one SET NX, nothing sent
        assert w.outbox.sent == []
        _flush(w)
        assert w.flag(campaign_id) is None  # every batch would be stopped by its worker
        rebuilt = duties.redis_lost()
    assert rebuilt == (1, len(in_flight))
    assert w.row(campaign_id).status == EM_ANDAMENTO
    assert w.flag(campaign_id) == w.row(campaign_id).generation
    assert w.flag(paused_id) is None  # a paused campaign stays stopped
    assert sorted(b for b, _, _ in w.outbox.sent) == in_flight
    assert all(not first and delay >= 0 for _, first, delay in w.outbox.sent)
