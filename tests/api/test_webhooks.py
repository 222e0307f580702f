"""``/webhooks/cloud``: the subscription check, signatures, statuses in any order, replies."""

from __future__ import annotations

import hashlib
import hmac
import json

import falcon.testing
import pytest

from api import Deps, create_app
from zapx.db import Campaign, CampaignShipping, WhatsappConnection, db
from zapx.engine.messages import CampaignChanged
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
    assert sent == [CampaignChanged(row.company_id, shipped)]
    # A reply from a number with nothing awaiting changes nothing.
    assert _post(client, payload).json["reopened"] == 0


# --- tenancy: a request acts only for the connection whose secret signed it -------------------

BOB_SECRET = "bob-secret-456"


def _bob_cloud(client, bob, pid="PN2", name="bob cloud"):
    return client.simulate_post(
        "/whatsapps",
        headers=bob.headers,
        json={
            "name": name,
            "provider": "cloud",
            "settings": {"phoneNumberId": pid, "accessToken": "t", "appSecret": BOB_SECRET},
        },
    )


def _state(campaign_id) -> dict:
    return {
        k: (r.status, r.delivered_at, r.read_at, r.failed_at, r.confirmed_at)
        for k, r in _rows(campaign_id).items()
    }


def _replies(number: str, pid: str) -> dict:
    message = {"from": number, "id": f"in.{number}", "type": "text", "text": {"body": "SIM"}}
    return {
        "entry": [
            {"changes": [{"value": {"metadata": {"phone_number_id": pid}, "messages": [message]}}]}
        ]
    }


def test_another_companys_signed_status_changes_nothing(client, shipped, bob):
    assert _bob_cloud(client, bob).status_code == 201
    before = _state(shipped)
    forged = _post(
        client,
        _statuses(("wamid.1", "read"), ("wamid.3", "failed"), pid="PN2"),
        secret=BOB_SECRET,
    )
    unknown = _post(
        client,
        _statuses(("wamid.nope1", "read"), ("wamid.nope3", "failed"), pid="PN2"),
        secret=BOB_SECRET,
    )
    assert forged.status_code == unknown.status_code == 200, forged.text
    assert forged.json == unknown.json == {"statuses": 2, "updated": 0, "reopened": 0}
    assert _state(shipped) == before
    # A's own connection still moves A's rows.
    assert _post(client, _statuses(("wamid.1", "read"))).json["updated"] == 1
    assert _rows(shipped)["wamid.1"].status == "read"


def test_another_companys_signed_reply_reopens_nothing(client, alice, bob):
    """Sandbox connections share the phone id ``sandbox``: only the signer's rows answer."""
    with db.connection_context(), db.atomic():
        wa = WhatsappConnection.create(
            company=alice.company_id,
            name="sb",
            provider="sandbox",
            status="CONNECTED",
            settings={"accessToken": "sandbox", "appSecret": "alice-sandbox-secret"},
        )
        campaign = Campaign.create(
            company=alice.company_id, name="c", status="EM_ANDAMENTO", whatsapp=wa.id
        )
        CampaignShipping.create(
            campaign=campaign.id,
            company_id=alice.company_id,
            contact_id=1,
            number="5511999990009",
            status="awaiting",
            provider_message_id="wamid.sb9",
        )
    resp = client.simulate_post(
        "/whatsapps",
        headers=bob.headers,
        json={"name": "sb", "provider": "sandbox", "settings": {"appSecret": BOB_SECRET}},
    )
    assert resp.status_code == 201, resp.text
    forged = _post(client, _replies("5511999990009", "sandbox"), secret=BOB_SECRET)
    unknown = _post(client, _replies("5511999990001", "sandbox"), secret=BOB_SECRET)
    assert forged.status_code == unknown.status_code == 200, forged.text
    assert forged.json == unknown.json == {"statuses": 0, "updated": 0, "reopened": 0}
    status = _post(client, _statuses(("wamid.sb9", "read"), pid="sandbox"), secret=BOB_SECRET)
    assert status.json["updated"] == 0
    assert _rows(campaign.id)["wamid.sb9"].status == "awaiting"
    # Alice's secret re-opens Alice's row.
    own = _post(client, _replies("5511999990009", "sandbox"), secret="alice-sandbox-secret")
    assert own.json["reopened"] == 1
    assert _rows(campaign.id)["wamid.sb9"].status == "pending"


def test_a_cloud_phone_number_id_belongs_to_one_connection(client, shipped, alice, bob):
    taken = _bob_cloud(client, bob, pid="PN1")
    assert taken.status_code == 409, taken.text
    assert taken.json == {
        "error": "ERR_CONFLICT",
        "message": "settings: phoneNumberId PN1 is already used by another connection",
        "field": "settings",
    }
    mine = _bob_cloud(client, bob, pid="PN2")
    assert mine.status_code == 201
    moved = client.simulate_put(
        f"/whatsapps/{mine.json['id']}",
        headers=bob.headers,
        json={"settings": {"phoneNumberId": "PN1"}},
    )
    assert moved.status_code == 409 and moved.json == taken.json
    with db.connection_context():
        assert WhatsappConnection.get_by_id(mine.json["id"]).settings["phoneNumberId"] == "PN2"
    # The same company cannot hold it twice either; sandbox connections may share theirs.
    again = client.simulate_post(
        "/whatsapps",
        headers=alice.headers,
        json={
            "name": "again",
            "provider": "cloud",
            "settings": {"phoneNumberId": "PN1", "accessToken": "t"},
        },
    )
    assert again.status_code == 409
    for acct in (alice, bob):
        resp = client.simulate_post(
            "/whatsapps",
            headers=acct.headers,
            json={"name": "sb", "provider": "sandbox", "settings": {"phoneNumberId": "PN1"}},
        )
        assert resp.status_code == 201, resp.text
    # B's signature over PN1's traffic (no connection of B's has PN1): as if unknown.
    forged = _post(client, _statuses(("wamid.1", "read")), secret=BOB_SECRET)
    assert forged.status_code == 401
    assert _rows(shipped)["wamid.1"].status == "sent"


