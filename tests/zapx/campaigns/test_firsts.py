"""A chunk of first batches is claimed and finished in one statement each, batch by batch as a
batch alone is: a duplicate claims nothing, each outcome touches only its own batch's rows."""

import time

import pytest

from tests.zapx.campaigns.started import started_campaign
from zapx.campaigns import batches, finish, firsts, starts
from zapx.db import CampaignBatch, CampaignShipping, db
from zapx.engine.messages import Outcome


@pytest.fixture
def first_batches(clean_db):
    """Three companies, each with a running 3-contact campaign and its planned first batch of
    one row (as a mass start plans them): their FirstBatch records."""
    started = [started_campaign(f"firsts{i}", 3)[:2] for i in range(3)]
    with db.connection_context():
        planned = starts.plan_first_batches(started, 1)
    assert len(planned) == 3 and all(f.rows == 1 for f in planned)
    return planned


def test_a_chunk_is_claimed_once_and_every_batch_gets_its_own_rows(first_batches):
    ids = [f.batch_id for f in first_batches]
    with db.connection_context():
        claims = firsts.claim_batches([*reversed(ids), ids[0]], 60)
        again = firsts.claim_batches(ids, 60)  # a duplicate message: nothing left to claim
        rows = {
            r.id: r for r in CampaignShipping.select().where(CampaignShipping.batch_id.in_(ids))
        }
    assert [c.batch_id for c in claims] == sorted(ids) and again == []
    by_batch = {f.batch_id: f for f in first_batches}
    for claim in claims:
        first = by_batch[claim.batch_id]
        assert (claim.company_id, claim.campaign_id) == (first.company_id, first.campaign_id)
        assert len(claim.rows) == 1 and claim.rows[0].attempts == 1  # the attempt counted
        row = rows[claim.rows[0].id]
        assert (row.batch_id, row.status, row.campaign_id) == (
            claim.batch_id,
            "queued",
            claim.campaign_id,
        )


def test_a_chunk_is_finished_in_one_statement_batch_by_batch(first_batches):
    ids = [f.batch_id for f in first_batches]
    with db.connection_context():
        a, b, c = firsts.claim_batches(ids, 60)
        # Another batch's row named under a's id is not a's to write: only rows still queued
        # in their own batch change.
        foreign = Outcome(b.rows[0].id, "failed", None, "not mine", None)
        written = finish.finish_batches(
            [
                (a.batch_id, [Outcome(a.rows[0].id, "sent", "wamid.A", None, "Oi A"), foreign]),
                (b.batch_id, [Outcome(b.rows[0].id, "throttled", None, None, None, 5.0)]),
                (c.batch_id, []),  # never attempted: back to pending
            ]
        )
        again = finish.finish_batches([(a.batch_id, [Outcome(a.rows[0].id, "failed")])])
        rows = {
            r.id: r
            for r in CampaignShipping.select().where(
                CampaignShipping.id.in_([x.rows[0].id for x in (a, b, c)])
            )
        }
        done = {x.id: x.status for x in CampaignBatch.select().where(CampaignBatch.id.in_(ids))}
    assert written == 2 and again == 0  # a late duplicate overwrites nothing
    sent, throttled, untouched = (rows[x.rows[0].id] for x in (a, b, c))
    assert (sent.status, sent.provider_message_id, sent.attempts) == ("sent", "wamid.A", 1)
    assert (throttled.status, throttled.batch_id, throttled.attempts) == ("pending", None, 0)
    assert throttled.next_attempt_at is not None and throttled.error is None
    assert (untouched.status, untouched.batch_id, untouched.attempts) == ("pending", None, 0)
    assert set(done.values()) == {"done"}


def test_a_chunk_left_by_a_dead_worker_is_finished_from_each_batch_s_progress(first_batches):
    """The lease path is the single batch's: each claimed batch of the chunk is finished from
    its own progress (started, outcomes), a batch never started goes back to pending."""
    ids = [f.batch_id for f in first_batches]
    with db.connection_context():
        a, b, c = firsts.claim_batches(ids, 0.001)
    time.sleep(0.01)
    progress = {
        a.batch_id: (1, [Outcome(a.rows[0].id, "sent", "wamid.A", None, "Oi A")]),
        b.batch_id: (1, []),  # granted, no answer kept: on the wire
        c.batch_id: (0, []),  # marked before the claim, never granted
    }
    with db.connection_context():
        batches.expire_leases(lambda pairs: {k: progress[k] for k, _ in pairs})
        rows = {
            r.id: r
            for r in CampaignShipping.select().where(
                CampaignShipping.id.in_([x.rows[0].id for x in (a, b, c)])
            )
        }
    assert [rows[x.rows[0].id].status for x in (a, b, c)] == ["sent", "unknown", "pending"]
