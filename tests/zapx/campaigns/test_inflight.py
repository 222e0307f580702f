"""A claim writes only its batch row: its rows stay ``queued`` in it and are seen ``sending``;
their attempt is counted at finish; a cancel gives back only rows of batches not claimed, even
when the claim races with it."""

import threading
import time

import pytest

from tests.zapx.campaigns.started import started_campaign
from zapx.campaigns import batches, inflight, report, service, shipping
from zapx.db import CampaignBatch, CampaignShipping, Tenant, db
from zapx.db.campaign_models import Campaign
from zapx.engine.messages import Outcome


@pytest.fixture
def running(clean_db):
    """A running campaign of 5 contacts: (company id, campaign id, whatsapp id)."""
    return started_campaign("inflight", 5)


def plan(running, size: int) -> int:
    company_id, campaign_id, whatsapp_id = running
    with db.connection_context():
        batch_id, planned = batches.plan_batch(
            campaign_id, company_id, whatsapp_id, 0, [[time.time(), 0.0]] * size
        )
    assert planned == size
    return batch_id


def stored(campaign_id: int) -> dict[int, tuple]:
    """Each row's (stored status, batch id, attempts, xmin: its version)."""
    with db.connection_context():
        rows = db.execute_sql(
            "SELECT id, status, batch_id, attempts, xmin::text FROM campaign_shipping "
            "WHERE campaign_id = %s ORDER BY id",
            (campaign_id,),
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def seen(running) -> tuple[dict, dict, dict]:
    """What readers see: the report's counts, the engine's open rows, the contacts page."""
    company_id, campaign_id, _ = running
    with db.connection_context():
        campaign = Campaign.get_by_id(campaign_id)
        counts = report._report(campaign)["counts"]
        open_rows = batches.open_rows(campaign_id)
        page = shipping.shipping_page(Tenant(company_id), campaign_id, None, None, 1)
    return counts, open_rows, {r["id"]: r["status"] for r in page["records"]}


def test_a_claim_writes_no_row_and_its_rows_are_seen_sending(running):
    _, campaign_id, _ = running
    sending, queued = plan(running, 3), plan(running, 2)
    before = stored(campaign_id)
    with db.connection_context():
        claim = batches.claim_batch(sending, 60)
    after = stored(campaign_id)
    assert after == before  # not one row version more: only the batch row was written
    assert {v[:3] for v in after.values()} == {("queued", sending, 0), ("queued", queued, 0)}
    assert [r.attempts for r in claim.rows] == [1, 1, 1]  # the attempt the sender makes

    counts, open_rows, page = seen(running)
    assert (counts["sending"], counts["queued"]) == (3, 2)
    assert open_rows == {"sending": 3, "queued": 2}
    assert sorted(page.values()) == ["queued"] * 2 + ["sending"] * 3
    company_id = running[0]
    with db.connection_context():
        for status, n in (("sending", 3), ("queued", 2), ("pending", 0)):
            rows = shipping.shipping_page(Tenant(company_id), campaign_id, status, None, 1)
            assert [r["status"] for r in rows["records"]] == [status] * n
        csv = b"".join(shipping.shipping_csv(Tenant(company_id), campaign_id, "sending"))
    assert csv.decode().count(",sending,") == 3


def test_the_finish_counts_each_attempt_and_a_late_one_changes_nothing(running):
    _, campaign_id, _ = running
    batch_id = plan(running, 5)
    with db.connection_context():
        ids = [r.id for r in batches.claim_batch(batch_id, 60).rows]
        outcomes = [
            Outcome(ids[0], "sent", "wamid.1", None, "Oi"),
            Outcome(ids[1], "pending", None, "timeout", None, 30.0),
            Outcome(ids[2], "throttled", None, "429", None, 5.0),
        ]  # ids[3:] not reached
        assert batches.finish_batch(batch_id, outcomes) == 3
        late = [Outcome(i, "failed", None, "late", "Oi") for i in ids]
        assert batches.finish_batch(batch_id, late) == 0
    rows = stored(campaign_id)
    assert [rows[i][:3] for i in ids] == [
        ("sent", batch_id, 1),
        ("pending", None, 1),
        ("pending", None, 0),  # a throttle uses no attempt
        ("pending", None, 0),
        ("pending", None, 0),
    ]
    with db.connection_context():
        assert CampaignShipping.get_by_id(ids[0]).provider_message_id == "wamid.1"


def test_an_expired_batch_without_progress_counts_the_attempt_of_its_unknown_rows(running):
    _, campaign_id, _ = running
    batch_id = plan(running, 5)
    with db.connection_context():
        batches.claim_batch(batch_id, 0.001)
        time.sleep(0.01)
        batches.expire_leases(lambda batch_ids: {})
    assert {v[:3] for v in stored(campaign_id).values()} == {("unknown", batch_id, 1)}


def test_cancel_gives_back_only_the_rows_of_batches_not_claimed(running):
    """The claimed batch's rows may be on the wire: they stay in it (seen sending), so a restart
    cannot send them again; its worker records what it sent and gives back the rest."""
    company_id, campaign_id, _ = running
    in_flight, waiting = plan(running, 3), plan(running, 2)
    with db.connection_context():
        ids = [r.id for r in batches.claim_batch(in_flight, 60).rows]
        service.command(Tenant(company_id), campaign_id, "cancel")
    rows = stored(campaign_id)
    assert [rows[i][:2] for i in ids] == [("queued", in_flight)] * 3
    assert sorted(v[:2] for i, v in rows.items() if i not in ids) == [("pending", None)] * 2
    counts, _, _ = seen(running)
    assert (counts["sending"], counts["queued"], counts["pending"]) == (3, 0, 2)
    with db.connection_context():
        assert CampaignBatch.get_by_id(waiting).size == 0
        assert batches.claim_batch(waiting, 60).rows == []  # its worker finds it empty
        batches.finish_batch(in_flight, [Outcome(ids[0], "sent", "wamid.x", None, "Oi")])
    rows = stored(campaign_id)
    assert [rows[i][:2] for i in ids] == [("sent", in_flight), ("pending", None), ("pending", None)]


def test_a_claim_racing_a_cancel_takes_none_of_the_rows_it_gave_back(running):
    """The claim waits for the cancel's lock on the batch row, then sees size 0: its
    statement's snapshot, older than the cancel's commit, still shows the rows queued."""
    _, campaign_id, _ = running
    batch_id = plan(running, 3)
    got = []

    def claim():
        with db.connection_context():
            got.append(batches.claim_batch(batch_id, 60))

    with db.connection_context(), db.atomic():
        assert inflight.release_planned(campaign_id) == 3
        thread = threading.Thread(target=claim)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # held by the cancel's lock on the batch row
    thread.join(10)
    assert len(got) == 1 and got[0].rows == []
    assert {v[:2] for v in stored(campaign_id).values()} == {("pending", None)}


def test_a_cancel_racing_a_claim_leaves_its_rows_alone(running):
    """The other order: the claim holds the batch row first, so the cancel's batch update waits
    for it, then finds the batch claimed and gives nothing back."""
    _, campaign_id, _ = running
    batch_id = plan(running, 5)
    released = []

    def cancel():
        with db.connection_context(), db.atomic():
            released.append(inflight.release_planned(campaign_id))

    with db.connection_context(), db.atomic():
        claim = batches.claim_batch(batch_id, 60)
        thread = threading.Thread(target=cancel)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # held by the claim's lock on the batch row
    thread.join(10)
    assert released == [0] and len(claim.rows) == 5
    assert {v[:2] for v in stored(campaign_id).values()} == {("queued", batch_id)}


def test_a_plan_takes_what_is_due_with_as_many_slots_and_no_batch_when_nothing_is(running):
    company_id, campaign_id, whatsapp_id = running
    slots = [[time.time() + i, 0.5] for i in range(8)]
    with db.connection_context():
        batch_id, size = batches.plan_batch(campaign_id, company_id, whatsapp_id, 3, slots)
        batch = CampaignBatch.get_by_id(batch_id)
        assert batches.plan_batch(campaign_id, company_id, whatsapp_id, 3, slots) is None
        assert CampaignBatch.select().count() == 1  # none made for nothing
    assert size == 5 and (batch.size, batch.slots, batch.generation) == (5, slots[:5], 3)
    assert (batch.status, batch.whatsapp_id, batch.company_id) == (
        "planned",
        whatsapp_id,
        company_id,
    )
    assert {v[:2] for v in stored(campaign_id).values()} == {("queued", batch_id)}
