"""``/campaign-settings``: defaults, upserts by key, validation."""

from __future__ import annotations

from tests.api.helpers import assert_error, snapshot
from zapx.campaign_settings import DEFAULTS
from zapx.db import CampaignSetting, db


def _post(client, acct, settings):
    return client.simulate_post(
        "/campaign-settings", json={"settings": settings}, headers=acct.headers
    )


def test_defaults_when_nothing_is_stored(client, alice):
    resp = client.simulate_get("/campaign-settings", headers=alice.headers)
    assert resp.status_code == 200
    assert resp.json == {
        "settings": {
            "messageInterval": 20,
            "longerIntervalAfter": 20,
            "greaterInterval": 60,
            "jitter": 0.3,
            "variables": [],
            "timezone": "America/Sao_Paulo",
        }
    }
    assert set(resp.json["settings"]) == set(DEFAULTS)


def test_upsert_keeps_the_keys_not_sent(client, alice):
    resp = _post(client, alice, {"messageInterval": 7.5, "jitter": 0})
    assert resp.status_code == 200, resp.text
    assert resp.json["settings"] == DEFAULTS | {"messageInterval": 7.5, "jitter": 0}
    resp = _post(
        client,
        alice,
        {
            "messageInterval": 9,
            "longerIntervalAfter": 5,
            "variables": [{"key": "promo", "value": " 10% off "}, {"key": "_x1"}],
        },
    )
    assert resp.status_code == 200
    expected = DEFAULTS | {
        "messageInterval": 9,
        "jitter": 0,
        "longerIntervalAfter": 5,
        "variables": [{"key": "promo", "value": " 10% off "}, {"key": "_x1", "value": ""}],
    }
    assert resp.json["settings"] == expected
    assert client.simulate_get("/campaign-settings", headers=alice.headers).json == {
        "settings": expected
    }
    with db.connection_context():  # one row per key, updated in place
        keys = [s.key for s in CampaignSetting.select().order_by(CampaignSetting.key)]
    assert keys == ["jitter", "longerIntervalAfter", "messageInterval", "variables"]


def test_empty_settings_change_nothing(client, alice):
    before = snapshot()
    resp = _post(client, alice, {})
    assert resp.status_code == 200 and resp.json["settings"] == DEFAULTS
    assert snapshot() == before


def test_unknown_key_is_400_naming_it_and_nothing_is_saved(client, alice):
    before = snapshot()
    resp = _post(client, alice, {"messageInterval": 1, "speed": 3, "colour": "red"})
    body = assert_error(resp, 400, "ERR_VALIDATION", field="settings")
    assert "colour, speed" in body["message"]
    assert "messageInterval" in body["message"]  # the known keys are listed
    assert snapshot() == before


def test_one_invalid_value_saves_none_of_the_batch(client, alice):
    before = snapshot()
    resp = _post(client, alice, {"messageInterval": 1, "greaterInterval": 86_401})
    assert_error(resp, 400, "ERR_VALIDATION", field="greaterInterval", contains="86400")
    assert snapshot() == before
    assert client.simulate_get("/campaign-settings", headers=alice.headers).json == {
        "settings": DEFAULTS
    }
