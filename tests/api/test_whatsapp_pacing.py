"""``GET /whatsapps/{id}/pacing``: the send gate's state of one connection, company-scoped."""

from __future__ import annotations

from api import schemas
from tests.conftest import login, make_user
from zapx.campaigns.pacing import pacing_for
from zapx.db import WhatsappConnection, db
from zapx.redis import Keys, get_redis
from zapx.schedule import Grant, SendGate


def _connection(client, acct, **settings) -> int:
    resp = client.simulate_post(
        "/whatsapps", json={"name": "Main", "settings": settings}, headers=acct.headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def _pacing(client, acct, whatsapp_id):
    return client.simulate_get(f"/whatsapps/{whatsapp_id}/pacing", headers=acct.headers)


def test_it_shows_what_the_gate_recorded(client, alice, config):
    whatsapp_id = _connection(client, alice, messagesPerSecond=40, dailyLimit=250)
    resp = client.simulate_post(
        "/campaign-settings",
        json={"settings": {"messageInterval": 2, "jitter": 0, "longerIntervalAfter": 5}},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text

    fresh = _pacing(client, alice, whatsapp_id)
    assert fresh.status_code == 200, fresh.text
    body = fresh.json
    assert set(body) == set(schemas.PACING["properties"])
    assert body["whatsappId"] == whatsapp_id and body["paced"] is True
    assert body["maxPerS"] == 40 and body["ratePerS"] == 40 and body["throttleFactor"] == 1
    assert body["dailySent"] == 0 and body["dailyCap"] == 250
    assert body["sendsSincePause"] == 0 and body["longerIntervalAfter"] == 5
    assert body["lastSendAt"] is None and body["holder"] is None
    assert body["throttledUntil"] is None and body["waitingBecause"] is None

    # A worker's grant and a provider throttle, through the same keys the workers use.
    gate = SendGate(get_redis(config.redis_url), Keys(config.redis_prefix))
    with db.connection_context():
        conn = WhatsappConnection.get_by_id(whatsapp_id)
    settings = pacing_for(
        {"messageInterval": 2, "jitter": 0, "longerIntervalAfter": 5}, conn.settings
    )
    grant = gate.acquire(whatsapp_id, alice.company_id, 1, "5511900000001", settings, (), "b:1")
    assert isinstance(grant, Grant)
    gate.throttled(whatsapp_id, alice.company_id, 30, max_per_s=40)

    body = _pacing(client, alice, whatsapp_id).json
    assert body["dailySent"] == 1 and body["sendsSincePause"] == 1
    assert body["lastSendAt"] == grant.at_s and body["holder"] == "b:1"
    # Halved, and recovering by 0.02 a second since (the gate's AIMD).
    assert 0.5 <= body["throttleFactor"] < 0.52 and 20 <= body["ratePerS"] < 20.8
    assert body["throttleSignals"] == 1
    assert body["throttledUntil"] >= body["now"] + 29
    assert body["nextSlotAt"] >= body["throttledUntil"] - 1e-6
    assert body["waitingBecause"]  # the hold, or the token's holder still sending


def test_another_companys_connection_is_a_404(client, alice, bob):
    whatsapp_id = _connection(client, alice)
    resp = _pacing(client, bob, whatsapp_id)
    assert resp.status_code == 404, resp.text
    assert _pacing(client, alice, 999_999).status_code == 404


def test_a_user_profile_may_read_it(client, alice):
    whatsapp_id = _connection(client, alice)
    make_user(alice.company_id, "member@alice.test", profile="user")
    headers = login(client, "member@alice.test")
    resp = client.simulate_get(f"/whatsapps/{whatsapp_id}/pacing", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json["paced"] is True and resp.json["messageIntervalS"] == 20  # the defaults
