"""A batch whose worker died is finished from the progress it left in Redis; the clock starts
only the due campaigns that can start."""

import datetime
import json
import time

import pytest

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from tests.zapx.campaigns.started import started_campaign
from zapx.campaigns import batches, service, starts
from zapx.db import (
    CampaignBatch,
    CampaignSetting,
    CampaignShipping,
    ContactListItem,
    Tenant,
    WhatsappConnection,
    db,
)
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


def _due_campaigns(company_id: int, lists: dict[str, int], whatsapp_id: int) -> dict[str, int]:
    """A PROGRAMADA campaign due now per list, two messages each (the message index rule)."""
    now = datetime.datetime.now(datetime.UTC)
    with db.connection_context():
        return {
            name: Campaign.create(
                company=company_id, name=name, status="PROGRAMADA", contact_list=list_id,
                whatsapp=whatsapp_id, message1="Oi", message2="Olá", scheduled_at=now,
            ).id
            for name, list_id in lists.items()
        }  # fmt: skip


def _snapshot(campaign_id: int) -> list[tuple]:
    with db.connection_context():
        return [
            (r.contact_id, r.number, r.name, r.condominio, r.search, r.message_index, r.status)
            for r in CampaignShipping.select()
            .where(CampaignShipping.campaign == campaign_id)
            .order_by(CampaignShipping.contact_id)
        ]


def test_a_mass_start_copies_the_first_row_and_the_completion_the_rest_once(clean_db):
    """start_due copies each campaign's first list item only and flags the audience pending;
    complete_audiences copies the rest (a one-item list: nothing), the same rows a full
    snapshot gives, sets the total and clears the flag; a second call adds nothing."""
    company_id = make_company("heads")
    lists = {"big": make_list(company_id, 7), "one": make_list(company_id, 1, name="one")}
    with db.connection_context():
        whatsapp_id = WhatsappConnection.create(company=company_id, name="w", status="CONNECTED").id
        ContactListItem.update(is_whatsapp_valid=False).where(
            (ContactListItem.contact_list == lists["big"]) & (ContactListItem.name == "Pessoa 0")
        ).execute()  # the first item is not sent to: the head is the first valid one
    ids = _due_campaigns(company_id, lists, whatsapp_id)
    with db.connection_context():
        assert sorted(starts.start_due()) == sorted((company_id, c) for c in ids.values())
        first_valid = (
            ContactListItem.select(ContactListItem.id)
            .where(
                (ContactListItem.contact_list == lists["big"])
                & (ContactListItem.is_whatsapp_valid.is_null())
            )
            .order_by(ContactListItem.id)
            .first()
            .id
        )
        rows = {c.name: (c.total, c.audience_pending) for c in Campaign.select()}
        assert starts.audiences_pending()
    assert rows == {"big": (1, True), "one": (1, True)}
    [head] = _snapshot(ids["big"])
    assert head[0] == first_valid and head[-1] == "pending"
    with db.connection_context():
        assert sorted(starts.complete_audiences()) == sorted((company_id, c) for c in ids.values())
        rows = {c.name: (c.total, c.audience_pending) for c in Campaign.select()}
        assert not starts.audiences_pending()
        assert starts.complete_audiences() == []
    assert rows == {"big": (6, False), "one": (1, False)}
    completed = _snapshot(ids["big"])
    assert head in completed and len(completed) == len({r[0] for r in completed}) == 6
    # The same rows, columns and message indexes as the company actor's full snapshot.
    with db.connection_context():
        full = Campaign.create(
            company=company_id, name="full", status="EM_ANDAMENTO", contact_list=lists["big"],
            whatsapp=whatsapp_id, message1="Oi", message2="Olá",
        ).id  # fmt: skip
        assert batches.snapshot_audience(full, company_id, lists["big"], 2) == 6
    # The index hashes the campaign id too: recompute it for this campaign's rows.
    with db.connection_context():
        again = db.execute_sql(
            "SELECT contact_id, abs(hashtext(%s::text || ':' || contact_id::text)) %% 2 "
            "FROM campaign_shipping WHERE campaign_id = %s ORDER BY contact_id",
            (ids["big"], ids["big"]),
        ).fetchall()
    assert [(r[0], r[5]) for r in completed] == [tuple(r) for r in again]
    assert [r[:5] for r in completed] == [r[:5] for r in _snapshot(full)]
    assert {r[5] for r in completed} == {0, 1}


def test_a_campaign_paused_or_cancelled_before_its_completion_gets_its_rows_pending(clean_db):
    """As a fully copied campaign paused or cancelled keeps its unsent rows pending, one whose
    audience was still pending gets the rest pending: its first row's state is kept."""
    company_id = make_company("stopped")
    lists = {n: make_list(company_id, 4, name=n) for n in ("paused", "cancelled")}
    with db.connection_context():
        whatsapp_id = WhatsappConnection.create(company=company_id, name="w", status="CONNECTED").id
    ids = _due_campaigns(company_id, lists, whatsapp_id)
    with db.connection_context():
        started = starts.start_due()
        firsts = starts.plan_first_batches(started, size=1)
        assert len(firsts) == 2
        tenant = Tenant(company_id)
        service.command(tenant, ids["paused"], "pause")
        service.command(tenant, ids["cancelled"], "cancel")  # its unclaimed batch's row: pending
        assert sorted(starts.complete_audiences()) == sorted((company_id, c) for c in ids.values())
        rows = {c.name: (c.status, c.total, c.audience_pending) for c in Campaign.select()}
    assert rows == {"paused": ("PAUSADA", 4, False), "cancelled": ("CANCELADA", 4, False)}
    assert sorted(r[-1] for r in _snapshot(ids["paused"])) == ["pending"] * 3 + ["queued"]
    assert [r[-1] for r in _snapshot(ids["cancelled"])] == ["pending"] * 4
    # What the same commands leave of campaigns copied whole at once.
    whole = _due_campaigns(company_id, lists, whatsapp_id)
    with db.connection_context():
        started = starts.start_due()
        starts.complete_audiences()
        assert len(starts.plan_first_batches(started, size=1)) == 2
        service.command(tenant, whole["paused"], "pause")
        service.command(tenant, whole["cancelled"], "cancel")
    for name in whole:
        assert [r[-1] for r in _snapshot(whole[name])] == [r[-1] for r in _snapshot(ids[name])]


def test_a_first_batch_with_fewer_rows_than_its_slots_keeps_as_many_slots(clean_db):
    """Five slots planned, two rows pending: the batch is of two rows and two slots (the
    first two), and a campaign with no pending row gets no batch at all."""
    company_id, campaign_id, _ = started_campaign("fewer", 2)
    other_company, other_campaign, _ = started_campaign("none", 1)
    with db.connection_context():
        CampaignSetting.create(company=company_id, key="messageInterval", value=0)  # unpaced
        CampaignShipping.update(status="sent").where(
            CampaignShipping.campaign == other_campaign
        ).execute()
        firsts = starts.plan_first_batches(
            [(company_id, campaign_id), (other_company, other_campaign)], size=5
        )
        assert [(f.campaign_id, f.rows) for f in firsts] == [(campaign_id, 2)]
        batch = CampaignBatch.get_by_id(firsts[0].batch_id)
        slots = json.loads(batch.slots) if isinstance(batch.slots, str) else batch.slots
        assert batch.size == 2 and len(slots) == 2
        assert slots[1][0] > slots[0][0]  # the first two of the five, in order
        assert CampaignBatch.select().where(CampaignBatch.campaign == other_campaign).count() == 0
