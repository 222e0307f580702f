"""A batch whose worker died is finished from the progress it left in Redis; the clock starts
only the due campaigns that can start."""

import datetime
import time

import pytest

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from tests.zapx.campaigns.started import started_campaign
from zapx.campaigns import batches, starts
from zapx.db import CampaignBatch, CampaignShipping, ContactListItem, WhatsappConnection, db
from zapx.db.campaign_models import Campaign
from zapx.engine.messages import Outcome


@pytest.fixture
def claimed(clean_db):
    """A running campaign of 5 contacts whose only batch was claimed and whose lease is over:
    (batch id, row ids in the order the worker sends them)."""
    company_id, campaign_id, whatsapp_id = started_campaign("expiry", 5)
    with db.connection_context():
        now = time.time()
        batch_id, size = batches.plan_batch(
            campaign_id, company_id, whatsapp_id, 0, [[now, 0.0]] * 5
        )
        claim = batches.claim_batch(batch_id, 0.001)
    assert size == 5 and len(claim.rows) == 5
    time.sleep(0.01)
    return batch_id, [r.id for r in claim.rows]


def rows_of(ids):
    with db.connection_context():
        found = {r.id: r for r in CampaignShipping.select().where(CampaignShipping.id.in_(ids))}
    return [found[i] for i in ids]


def test_progress_finishes_the_batch_and_gives_back_the_rows_not_reached(claimed):
    batch_id, ids = claimed
    outcomes = [
        Outcome(ids[0], "sent", "wamid.A", None, "Oi Pessoa 0"),
        Outcome(ids[1], "failed", None, "131026: not on WhatsApp", "Oi Pessoa 1"),
    ]
    seen = []

    def progress(batch_ids):
        seen.append(batch_ids)
        return {batch_id: (3, outcomes)}  # the third row was on the wire

    with db.connection_context():
        touched = batches.expire_leases(progress)
        batch = CampaignBatch.get_by_id(batch_id)
    assert [[b for b, _ in call] for call in seen] == [[batch_id]] and len(touched) == 1
    sent, failed, lost, *rest = rows_of(ids)
    assert (sent.status, sent.provider_message_id) == ("sent", "wamid.A")
    assert sent.message == "Oi Pessoa 0" and sent.sent_at is not None
    assert (failed.status, failed.error) == ("failed", "131026: not on WhatsApp")
    assert (lost.status, lost.error) == ("unknown", batches.LOST_MID_SEND)
    assert [(r.status, r.batch_id, r.attempts) for r in rest] == [("pending", None, 0)] * 2
    assert batch.status == "done" and batch.done_at is not None
    with db.connection_context():
        assert batches.expire_leases(progress) == []  # done once
    assert len(seen) == 1


def test_without_progress_every_row_that_may_have_left_is_unknown(claimed):
    batch_id, ids = claimed
    with db.connection_context():
        batches.expire_leases(lambda batch_ids: {})
    assert {r.status for r in rows_of(ids)} == {"unknown"}


def test_a_batch_whose_worker_died_before_its_first_send_goes_back_to_pending(claimed):
    batch_id, ids = claimed
    with db.connection_context():
        batches.expire_leases(lambda batch_ids: {batch_id: (0, [])})
    assert [(r.status, r.batch_id, r.attempts) for r in rows_of(ids)] == [("pending", None, 0)] * 5


def test_the_clock_starts_only_campaigns_with_a_connected_connection_and_contacts(clean_db):
    """What start_due leaves PROGRAMADA goes to the company actor, which pauses it with the
    reason (tests/actors/test_campaign_control.py); what it starts has its search text."""
    company_id = make_company("due")
    full, empty = make_list(company_id, 3), make_list(company_id, 0, name="empty")
    invalid = make_list(company_id, 2, name="invalid", prefix="55219")
    now = datetime.datetime.now(datetime.UTC)
    with db.connection_context():
        ContactListItem.update(is_whatsapp_valid=False).where(
            ContactListItem.contact_list == invalid
        ).execute()
        ContactListItem.update(search="pessoa zero").where(
            ContactListItem.contact_list == full
        ).execute()
        up = WhatsappConnection.create(company=company_id, name="up", status="CONNECTED").id
        down = WhatsappConnection.create(company=company_id, name="down").id  # DISCONNECTED

        def campaign(name, list_id, whatsapp_id):
            return Campaign.create(
                company=company_id, name=name, status="PROGRAMADA", contact_list=list_id,
                whatsapp=whatsapp_id, message1="Oi", scheduled_at=now,
            ).id  # fmt: skip

        ok = campaign("ok", full, up)
        by_default = campaign("default", full, None)  # the first connection: "up"
        left = {campaign("down", full, down), campaign("empty", empty, up)}
        left.add(campaign("invalid", invalid, up))
        started = starts.start_due()
        statuses = {c.id: c.status for c in Campaign.select()}
        searches = {
            r.search for r in CampaignShipping.select().where(CampaignShipping.campaign == ok)
        }
    assert sorted(c for _, c in started) == sorted([ok, by_default])
    assert all(statuses[c] == "PROGRAMADA" for c in left)
    assert searches == {"pessoa zero"}


def test_first_batches_skip_a_connection_busy_with_another_running_campaign(clean_db):
    """A campaign started beside one already running on its connection gets no bulk first batch
    (its lifecycle plans one through the connection's throttle); one on a free connection, and
    two starting together on the same free one, do."""
    company_id = make_company("busy")
    list_id = make_list(company_id, 3)
    with db.connection_context():
        busy, free = (
            WhatsappConnection.create(company=company_id, name=n, status="CONNECTED").id
            for n in ("busy", "free")
        )

        def campaign(whatsapp_id):
            return Campaign.create(
                company=company_id, name="c", status="PROGRAMADA", contact_list=list_id,
                whatsapp=whatsapp_id, message1="Oi",
                scheduled_at=datetime.datetime.now(datetime.UTC),
            ).id  # fmt: skip

        running = campaign(busy)
        assert starts.start_due() == [(company_id, running)]
        beside, alone, pair = campaign(busy), campaign(free), campaign(free)
        started = starts.start_due()
        assert sorted(c for _, c in started) == [beside, alone, pair]
        firsts = starts.plan_first_batches(started, size=1)
    assert sorted(f.campaign_id for f in firsts) == [alone, pair]
    assert all(f.rows == 1 for f in firsts)
