"""Alerts through the real processes (sandbox, engine, worker): Cloud error 131048 pauses the
campaign at once with the reason and opens spam_rate_limit, whose webhook reaches a local
receiver signed per Standard Webhooks after two failed tries; resuming resolves it; the engine's
alert thread opens and resolves connection_down.

Figures (2-core machine shared with other runs, paced at 20 messages/s, 3 runs): the worker
logged the pause 0.065-0.071 s after the answer to the last accepted message (the 131048 request
came 0.05 s after it, at the pacing's gap), the sandbox recorded exactly 30 messages, none after
the 131048;
the webhook was taken on its third try about 2.5 s after the pause (Dramatiq's backoff, 0.5 s
doubling, with jitter). Unpaced figures are in docs/ALERTS.md.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.actors.campaigns import (
    make_list,
    sandbox_count,
    sandbox_messages,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.actors.conftest import make_stack
from tests.actors.receivers import Receiver
from tests.processes import wait_for
from zapx.db import Alert, CampaignShipping, WhatsappConnection, db, utcnow
from zapx.redis import get_redis

#: Messages the sandbox accepts before it answers 131048 (once).
SPAM_AFTER = 30
CONTACTS = 60
#: Messages that may reach the sandbox after the 131048 answer: at 20 messages/s one batch
#: holds the connection's send token at a time and it stops at the 131048, so none should;
#: one is the slack for a send another batch had already started.
IN_FLIGHT = 1


@pytest.fixture(scope="module")
def stack(process_env, tmp_path_factory, broker):
    started = make_stack(
        process_env,
        tmp_path_factory.mktemp("alerts"),
        ALERT_INTERVAL_S="0.5",
        ALERT_CONNECTION_DOWN_S="0",
    )
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def forget_marks(redis_url, redis_prefix):
    """The delivered events' marks go with the test: a later test whose tables restart their
    ids has another alert 1."""
    yield
    client = get_redis(redis_url)
    for key in client.scan_iter(match=f"{redis_prefix}alerts:posted:*"):
        client.delete(key)


@pytest.fixture
def receiver():
    made = Receiver(fail_first=2)
    yield made
    made.close()


def _alerts(company_id: int, rule: str) -> list[Alert]:
    with db.connection_context():
        return list(
            Alert.select()
            .where((Alert.company == company_id) & (Alert.rule == rule))
            .order_by(Alert.id)
        )


def test_131048_pauses_at_once_opens_the_alert_and_the_webhook_retries(
    client, account, stack, receiver
):
    sandbox_reset(stack.sandbox, spamAfter=SPAM_AFTER)
    setup = setup_company(client, account, stack.sandbox, "spam", messageInterval=0.05, jitter=0)
    acct = setup["account"]
    resp = client.simulate_put("/alerts/webhook", json={"url": receiver.url}, headers=acct.headers)
    assert resp.status_code == 200, resp.text
    receiver.secret = resp.json["secret"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, CONTACTS), setup["whatsapp_id"]
    )
    report = wait_status(client, acct, campaign_id, "PAUSADA", timeout_s=60)
    assert report["pauseReason"].startswith("spam rate limit hit (Cloud API 131048)")
    assert "Spam rate limit hit" in report["pauseReason"]
    time.sleep(1.5)  # anything still coming would arrive by now (20 messages/s)
    recorded = sandbox_messages(stack.sandbox)
    assert SPAM_AFTER <= len(recorded) <= SPAM_AFTER + IN_FLIGHT
    assert sandbox_count(stack.sandbox) == len(recorded)
    # No row lost: every recorded message is a sent row, the rest are pending (the 131048 row
    # back without using up its attempt), none failed.
    with db.connection_context():
        rows = list(CampaignShipping.select().where(CampaignShipping.campaign == campaign_id))
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    assert by_status.get("sent", 0) == len(recorded)
    assert by_status.get("failed", 0) == 0 and len(rows) == CONTACTS

    (alert,) = _alerts(acct.company_id, "spam_rate_limit")
    assert (alert.status, alert.subject, alert.severity) == (
        "open",
        f"campaign:{campaign_id}",
        "critical",
    )
    assert alert.message == report["pauseReason"]
    listed = client.simulate_get("/alerts?status=open", headers=acct.headers).json["records"]
    assert [a["id"] for a in listed if a["rule"] == "spam_rate_limit"] == [alert.id]

    # The webhook: 503 twice, then taken; every try signed, with the same webhook-id.
    wait_for(lambda: receiver.taken(), timeout_s=30, what="the webhook taken")
    tries = receiver.received
    assert [r.status for r in tries] == [503, 503, 200] and all(r.valid for r in tries)
    assert {r.headers["webhook-id"] for r in tries} == {f"alert_{alert.id}_opened"}
    event = tries[-1].event
    assert event["type"] == "alert.opened" and event["data"]["id"] == alert.id
    assert event["data"]["companyId"] == acct.company_id
    assert event["data"]["subject"] == f"campaign:{campaign_id}"
    assert tries[-1].headers["webhook-signature"].startswith("v1,")

    # One log line in the engine: the alert opened, with the company and the campaign.
    lines = [
        json.loads(x) for x in stack.procs["engine"].output().splitlines() if x.startswith("{")
    ]
    opened = [
        x for x in lines if x.get("event") == "alert opened" and x.get("rule") == "spam_rate_limit"
    ]
    assert [(x["company_id"], x["campaign_id"]) for x in opened] == [(acct.company_id, campaign_id)]

    # The worker paused it the moment the answer came (the engine had nothing left to pause).
    worker = [
        json.loads(x) for x in stack.procs["worker"].output().splitlines() if x.startswith("{")
    ]
    paused = [x for x in worker if x.get("event") == "campaign paused: spam rate limit"]
    assert [(x["company_id"], x["campaign_id"]) for x in paused] == [(acct.company_id, campaign_id)]

    # Resumed: it finishes, and the alert thread resolves the alert (webhook alert.resolved).
    resp = client.simulate_post(f"/campaigns/{campaign_id}/resume", headers=acct.headers)
    assert resp.status_code == 204, resp.text
    wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    assert len(sandbox_messages(stack.sandbox)) == CONTACTS
    wait_for(
        lambda: _alerts(acct.company_id, "spam_rate_limit")[0].status == "resolved",
        timeout_s=10,
        what="spam_rate_limit resolved",
    )
    wait_for(
        lambda: any(
            r.headers["webhook-id"] == f"alert_{alert.id}_resolved" for r in receiver.taken()
        ),
        timeout_s=15,
        what="the resolved event's webhook",
    )
    assert all(r.valid for r in receiver.received)


def test_the_alert_thread_opens_and_resolves_connection_down(client, account, stack, receiver):
    sandbox_reset(stack.sandbox, spamAfter=5)
    setup = setup_company(client, account, stack.sandbox, "down", messageInterval=0.05, jitter=0)
    acct = setup["account"]
    whatsapp_id = setup["whatsapp_id"]
    campaign_id = start_campaign(client, acct, make_list(acct.company_id, 20), whatsapp_id)
    wait_status(client, acct, campaign_id, "PAUSADA", timeout_s=60)  # a paused campaign uses it
    with db.connection_context():
        WhatsappConnection.update(status="DISCONNECTED", updated_at=utcnow()).where(
            WhatsappConnection.id == whatsapp_id
        ).execute()
    wait_for(
        lambda: [a.status for a in _alerts(acct.company_id, "connection_down")] == ["open"],
        timeout_s=10,
        what="connection_down opened",
    )
    (alert,) = _alerts(acct.company_id, "connection_down")
    assert alert.subject == f"whatsapp:{whatsapp_id}" and alert.severity == "critical"
    # Touched while it holds (every 0.5 s), never a second row.
    wait_for(
        lambda: _alerts(acct.company_id, "connection_down")[0].occurrences >= 3,
        timeout_s=10,
        what="connection_down touched",
    )
    with db.connection_context():
        WhatsappConnection.update(status="CONNECTED", updated_at=utcnow()).where(
            WhatsappConnection.id == whatsapp_id
        ).execute()
    wait_for(
        lambda: _alerts(acct.company_id, "connection_down")[0].status == "resolved",
        timeout_s=10,
        what="connection_down resolved",
    )
    (row,) = _alerts(acct.company_id, "connection_down")
    assert row.resolved_at >= row.last_seen_at >= row.opened_at
