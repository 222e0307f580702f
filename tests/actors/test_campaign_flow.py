"""A campaign end to end through the real processes: API -> engine -> workers -> sandbox."""

from __future__ import annotations

import datetime
import time

import pytest
import urllib3

from tests.processes import ZAPX, Process, free_port, wait_for, wait_http
from zapx.db import CampaignShipping, ContactList, ContactListItem, db


@pytest.fixture(scope="module")
def stack(process_env, tmp_path_factory, broker):
    """sandbox + engine + worker, started once for the module."""
    tmp = tmp_path_factory.mktemp("stack")
    port = free_port()
    env = process_env | {"SANDBOX_BIND": f"127.0.0.1:{port}"}
    procs = [
        Process([ZAPX, "sandbox"], env, tmp, "sandbox"),
        Process([ZAPX, "engine"], env, tmp, "engine"),
        Process([ZAPX, "worker", "--processes", "1", "--threads", "8"], env, tmp, "worker"),
    ]
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/health", proc=procs[0])
    yield {"sandbox": base, "procs": procs}
    for proc in reversed(procs):
        proc.stop(timeout_s=60)


def sandbox_messages(base: str) -> list[dict]:
    http = urllib3.PoolManager()
    out, after = [], 0
    while True:
        page = http.request("GET", f"{base}/_sandbox/messages?after={after}&limit=5000").json()
        out += page["messages"]
        if not page["messages"]:
            return out
        after = out[-1]["seq"]


def make_list(company_id: int, size: int, name: str = "audience") -> int:
    with db.connection_context(), db.atomic():
        contact_list = ContactList.create(company=company_id, name=name)
        rows = [
            {
                "company": company_id,
                "contact_list": contact_list.id,
                "name": f"Pessoa {i}",
                "number": f"55119{i:08d}",
                "condominio": f"Condomínio {i % 7}",
            }
            for i in range(size)
        ]
        for start in range(0, size, 5000):
            ContactListItem.insert_many(rows[start : start + 5000]).execute()
    return contact_list.id


def setup_company(client, account, sandbox: str, name: str, interval: float = 0) -> dict:
    acct = account(name)
    resp = client.simulate_post(
        "/whatsapps",
        json={"name": "sb", "provider": "sandbox", "settings": {"baseUrl": sandbox}},
        headers=acct.headers,
    )
    assert resp.status_code == 201, resp.text
    resp = client.simulate_post(
        "/campaign-settings",
        json={"settings": {"messageInterval": interval, "longerIntervalAfter": 0}},
        headers=acct.headers,
    )
    assert resp.status_code == 200, resp.text
    return {
        "account": acct,
        "whatsapp_id": client.simulate_get("/whatsapps/list", headers=acct.headers).json[0]["id"],
    }


def start_campaign(client, acct, list_id: int, whatsapp_id: int, **fields) -> int:
    body = {
        "name": "Black Friday",
        "contactListId": list_id,
        "whatsappId": whatsapp_id,
        "message1": "Olá {nome}, do {condominio}!",
        "message2": "Oi {name}, tudo bem?",
        "scheduledAt": datetime.datetime.now(datetime.UTC).isoformat(),
        **fields,
    }
    resp = client.simulate_post("/campaigns", json=body, headers=acct.headers)
    assert resp.status_code == 201, resp.text
    assert resp.json["status"] == "PROGRAMADA"
    return resp.json["id"]


def wait_status(client, acct, campaign_id: int, status: str, timeout_s: float = 120) -> dict:
    last = {}

    def done():
        nonlocal last
        last = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json
        return last.get("status") == status

    try:
        wait_for(done, timeout_s=timeout_s, what=f"campaign {status}")
    except AssertionError:
        raise AssertionError(f"campaign never {status}; last report: {last}") from None
    return last


def test_a_1000_contact_campaign_sends_each_contact_exactly_once(client, account, stack):
    http = urllib3.PoolManager()
    http.request("POST", stack["sandbox"] + "/_sandbox/reset")
    setup = setup_company(client, account, stack["sandbox"], "acme")
    acct = setup["account"]
    list_id = make_list(acct.company_id, 1000)
    started = time.monotonic()
    campaign_id = start_campaign(client, acct, list_id, setup["whatsapp_id"])
    report = wait_status(client, acct, campaign_id, "FINALIZADA")
    elapsed = time.monotonic() - started
    assert report["counts"]["sent"] == 1000, report
    assert report["remaining"] == 0
    messages = sandbox_messages(stack["sandbox"])
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
