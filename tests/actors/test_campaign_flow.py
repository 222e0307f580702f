"""A campaign end to end through the real processes: API -> engine -> workers -> sandbox."""

from __future__ import annotations

import time

import urllib3

from tests.actors.campaigns import (
    make_list,
    sandbox_messages,
    setup_company,
    start_campaign,
    wait_status,
)
from zapx.db import CampaignShipping, db


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
