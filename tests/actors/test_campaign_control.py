"""Pause, resume, cancel and restart mid-campaign; pacing; 429 storms; tenant isolation."""

from __future__ import annotations

import datetime
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
from tests.processes import wait_for
from zapx.db import CampaignShipping, db

#: Slack for one message being on the wire when a command lands.
ONE_MESSAGE = 1


def _command(client, acct, campaign_id: int, name: str) -> None:
    resp = client.simulate_post(f"/campaigns/{campaign_id}/{name}", headers=acct.headers)
    assert resp.status_code == 204, resp.text


def test_pause_resume_cancel_restart_take_effect_within_one_message(client, account, stack):
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, "ctl", messageInterval=0.05, jitter=0)
    acct = setup["account"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, 300), setup["whatsapp_id"]
    )
    wait_for(lambda: sandbox_count(stack.sandbox) >= 20, timeout_s=30, what="20 sends")

    _command(client, acct, campaign_id, "pause")
    at_pause = sandbox_count(stack.sandbox)
    time.sleep(1.0)
    assert sandbox_count(stack.sandbox) - at_pause <= ONE_MESSAGE
    report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json
    assert report["status"] == "PAUSADA" and report["pauseReason"]
    # A second pause is refused with a 409 that says why.
    resp = client.simulate_post(f"/campaigns/{campaign_id}/pause", headers=acct.headers)
    assert resp.status_code == 409 and "PAUSADA" in resp.json["message"]

    before = sandbox_count(stack.sandbox)
    resumed = time.monotonic()
    _command(client, acct, campaign_id, "resume")
    wait_for(lambda: sandbox_count(stack.sandbox) > before, timeout_s=5, what="resumed sending")
    assert time.monotonic() - resumed < 1.5
    wait_for(lambda: sandbox_count(stack.sandbox) >= before + 20, timeout_s=30, what="more sends")

    _command(client, acct, campaign_id, "cancel")
    at_cancel = sandbox_count(stack.sandbox)
    time.sleep(1.0)
    assert sandbox_count(stack.sandbox) - at_cancel <= ONE_MESSAGE
    report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json
    assert report["status"] == "CANCELADA" and report["remaining"] > 0

    _command(client, acct, campaign_id, "restart")
    report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    numbers = [m["to"] for m in sandbox_messages(stack.sandbox)]
    assert len(numbers) == 300 and len(set(numbers)) == 300
    assert report["counts"]["sent"] == 300


def test_paced_gaps_never_fall_below_the_minimum(client, account, stack):
    sandbox_reset(stack.sandbox)
    interval, jitter, every, pause = 0.2, 0.3, 5, 1.0
    setup = setup_company(
        client,
        account,
        stack.sandbox,
        "paced",
        messageInterval=interval,
        jitter=jitter,
        longerIntervalAfter=every,
        greaterInterval=pause,
    )
    acct = setup["account"]
    campaign_id = start_campaign(client, acct, make_list(acct.company_id, 16), setup["whatsapp_id"])
    wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    stamps = sorted(m["ts"] for m in sandbox_messages(stack.sandbox))

    assert len(stamps) == 16
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    # Arrival times carry a little loopback jitter; 5 ms is far below the gaps being checked.
    tolerance = 0.005
    assert min(gaps) >= interval * (1 - jitter) - tolerance, gaps
    long_gaps = [g for g in gaps if g >= pause - tolerance]
    assert len(long_gaps) == len(stamps) // every - (1 if len(stamps) % every == 0 else 0), gaps
    # Jitter is real: the short gaps are not all equal.
    short = [g for g in gaps if g < pause - tolerance]
    assert max(short) - min(short) > 0.02, short


# 100, not 300: each throttle backs off about a second (the run's length is its throttles, 300
# took 40-46 s); at 0.1 each, 100 contacts draw about 11 of each kind, and none at all of one
# kind has a chance of 0.9^100, 3e-5.
STORM_CONTACTS = 100


def test_a_429_storm_slows_the_connection_and_loses_nothing(client, account, stack):
    sandbox_reset(stack.sandbox, rate429=0.1, rate130429=0.1)
    setup = setup_company(client, account, stack.sandbox, "storm")
    acct = setup["account"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, STORM_CONTACTS), setup["whatsapp_id"]
    )
    report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=180)
    stats = urllib3.PoolManager().request("GET", stack.sandbox + "/_sandbox/stats").json()
    assert stats["injected"]["429"] > 0 and stats["injected"]["130429"] > 0
    numbers = [m["to"] for m in sandbox_messages(stack.sandbox)]
    assert len(numbers) == STORM_CONTACTS and len(set(numbers)) == STORM_CONTACTS
    assert report["counts"]["sent"] == STORM_CONTACTS and report["counts"]["failed"] == 0
    with db.connection_context():
        # Throttled sends were retried without using up attempts.
        worst = max(
            r.attempts
            for r in CampaignShipping.select().where(CampaignShipping.campaign == campaign_id)
        )
    assert worst <= 2