def test_a_duplicate_kept_from_before_the_rule_acts_only_for_itself(client, shipped, bob):
    """Migration 005 keeps an older install's duplicate phone ids, marked; each acts for itself."""
    with db.connection_context(), db.atomic():
        dup = WhatsappConnection.create(
            company=bob.company_id,
            name="dup",
            provider="cloud",
            settings={
                "phoneNumberId": "PN1",
                "accessToken": "t",
                "appSecret": BOB_SECRET,
                "phoneNumberIdConflict": True,
            },
        )
    before = _state(shipped)
    forged = _post(client, _statuses(("wamid.1", "read")), secret=BOB_SECRET)
    assert forged.status_code == 200 and forged.json["updated"] == 0
    reply = _post(client, _replies("5511999990009", "PN1"), secret=BOB_SECRET)
    assert reply.status_code == 200 and reply.json["reopened"] == 0
    assert _state(shipped) == before
    assert _post(client, _statuses(("wamid.1", "read"))).json["updated"] == 1
    # Its settings are shown with the mark; saving them as they are needs a phone id of its own.
    url = f"/whatsapps/{dup.id}"
    shown = client.simulate_get(url, headers=bob.headers).json
    assert shown["settings"]["phoneNumberIdConflict"] is True
    resp = client.simulate_put(url, headers=bob.headers, json=shown)
    assert resp.status_code == 409 and "phoneNumberId PN1" in resp.json["message"], resp.text
    renamed = client.simulate_put(url, headers=bob.headers, json={"name": "dup 2"})
    assert renamed.status_code == 200  # a save that leaves settings alone keeps the mark
    moved = shown | {"settings": shown["settings"] | {"phoneNumberId": "PN3"}}
    resp = client.simulate_put(url, headers=bob.headers, json=moved)
    assert resp.status_code == 200, resp.text
    assert "phoneNumberIdConflict" not in resp.json["settings"]
    assert resp.json["settings"]["phoneNumberId"] == "PN3"


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _malformed() -> dict[str, bytes]:
    def body(value) -> bytes:
        return json.dumps(
            {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "PN1"}} | value}]}]}
        ).encode()

    return {
        "entry a number": json.dumps({"entry": 5}).encode(),
        "entry items numbers": json.dumps({"entry": [1, 2]}).encode(),
        "changes a string": json.dumps({"entry": [{"changes": "x"}]}).encode(),
        "value a list": json.dumps({"entry": [{"changes": [{"value": [1]}]}]}).encode(),
        "metadata a string": json.dumps(
            {"entry": [{"changes": [{"value": {"metadata": "PN1"}}]}]}
        ).encode(),
        "phone id an object": json.dumps(
            {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": {}}}}]}]}
        ).encode(),
        "statuses an int": body({"statuses": 7}),
        "status a string": body({"statuses": ["wamid.1"]}),
        "status errors a string": body(
            {"statuses": [{"id": "wamid.1", "status": "failed", "errors": "boom"}]}
        ),
        "status errors items strings": body(
            {"statuses": [{"id": "wamid.1", "status": "failed", "errors": ["boom"]}]}
        ),
        "messages an object": body({"messages": {"from": "1"}}),
        "from an object": body({"messages": [{"from": {"n": 1}}]}),
        "NUL in a status id": body({"statuses": [{"id": "wamid.1\x00", "status": "read"}]}),
        "NUL in a phone id": json.dumps(
            {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "PN1\x00"}}}]}]}
        ).encode(),
        "NUL in from": body({"messages": [{"from": "5511999990009\x00"}]}),
        "a 129-character id": body({"statuses": [{"id": "w" * 129, "status": "read"}]}),
        "50,000-deep array": _deep(50_000),
        "50,000-deep entry": b'{"entry": ' + _deep(50_000) + b"}",
        "not UTF-8": b'{"entry": "\xff"}',
    }


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_malformed_payloads_answer_400(client, shipped, signed):
    before = _state(shipped)
    for name, raw in _malformed().items():
        headers = {"Content-Type": "application/json"}
        if signed:
            digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + digest
        resp = client.simulate_post("/webhooks/cloud", body=raw, headers=headers)
        assert resp.status_code == 400, (name, resp.status_code, resp.text)
        assert set(resp.json) == {"error", "message", "field"}, (name, resp.text)
    assert _state(shipped) == before


def test_verify_challenge_with_hostile_tokens(client, shipped):
    for token in ("verify\x00me", "v" * 300):
        resp = client.simulate_get(
            "/webhooks/cloud",
            params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1"},
        )
        assert resp.status_code == 400, (token, resp.text)
