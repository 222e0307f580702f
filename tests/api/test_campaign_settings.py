"""``/campaign-settings``: defaults, upserts by key, validation, in the frontend's shapes (an
array of ``{key, value}`` with JSON text values; posted back as ``{settings}`` parsed)."""

from __future__ import annotations

import json

from tests.api.helpers import assert_error, snapshot
from zapx.campaign_settings import DEFAULTS
from zapx.db import CampaignSetting, db


def as_dict(resp) -> dict:
    """The answer of ``GET``/``POST /campaign-settings`` as the frontend's page reads it
    (``Object.fromEntries(data.map(i => [i.key, JSON.parse(i.value)]))``)."""
    assert resp.status_code == 200, resp.text
    rows = resp.json
    assert isinstance(rows, list) and rows, rows
    for row in rows:
        assert set(row) == {"key", "value"} and isinstance(row["value"], str), row
    return {row["key"]: json.loads(row["value"]) for row in rows}


def _post(client, acct, settings):
    return client.simulate_post(
        "/campaign-settings", json={"settings": settings}, headers=acct.headers
    )


def _get(client, acct) -> dict:
    return as_dict(client.simulate_get("/campaign-settings", headers=acct.headers))


def test_defaults_when_nothing_is_stored(client, alice):
    resp = client.simulate_get("/campaign-settings", headers=alice.headers)
    assert resp.status_code == 200
    assert resp.json == [
        {"key": "messageInterval", "value": "20"},
        {"key": "longerIntervalAfter", "value": "20"},
        {"key": "greaterInterval", "value": "60"},
        {"key": "jitter", "value": "0.3"},
        {"key": "variables", "value": "[]"},
        {"key": "timezone", "value": '"America/Sao_Paulo"'},
    ]
    assert as_dict(resp) == DEFAULTS


def test_upsert_keeps_the_keys_not_sent(client, alice):
    resp = _post(client, alice, {"messageInterval": 7.5, "jitter": 0})
    assert as_dict(resp) == DEFAULTS | {"messageInterval": 7.5, "jitter": 0}
    resp = _post(
        client,
        alice,
        {
            "messageInterval": 9,
            "longerIntervalAfter": 5,
            "variables": [{"key": "promo", "value": " 10% off "}, {"key": "_x1"}],
        },
    )
    expected = DEFAULTS | {
        "messageInterval": 9,
        "jitter": 0,
        "longerIntervalAfter": 5,
        "variables": [{"key": "promo", "value": " 10% off "}, {"key": "_x1", "value": ""}],
    }
    assert as_dict(resp) == expected
    assert _get(client, alice) == expected
    with db.connection_context():  # one row per key, updated in place
        keys = [s.key for s in CampaignSetting.select().order_by(CampaignSetting.key)]
    assert keys == ["jitter", "longerIntervalAfter", "messageInterval", "variables"]


def test_the_pages_save_round_trips_every_key_without_loss(client, alice):
    """The page posts back every key the GET gave it, parsed (``CampaignsConfig/index.js:65-
    111``): zapx's own ``jitter`` and ``timezone`` included, and variables with the keys its
    form lets users type (spaces, accents, digits first, a built-in name)."""
    variables = [
        {"key": "Empresa X", "value": "ACME Ltda."},
        {"key": "promoção", "value": "10% off"},
        {"key": "1º lugar", "value": "Ana"},
        {"key": "nome", "value": "never used: {nome} is the contact's"},
        {"key": " espaço ", "value": ""},
    ]
    first = _post(
        client,
        alice,
        {"jitter": 0.5, "timezone": "Asia/Tokyo", "variables": variables, "greaterInterval": 90},
    )
    assert as_dict(first)["variables"] == variables
    shown = _get(client, alice)
    resp = _post(client, alice, shown)  # the page's Save, untouched
    assert as_dict(resp) == shown
    stored = {"jitter": 0.5, "timezone": "Asia/Tokyo", "variables": variables}
    assert _get(client, alice) == shown == DEFAULTS | stored | {"greaterInterval": 90}


def test_empty_settings_change_nothing(client, alice):
    before = snapshot()
    resp = _post(client, alice, {})
    assert as_dict(resp) == DEFAULTS
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
    assert _get(client, alice) == DEFAULTS