def test_two_companies_never_see_each_others_contacts_or_settings(client, account, stack):
    sandbox_reset(stack.sandbox)
    ids = {}
    for name, prefix, promo in (("alpha", "55219", "ALFA10"), ("beta", "55319", "BETA20")):
        setup = setup_company(client, account, stack.sandbox, name)
        acct = setup["account"]
        resp = client.simulate_post(
            "/campaign-settings",
            json={"settings": {"variables": [{"key": "promo", "value": promo}]}},
            headers=acct.headers,
        )
        assert resp.status_code == 200
        list_id = make_list(acct.company_id, 100, prefix=prefix)
        ids[name] = (
            acct,
            start_campaign(
                client,
                acct,
                list_id,
                setup["whatsapp_id"],
                message1="{nome}: cupom {promo}",
                message2="",
            ),
            prefix,
            promo,
        )
        # The other company's campaign is a 404 to this one.
    for name, (acct, campaign_id, _, _) in ids.items():
        other = ids["beta" if name == "alpha" else "alpha"][1]
        assert client.simulate_get(f"/campaigns/{other}", headers=acct.headers).status_code == 404
        wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    messages = sandbox_messages(stack.sandbox)
    assert len(messages) == 200
    for _, (_, campaign_id, prefix, promo) in ids.items():
        with db.connection_context():
            rows = list(CampaignShipping.select().where(CampaignShipping.campaign == campaign_id))
        assert len(rows) == 100
        assert all(r.number.startswith(prefix) for r in rows)
        assert all(r.message.endswith(f"cupom {promo}") for r in rows)


def test_a_lost_connection_pauses_its_campaigns_with_a_reason(client, account, stack):
    sandbox_reset(stack.sandbox, rateAuth=1.0)
    setup = setup_company(client, account, stack.sandbox, "lost")
    acct = setup["account"]
    campaign_id = start_campaign(client, acct, make_list(acct.company_id, 50), setup["whatsapp_id"])
    report = wait_status(client, acct, campaign_id, "PAUSADA", timeout_s=30)
    assert "lost" in report["pauseReason"] and report["remaining"] == 50
    wa = client.simulate_get(f"/whatsapps/{setup['whatsapp_id']}", headers=acct.headers).json
    assert wa["status"] == "DISCONNECTED"
    # Reconnected and resumed, it finishes; nothing was sent twice.
    sandbox_reset(stack.sandbox)
    client.simulate_put(
        f"/whatsapps/{setup['whatsapp_id']}", json={"status": "CONNECTED"}, headers=acct.headers
    )
    _command(client, acct, campaign_id, "resume")
    wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=30)
    numbers = [m["to"] for m in sandbox_messages(stack.sandbox)]
    assert len(numbers) == 50 and len(set(numbers)) == 50


def test_disconnecting_a_connection_pauses_its_campaigns(client, account, stack):
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, "unplug", messageInterval=0.05, jitter=0)
    acct = setup["account"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, 200), setup["whatsapp_id"]
    )
    wait_for(lambda: sandbox_count(stack.sandbox) >= 5, timeout_s=30, what="sending")
    resp = client.simulate_put(
        f"/whatsapps/{setup['whatsapp_id']}", json={"status": "DISCONNECTED"}, headers=acct.headers
    )
    assert resp.status_code == 200
    at = sandbox_count(stack.sandbox)
    time.sleep(1.0)
    assert sandbox_count(stack.sandbox) - at <= ONE_MESSAGE
    report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json
    assert report["status"] == "PAUSADA" and "disconnected" in report["pauseReason"]


def _soon(seconds: float = 1.5) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)).isoformat()


def _set_connection(client, acct, whatsapp_id: int, status: str) -> None:
    resp = client.simulate_put(
        f"/whatsapps/{whatsapp_id}", json={"status": status}, headers=acct.headers
    )
    assert resp.status_code == 200, resp.text


