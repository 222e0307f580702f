"""A campaign end to end through the real processes: API -> engine -> workers -> sandbox."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import time

import urllib3

from tests.actors.campaigns import (
    make_list,
    sandbox_count,
    sandbox_messages,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.processes import ZAPX, Process, free_port, wait_for, wait_http
from zapx.db import CampaignBatch, CampaignShipping, WhatsappConnection, db
from zapx.engine.planning import FIRST_BATCH_SIZE


def test_a_1000_contact_campaign_sends_each_contact_exactly_once(client, account, stack):
    http = urllib3.PoolManager()
    http.request("POST", stack.sandbox + "/_sandbox/reset")
    setup = setup_company(client, account, stack.sandbox, "acme")
    acct = setup["account"]
    list_id = make_list(acct.company_id, 1000)
    started = time.monotonic()
    campaign_id = start_campaign(client, acct, list_id, setup["whatsapp_id"])
    report = wait_status(client, acct, campaign_id, "FINALIZADA")
    elapsed = time.monotonic() - started
    assert report["counts"]["sent"] == 1000, report
    assert report["remaining"] == 0
    messages = sandbox_messages(stack.sandbox)
    numbers = [m["to"] for m in messages]
    assert len(numbers) == 1000 and len(set(numbers)) == 1000
    with db.connection_context():
        rows = list(CampaignShipping.select().where(CampaignShipping.campaign == campaign_id))
    by_number = {m["to"]: m for m in messages}
    for row in rows:
        assert row.status == "sent"
        assert row.provider_message_id == by_number[row.number]["id"]
        body = by_number[row.number]["payload"]["text"]["body"]
        assert body == row.message
        assert body in (f"Olá {row.name}, do {row.condominio}!", f"Oi {row.name}, tudo bem?")
    # Both messages are used (a fair random choice over 1000 contacts).
    assert 300 < sum(r.message_index == 0 for r in rows) < 700
    print(f"1000 messages in {elapsed:.1f} s")


def _multipart(content: bytes, name: str, ctype: str) -> tuple[bytes, dict]:
    b = "zapxB"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{b}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={b}"}


def test_media_goes_with_the_text_as_caption(client, account, stack):
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, "media")
    acct = setup["account"]
    list_id = make_list(acct.company_id, 5)
    resp = client.simulate_post(
        "/campaigns",
        json={
            "name": "Com foto",
            "contactListId": list_id,
            "whatsappId": setup["whatsapp_id"],
            "message1": "Foto para {nome}",
        },
        headers=acct.headers,
    )
    campaign_id = resp.json["id"]
    body, headers = _multipart(b"\x89PNG\r\n\x1a\n" + b"1" * 100, "foto.png", "image/png")
    up = client.simulate_post(
        f"/campaigns/{campaign_id}/media-upload", body=body, headers=acct.headers | headers
    )
    assert up.status_code == 200, up.text
    when = datetime.datetime.now(datetime.UTC).isoformat()
    client.simulate_put(
        f"/campaigns/{campaign_id}", json={"scheduledAt": when}, headers=acct.headers
    )
    wait_status(client, acct, campaign_id, "FINALIZADA")
    payloads = [m["payload"] for m in sandbox_messages(stack.sandbox)]
    assert len(payloads) == 5
    for p in payloads:
        assert p["type"] == "image"
        assert p["image"]["link"].endswith("/public/media/" + up.json["mediaPath"])
        assert p["image"]["caption"].startswith("Foto para Pessoa ")


def _reply(client, number: str) -> None:
    raw = json.dumps(
        {
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "metadata": {"phone_number_id": "sandbox"},
                                "messages": [
                                    {
                                        "from": number,
                                        "id": f"in.{number}",
                                        "type": "text",
                                        "text": {"body": "sim"},
                                    }
                                ],
                            }
                        }
                    ]
                }
            ]
        }
    ).encode()
    sig = "sha256=" + hmac.new(b"confirm-secret", raw, hashlib.sha256).hexdigest()
    resp = client.simulate_post("/webhooks/cloud", body=raw, headers={"X-Hub-Signature-256": sig})
    assert resp.status_code == 200 and resp.json["reopened"] == 1, resp.text


def test_confirmation_first_then_the_message_after_a_reply(client, account, stack):
    sandbox_reset(stack.sandbox)
    acct = account("confirm")
    resp = client.simulate_post(
        "/whatsapps",
        json={
            "name": "sb",
            "provider": "sandbox",
            "settings": {"baseUrl": stack.sandbox, "appSecret": "confirm-secret"},
        },
        headers=acct.headers,
    )
    whatsapp_id = resp.json["id"]
    client.simulate_post(
        "/campaign-settings", headers=acct.headers, json={"settings": {"messageInterval": 0}}
    )
    list_id = make_list(acct.company_id, 4)
    campaign_id = start_campaign(
        client,
        acct,
        list_id,
        whatsapp_id,
        confirmation=True,
        confirmationMessage1="{nome}, podemos enviar a oferta? Responda SIM",
        message1="Oferta para {nome}",
        message2="",
    )
    wait_for(lambda: sandbox_count(stack.sandbox) == 4, timeout_s=30, what="confirmations")
    first = sandbox_messages(stack.sandbox)
    assert all("podemos enviar" in m["payload"]["text"]["body"] for m in first)
    repliers = sorted(m["to"] for m in first)[:2]
    for number in repliers:
        _reply(client, number)
    wait_for(lambda: sandbox_count(stack.sandbox) == 6, timeout_s=30, what="main messages")
    time.sleep(0.5)
    later = sandbox_messages(stack.sandbox)[4:]
    assert len(later) == 2
    assert sorted(m["to"] for m in later) == repliers
    assert all(m["payload"]["text"]["body"].startswith("Oferta para") for m in later)
    report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json
    assert report["confirmations"] == 2 and report["counts"]["awaiting"] == 2
    assert report["status"] == "EM_ANDAMENTO"  # the others may still answer


def test_the_first_batch_is_planned_by_the_directory_in_bulk(client, account, stack):
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, "bulkfirst")
    acct = setup["account"]
    # Due a little later: the Directory's clock starts it (start_due) and plans its first batch.
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1.5)
    campaign_id = start_campaign(
        client,
        acct,
        make_list(acct.company_id, 30),
        setup["whatsapp_id"],
        scheduledAt=at.isoformat(),
    )
    report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    numbers = [m["to"] for m in sandbox_messages(stack.sandbox)]
    assert len(numbers) == 30 and len(set(numbers)) == 30
    assert report["counts"]["sent"] == 30 and report["remaining"] == 0
    with db.connection_context():
        planned = list(
            CampaignBatch.select()
            .where(CampaignBatch.campaign == campaign_id)
            .order_by(CampaignBatch.id)
        )
    assert sum(b.size for b in planned) == 30
    # The Directory's first batch: FIRST_BATCH_SIZE rows, each spaced by the connection's cap
    # (a company actor's fresh throttle would give the first slot no gap); the company actor
    # plans the second batch once the first is done, so starts in a burst get their first
    # messages before anyone's second batch.
    first, second = planned[0], planned[1]
    gaps = [gap for _, gap in first.slots]
    assert first.size == FIRST_BATCH_SIZE and gaps[0] > 0
    assert gaps == [gaps[0]] * FIRST_BATCH_SIZE
    assert first.done_at is not None and second.created_at >= first.done_at
    assert all(b.status == "done" for b in planned)


def test_a_connection_whose_host_is_not_allowed_sends_nothing_and_pauses(
    client, account, stack, process_env, tmp_path
):
    """A baseUrl saved while its name looked public, now at a private address (127.0.0.2 is
    loopback, and the test install allows 127.0.0.1 only): the worker's guard refuses the
    socket before a byte is sent, and the campaign pauses with the reason."""
    port = free_port()
    target = Process(
        [ZAPX, "sandbox", "--bind", f"127.0.0.2:{port}"], process_env, tmp_path, "private"
    )
    try:
        wait_http(f"http://127.0.0.2:{port}/health", proc=target)
        acct = account("rebound")
        with db.connection_context(), db.atomic():
            whatsapp_id = WhatsappConnection.create(
                company=acct.company_id,
                name="rebound",
                provider="sandbox",
                status="CONNECTED",
                settings={"baseUrl": f"http://127.0.0.2:{port}", "accessToken": "x"},
            ).id
        client.simulate_post(
            "/campaign-settings", headers=acct.headers, json={"settings": {"messageInterval": 0}}
        )
        campaign_id = start_campaign(
            client, acct, make_list(acct.company_id, 3), whatsapp_id, message2=""
        )
        report = wait_status(client, acct, campaign_id, "PAUSADA", timeout_s=60)
        assert "not public" in report["pauseReason"], report
        assert sandbox_count(f"http://127.0.0.2:{port}") == 0
        with db.connection_context():
            rows = CampaignShipping.select().where(CampaignShipping.campaign == campaign_id)
            # Back to pending to be sent when the connection is fixed; queued ones wait with them.
            assert {r.status for r in rows} <= {"pending", "queued"}
            assert all(r.provider_message_id is None and r.attempts <= 1 for r in rows)
            assert WhatsappConnection.get_by_id(whatsapp_id).status == "DISCONNECTED"
    finally:
        target.stop()
