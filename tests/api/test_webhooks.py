"""``/webhooks/cloud``: the subscription check, signatures, statuses in any order, replies."""

from __future__ import annotations

import hashlib
import hmac
import json

import falcon.testing
import pytest

from api import Deps, create_app
from zapx.db import Campaign, CampaignShipping, WhatsappConnection, db
from zapx.redis import get_redis

SECRET = "app-secret-123"


@pytest.fixture
def shipped(alice):
    """Alice's cloud connection and a campaign with three sent rows (wamid.1..3)."""
    with db.connection_context(), db.atomic():
        wa = WhatsappConnection.create(
            company=alice.company_id,
            name="cloud",
            provider="cloud",
            settings={
                "phoneNumberId": "PN1",
                "accessToken": "t",
                "appSecret": SECRET,
                "verifyToken": "verify-me",
            },
        )
        campaign = Campaign.create(
            company=alice.company_id,
            name="c1",
            status="EM_ANDAMENTO",
            whatsapp=wa.id,
            confirmation=True,
        )
        for i in range(1, 4):
            CampaignShipping.create(
                campaign=campaign.id,
                company_id=alice.company_id,
                contact_id=i,
                number=f"551199999000{i}",
                status="sent",
                provider_message_id=f"wamid.{i}",
            )
        CampaignShipping.create(
            campaign=campaign.id,
            company_id=alice.company_id,
            contact_id=9,
            number="5511999990009",
            status="awaiting",
            provider_message_id="wamid.9",
        )
    return campaign.id


def _post(client, payload: dict, secret: str = SECRET, signature: str | None = None):
    raw = json.dumps(payload).encode()
    sig = signature or "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.simulate_post(
        "/webhooks/cloud",
        body=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig},
    )


def _statuses(*items, pid="PN1") -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "metadata": {"phone_number_id": pid},
                            "statuses": [
                                {"id": i, "status": s, "timestamp": str(1_790_000_000 + n)}
                                for n, (i, s) in enumerate(items)
                            ],
                        }
                    }
                ]
            }
        ],
    }


def _rows(campaign_id):
    with db.connection_context():
        q = CampaignShipping.select().where(CampaignShipping.campaign == campaign_id)
        return {r.provider_message_id: r for r in q}


def test_verify_challenge(client, shipped):
    ok = client.simulate_get(
        "/webhooks/cloud",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-me",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = client.simulate_get(
        "/webhooks/cloud",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert bad.status_code == 401
    assert client.simulate_get("/webhooks/cloud").status_code == 400


def test_statuses_in_any_order_and_duplicates(client, shipped):
    before = _rows(shipped)
    # read before delivered, a duplicate, and a late 'sent'
    resp = _post(
        client,
        _statuses(
            ("wamid.1", "read"),
            ("wamid.1", "delivered"),
            ("wamid.1", "read"),
            ("wamid.1", "sent"),
            ("wamid.2", "delivered"),
            ("wamid.3", "failed"),
        ),
    )
    assert resp.status_code == 200, resp.text
    rows = _rows(shipped)
    assert rows["wamid.1"].status == "read"
    assert rows["wamid.1"].read_at is not None and rows["wamid.1"].delivered_at is not None
    assert rows["wamid.2"].status == "delivered" and rows["wamid.2"].read_at is None
    assert rows["wamid.3"].status == "failed" and rows["wamid.3"].failed_at is not None
    # failed after delivered does not undo the delivery; the same batch again changes nothing
    first_read = rows["wamid.1"].read_at
    _post(client, _statuses(("wamid.2", "failed"), ("wamid.1", "read")))
    rows = _rows(shipped)
    assert rows["wamid.2"].status == "delivered"
    assert rows["wamid.1"].read_at == first_read
    assert before["wamid.9"].status == rows["wamid.9"].status == "awaiting"


def test_bad_signature_changes_nothing(client, shipped):
    before = {k: (r.status, r.delivered_at) for k, r in _rows(shipped).items()}
    assert _post(client, _statuses(("wamid.1", "read")), secret="wrong").status_code == 401
    assert _post(client, _statuses(("wamid.1", "read")), signature="md5=x").status_code == 401
    unsigned = client.simulate_post("/webhooks/cloud", json=_statuses(("wamid.1", "read")))
    assert unsigned.status_code == 401
    other_pid = _post(client, _statuses(("wamid.1", "read"), pid="PN-other"))
    assert other_pid.status_code == 401
    bad_json = client.simulate_post(
        "/webhooks/cloud", body=b"{nope", headers={"X-Hub-Signature-256": "sha256=00"}
    )
    assert bad_json.status_code == 400
    after = {k: (r.status, r.delivered_at) for k, r in _rows(shipped).items()}
    assert after == before


def test_a_reply_reopens_an_awaiting_confirmation(config, shipped):
    sent: list[dict] = []
    deps = Deps(config=config, redis=get_redis(config.redis_url), notify=sent.append)
    client = falcon.testing.TestClient(create_app(deps))
    payload = {
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "metadata": {"phone_number_id": "PN1"},
                            "messages": [
                                {
                                    "from": "5511999990009",
                                    "id": "wamid.in",
                                    "type": "text",
                                    "text": {"body": "SIM"},
                                }
                            ],
                        }
                    }
                ]
            }
        ]
    }
    resp = _post(client, payload)
    assert resp.status_code == 200 and resp.json["reopened"] == 1
    row = _rows(shipped)["wamid.9"]
    assert row.status == "pending" and row.confirmed_at is not None
    assert sent == [
        {"kind": "campaign_changed", "company_id": row.company_id, "campaign_id": shipped}
    ]
    # A reply from a number with nothing awaiting changes nothing.
    assert _post(client, payload).json["reopened"] == 0
