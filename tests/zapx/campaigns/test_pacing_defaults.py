"""Pacing defaults have one statement (``pacing.SETTING_DEFAULTS``, ``pacing.CAP_DEFAULTS``):
settings and caps with missing keys get them, in Python and in the first batch's SQL alike."""

import datetime
import json

import pytest

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from zapx import campaign_settings
from zapx.campaigns import pacing, starts
from zapx.db import CampaignBatch, Tenant, WhatsappConnection, db
from zapx.db.campaign_models import Campaign


def test_missing_keys_get_the_defaults():
    assert pacing.pacing_for({}, {}) == pacing.DEFAULTS == pacing.PacingSettings()
    assert pacing.DEFAULTS.message_interval_s == pacing.SETTING_DEFAULTS["messageInterval"]
    assert pacing.DEFAULTS.jitter == pacing.SETTING_DEFAULTS["jitter"]
    assert pacing.DEFAULTS.longer_interval_after == pacing.SETTING_DEFAULTS["longerIntervalAfter"]
    assert pacing.DEFAULTS.greater_interval_s == pacing.SETTING_DEFAULTS["greaterInterval"]
    assert pacing.DEFAULTS.max_per_s == pacing.CAP_DEFAULTS["messagesPerSecond"]
    assert pacing.DEFAULTS.daily_cap == pacing.CAP_DEFAULTS["dailyLimit"]
    # null and "" are "not set", as the first batch's SQL reads them
    caps = {"messagesPerSecond": "", "dailyLimit": None}
    assert pacing.pacing_for({"jitter": None}, caps) == pacing.DEFAULTS


def test_given_keys_win_and_the_others_stay_default():
    got = pacing.pacing_for({"messageInterval": 5, "jitter": 0}, {"messagesPerSecond": 20})
    assert (got.message_interval_s, got.jitter, got.max_per_s) == (5.0, 0.0, 20.0)
    assert got.greater_interval_s == pacing.DEFAULTS.greater_interval_s
    assert got.daily_cap == pacing.DEFAULTS.daily_cap


def test_a_company_without_settings_paces_by_the_defaults(clean_db):
    """The settings API answers the same defaults the engine paces by."""
    company_id = make_company("pacing")
    with db.connection_context():
        stored = campaign_settings.get_settings(Tenant(company_id))
    assert {k: stored[k] for k in pacing.SETTING_DEFAULTS} == pacing.SETTING_DEFAULTS
    assert pacing.pacing_for(stored, {}) == pacing.DEFAULTS


@pytest.mark.parametrize("rate", [4, 50])
def test_the_first_batch_sql_reads_the_cap_default_from_the_constant(clean_db, monkeypatch, rate):
    """A connection that names no cap: the first batch is spaced by ``CAP_DEFAULTS``, whatever it
    says, so no literal in the SQL can disagree with it."""
    monkeypatch.setitem(pacing.CAP_DEFAULTS, "messagesPerSecond", rate)
    monkeypatch.setitem(pacing.SETTING_DEFAULTS, "messageInterval", 0)  # unpaced: spaced by cap
    company_id = make_company("first")
    list_id = make_list(company_id, 5)
    with db.connection_context():
        whatsapp_id = WhatsappConnection.create(
            company=company_id, name="w", status="CONNECTED", settings={}
        ).id
        Campaign.create(
            company=company_id, name="c", status="PROGRAMADA", contact_list=list_id,
            whatsapp=whatsapp_id, message1="Oi",
            scheduled_at=datetime.datetime.now(datetime.UTC),
        )  # fmt: skip
        [(_, batch_id, _)] = [
            (p.company_id, p.batch_id, p.rows)
            for p in starts.plan_first_batches(starts.start_due(first_rows=5), size=5)
        ]
        slots = CampaignBatch.get_by_id(batch_id).slots
    slots = json.loads(slots) if isinstance(slots, str) else slots
    assert len(slots) == 5
    assert [gap for _, gap in slots] == pytest.approx([1.0 / rate] * 5)
