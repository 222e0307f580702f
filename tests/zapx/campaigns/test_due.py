"""When a campaign's next row is due (``batches.next_due_in_s``), asked before each batch."""

import datetime

import pytest

from tests.zapx.campaigns.started import started_campaign
from zapx.campaigns import batches
from zapx.db import CampaignShipping, db


@pytest.fixture
def started(clean_db):
    """A running campaign of 6 pending rows: (campaign id, row ids in id order)."""
    campaign_id = started_campaign("due", 6)[1]
    with db.connection_context():
        ids = [
            r.id
            for r in CampaignShipping.select(CampaignShipping.id)
            .where(CampaignShipping.campaign == campaign_id)
            .order_by(CampaignShipping.id)
        ]
    assert len(ids) == 6
    return campaign_id, ids


def _set(ids, **values):
    with db.connection_context():
        CampaignShipping.update(**values).where(CampaignShipping.id.in_(ids)).execute()


def _due(campaign_id):
    with db.connection_context():
        return batches.next_due_in_s(campaign_id)


def _later(seconds):
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)


def test_rows_never_tried_are_due_now(started):
    campaign_id, _ = started
    assert _due(campaign_id) == 0.0


def test_a_due_row_behind_rows_waiting_for_a_retry_is_due_now(started):
    campaign_id, ids = started
    _set(ids[:5], next_attempt_at=_later(300))  # the lowest ids wait: planning takes them first
    _set(ids[5:], next_attempt_at=_later(-1))  # its retry time passed
    assert _due(campaign_id) == 0.0


def test_when_every_pending_row_waits_the_earliest_retry_counts(started):
    campaign_id, ids = started
    _set(ids[:3], next_attempt_at=_later(300))
    _set(ids[3:4], next_attempt_at=_later(40))
    _set(ids[4:], status="sent")  # finished rows do not count, whatever their retry time
    _set(ids[4:], next_attempt_at=_later(-100))
    assert 39.0 < _due(campaign_id) <= 40.0


def test_no_pending_row_means_nothing_is_due(started):
    campaign_id, ids = started
    _set(ids, status="sent")
    assert _due(campaign_id) is None