def test_resuming_through_a_disconnected_connection_is_refused_and_sends_nothing(
    client, account, stack
):
    sandbox_reset(stack.sandbox)
    setup = setup_company(
        client, account, stack.sandbox, "noresume", messageInterval=0.05, jitter=0
    )
    acct, whatsapp_id = setup["account"], setup["whatsapp_id"]
    campaign_id = start_campaign(client, acct, make_list(acct.company_id, 60), whatsapp_id)
    wait_for(lambda: sandbox_count(stack.sandbox) >= 5, timeout_s=30, what="sending")
    _set_connection(client, acct, whatsapp_id, "DISCONNECTED")
    report = wait_status(client, acct, campaign_id, "PAUSADA", timeout_s=10)
    assert report["estimatedEndAt"] is None and report["sendRatePerS"] == 0
    time.sleep(0.3)  # the message that may have been on the wire lands
    at = sandbox_count(stack.sandbox)
    resp = client.simulate_post(f"/campaigns/{campaign_id}/resume", headers=acct.headers)
    assert resp.status_code == 409 and "DISCONNECTED" in resp.json["message"], resp.text
    time.sleep(1.0)
    assert sandbox_count(stack.sandbox) == at
    report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json
    assert report["status"] == "PAUSADA" and report["remaining"] > 0
    # Connected again, the resume goes through and the campaign ends, each contact once.
    _set_connection(client, acct, whatsapp_id, "CONNECTED")
    _command(client, acct, campaign_id, "resume")
    report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    numbers = [m["to"] for m in sandbox_messages(stack.sandbox)]
    assert len(numbers) == 60 and len(set(numbers)) == 60


def test_a_due_campaign_that_cannot_start_is_paused_with_the_reason_then_resumed(
    client, account, stack
):
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, "notdue", messageInterval=0.1, jitter=0)
    acct, whatsapp_id = setup["account"], setup["whatsapp_id"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, 40), whatsapp_id, scheduledAt=_soon()
    )
    _set_connection(client, acct, whatsapp_id, "DISCONNECTED")  # before it comes due
    report = wait_status(client, acct, campaign_id, "PAUSADA", timeout_s=15)
    assert "cannot start" in report["pauseReason"] and "DISCONNECTED" in report["pauseReason"]
    assert report["total"] == 0 and sandbox_count(stack.sandbox) == 0
    assert report["estimatedEndAt"] is None

    _set_connection(client, acct, whatsapp_id, "CONNECTED")
    resumed = time.monotonic()
    _command(client, acct, campaign_id, "resume")
    # The first polls of a 4 s campaign (10 msgs/s): once a rate shows, it is the rate of its
    # recorded sends, with an end seconds away (over a fixed 60 s, the old report said about
    # 0.35 msgs/s and minutes to go).
    report = {}

    def rate_shown() -> bool:
        nonlocal report
        report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json
        return report["sendRatePerS"] > 0 or report["status"] == "FINALIZADA"

    wait_for(rate_shown, timeout_s=30, what="a send rate")
    assert report["status"] == "EM_ANDAMENTO" and report["remaining"] > 0, report
    end = datetime.datetime.fromisoformat(report["estimatedEndAt"])
    assert (end - datetime.datetime.now(datetime.UTC)).total_seconds() < 30, report
    assert 2 < report["sendRatePerS"] < 40, report
    report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    assert time.monotonic() - resumed < 60
    assert report["counts"]["sent"] == 40 and report["total"] == 40
    numbers = [m["to"] for m in sandbox_messages(stack.sandbox)]
    assert len(numbers) == 40 and len(set(numbers)) == 40


def test_a_due_campaign_whose_list_was_emptied_is_paused_not_finished(client, account, stack):
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, "emptied")
    acct = setup["account"]
    list_id = make_list(acct.company_id, 1)
    campaign_id = start_campaign(client, acct, list_id, setup["whatsapp_id"], scheduledAt=_soon())
    [item] = client.simulate_get(
        "/contact-list-items/list", params={"contactListId": list_id}, headers=acct.headers
    ).json
    resp = client.simulate_delete(f"/contact-list-items/{item['id']}", headers=acct.headers)
    assert resp.status_code == 204
    report = wait_status(client, acct, campaign_id, "PAUSADA", timeout_s=15)
    assert "no contacts" in report["pauseReason"] and report["total"] == 0


def test_a_connection_or_list_in_use_cannot_be_deleted_under_a_running_campaign(
    client, account, stack
):
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, "inuse", messageInterval=0.05, jitter=0)
    acct, whatsapp_id = setup["account"], setup["whatsapp_id"]
    list_id = make_list(acct.company_id, 60)
    campaign_id = start_campaign(client, acct, list_id, whatsapp_id)
    wait_for(lambda: sandbox_count(stack.sandbox) >= 3, timeout_s=30, what="sending")
    for path in (f"/whatsapps/{whatsapp_id}", f"/contact-lists/{list_id}"):
        resp = client.simulate_delete(path, headers=acct.headers)
        assert resp.status_code == 409 and "Black Friday" in resp.json["message"], resp.text
    report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    assert report["counts"]["sent"] == 60
    got = client.simulate_get(f"/campaigns/{campaign_id}", headers=acct.headers).json
    assert got["whatsappId"] == whatsapp_id and got["contactListId"] == list_id
    # Finished, it no longer holds them.
    for path in (f"/contact-lists/{list_id}", f"/whatsapps/{whatsapp_id}"):
        assert client.simulate_delete(path, headers=acct.headers).status_code == 204
