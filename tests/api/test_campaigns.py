"""``/campaigns``: fields and rules of the original, 409s for commands the status forbids,
variables checked at creation, plan limits, tenancy, and the SQL report."""

from __future__ import annotations

import datetime

import pytest

from tests.api.helpers import assert_error, snapshot
from zapx.db import Campaign, CampaignShipping, ContactList, ContactListItem, db


@pytest.fixture
def audience(alice):
    """Alice's list of two items, one with a custom field ``bloco``."""
    with db.connection_context(), db.atomic():
        cl = ContactList.create(company=alice.company_id, name="vip")
        ContactListItem.create(
            company=alice.company_id,
            contact_list=cl.id,
            name="Ana",
            number="5511988887777",
            extra_info=[{"name": "bloco", "value": "B"}],
        )
        ContactListItem.create(
            company=alice.company_id, contact_list=cl.id, name="Bia", number="5511988887778"
        )
    return cl.id


def _connect(client, acct, status: str = "CONNECTED") -> int:
    """A sandbox connection of ``acct``'s company in ``status``; returns its id."""
    resp = client.simulate_post(
        "/whatsapps",
        json={"name": f"wa-{status}", "provider": "sandbox", "status": status},
        headers=acct.headers,
    )
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def _create(client, acct, **fields):
    body = {"name": "Promo", "message1": "Olá {nome}"} | fields
    return client.simulate_post("/campaigns", json=body, headers=acct.headers)


def _set_status(campaign_id: int, status: str) -> None:
    with db.connection_context():
        Campaign.update(status=status).where(Campaign.id == campaign_id).execute()


def test_create_show_list_and_schedule(client, alice, audience):
    _connect(client, alice)
    resp = _create(client, alice, contactListId=audience)
    assert resp.status_code == 201, resp.text
    campaign = resp.json
    assert campaign["status"] == "INATIVA" and campaign["message1"] == "Olá {nome}"
    when = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat()
    resp = client.simulate_put(
        f"/campaigns/{campaign['id']}", json={"scheduledAt": when}, headers=alice.headers
    )
    assert resp.status_code == 200 and resp.json["status"] == "PROGRAMADA"
    resp = client.simulate_put(
        f"/campaigns/{campaign['id']}", json={"scheduledAt": None}, headers=alice.headers
    )
    assert resp.json["status"] == "INATIVA"
    page = client.simulate_get(
        "/campaigns", params={"searchParam": "prom"}, headers=alice.headers
    ).json
    assert page["count"] == 1 and page["records"][0]["id"] == campaign["id"]
    assert len(client.simulate_get("/campaigns/list", headers=alice.headers).json) == 1


def test_the_full_list_is_newest_first_like_the_pages(client, alice):
    for name in ("Zeta", "Alpha", "Meio"):
        assert _create(client, alice, name=name).status_code == 201
    names = [c["name"] for c in client.simulate_get("/campaigns/list", headers=alice.headers).json]
    assert names == ["Meio", "Alpha", "Zeta"]
    page = client.simulate_get("/campaigns", headers=alice.headers).json["records"]
    assert [c["name"] for c in page] == names


def test_unknown_variable_is_a_400_naming_it(client, alice, audience):
    before = snapshot()
    resp = _create(client, alice, contactListId=audience, message2="Oi {apelido}")
    assert_error(resp, 400, "ERR_VALIDATION", field="message2", contains="{apelido}")
    assert snapshot() == before
    # The list's custom field and the company's own variable are known.
    client.simulate_post(
        "/campaign-settings",
        headers=alice.headers,
        json={"settings": {"variables": [{"key": "loja", "value": "Centro"}]}},
    )
    resp = _create(client, alice, contactListId=audience, message1="{nome} {bloco} {loja}")
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": "ab"}, "name"),
        ({"name": 5}, "name"),
        ({"message1": "x" * 4097}, "message1"),
        ({"scheduledAt": "tomorrow"}, "scheduledAt"),
        ({"contactListId": "abc"}, "contactListId"),
        ({"whatsappId": 0}, "whatsappId"),
        ({"status": "EM_ANDAMENTO"}, "status"),
        ({"confirmation": "yes"}, "confirmation"),
    ],
)
def test_bad_fields_are_400s_and_write_nothing(client, alice, fields, field):
    before = snapshot()
    assert_error(_create(client, alice, **fields), 400, field=field)
    assert snapshot() == before


def test_scheduling_needs_a_list_and_a_message(client, alice, audience):
    when = datetime.datetime.now(datetime.UTC).isoformat()
    assert_error(_create(client, alice, scheduledAt=when), 400, field="contactListId")
    assert_error(
        _create(client, alice, scheduledAt=when, contactListId=audience, message1=""),
        400,
        field="message1",
    )
    assert_error(
        _create(client, alice, scheduledAt=when, contactListId=audience, confirmation=True),
        400,
        field="confirmationMessage1",
    )


def test_edit_and_delete_rules_and_command_conflicts(client, alice, audience):
    campaign_id = _create(client, alice, contactListId=audience).json["id"]
    assert_error(
        client.simulate_post(f"/campaigns/{campaign_id}/pause", headers=alice.headers),
        409,
        "ERR_CONFLICT",
        contains=["pause", "INATIVA"],
    )
    _set_status(campaign_id, "EM_ANDAMENTO")
    before = snapshot()
    assert_error(
        client.simulate_put(
            f"/campaigns/{campaign_id}", json={"name": "Outra"}, headers=alice.headers
        ),
        409,
        contains="EM_ANDAMENTO",
    )
    assert_error(
        client.simulate_delete(f"/campaigns/{campaign_id}", headers=alice.headers),
        409,
        contains="EM_ANDAMENTO",
    )
    assert_error(
        client.simulate_post(f"/campaigns/{campaign_id}/restart", headers=alice.headers), 409
    )
    assert snapshot() == before
    assert (
        client.simulate_post(f"/campaigns/{campaign_id}/pause", headers=alice.headers).status_code
        == 204
    )
    assert (
        client.simulate_get(f"/campaigns/{campaign_id}", headers=alice.headers).json["status"]
        == "PAUSADA"
    )
    assert (
        client.simulate_post(f"/campaigns/{campaign_id}/cancel", headers=alice.headers).status_code
        == 204
    )
    assert (
        client.simulate_put(
            f"/campaigns/{campaign_id}", json={"name": "Outra"}, headers=alice.headers
        ).status_code
        == 200
    )
    assert (
        client.simulate_delete(f"/campaigns/{campaign_id}", headers=alice.headers).status_code
        == 204
    )


def test_another_companys_campaign_is_a_404_and_unchanged(client, alice, bob, audience):
    campaign_id = _create(client, alice, contactListId=audience).json["id"]
    _set_status(campaign_id, "EM_ANDAMENTO")
    before = snapshot()
    for method, path in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("GET", "/report"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/cancel"),
        ("POST", "/restart"),
    ]:
        resp = client.simulate_request(
            method, f"/campaigns/{campaign_id}{path}", headers=bob.headers, json={"name": "hijack"}
        )
        assert_error(resp, 404, "ERR_NO_CAMPAIGN_FOUND")  # the original's code
    assert snapshot() == before
    # Nor can Bob point his own campaign at Alice's list.
    assert_error(_create(client, bob, contactListId=audience), 404)
    assert client.simulate_get("/campaigns", headers=bob.headers).json["count"] == 0


def test_plan_limits(client, account):
    acct = account("tiny", max_campaigns=1)
    assert _create(client, acct).status_code == 201
    assert_error(_create(client, acct), 400, "ERR_PLAN_LIMIT", contains="1 campaigns")
    off = account("nocampaigns", use_campaigns=False)
    assert_error(_create(client, off), 400, "ERR_PLAN_LIMIT", contains="plan")


def test_report_counts_by_sql(client, alice, audience):
    campaign_id = _create(client, alice, contactListId=audience).json["id"]
    now = datetime.datetime.now(datetime.UTC)
    ten_minutes_ago = now - datetime.timedelta(minutes=10)
    with db.connection_context():  # running for ten minutes: the rate is over the last 60 s
        Campaign.update(status="EM_ANDAMENTO", started_at=ten_minutes_ago).where(
            Campaign.id == campaign_id
        ).execute()
    statuses = ["pending"] * 5 + ["sent"] * 3 + ["delivered"] * 2 + ["read"] + ["failed"] * 2
    with db.connection_context(), db.atomic():
        for i, status in enumerate(statuses):
            # Six sends recorded one a second, 10 to 5 s ago: five left in the 5 s between.
            sent_at = now - datetime.timedelta(seconds=15 - i)
            CampaignShipping.create(
                campaign=campaign_id,
                company_id=alice.company_id,
                contact_id=i,
                number=f"55119000000{i:02d}",
                status=status,
                sent_at=sent_at if status in ("sent", "delivered", "read") else None,
            )
    report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=alice.headers).json
    assert report["total"] == 13 and report["remaining"] == 5
    assert report["counts"]["failed"] == 2 and report["delivered"] == 3 and report["sent"] == 6
    assert report["sendRatePerS"] == pytest.approx(1.0, abs=1e-3)
    assert report["estimatedEndAt"] is not None
    assert report["progress"] == pytest.approx(8 / 13, abs=1e-3)


def _rows(campaign_id: int, company_id: int, rows: list, first: int = 0) -> None:
    """Shipping rows ``(status, sent_at)`` for contacts ``first``, ``first + 1``..."""
    with db.connection_context(), db.atomic():
        for i, (status, sent_at) in enumerate(rows, start=first):
            CampaignShipping.create(
                campaign=campaign_id,
                company_id=company_id,
                contact_id=i,
                number=f"55119{i:08d}",
                status=status,
                sent_at=sent_at,
            )


def _report(client, acct, campaign_id: int) -> dict:
    return client.simulate_get(f"/campaigns/{campaign_id}/report", headers=acct.headers).json


def test_the_rate_counts_the_time_the_run_really_took_and_a_pause_has_no_end(client, alice):
    campaign_id = _create(client, alice).json["id"]
    now = datetime.datetime.now(datetime.UTC)

    def ago(seconds: float) -> datetime.datetime:
        return now - datetime.timedelta(seconds=seconds)

    def set_campaign(**fields) -> None:
        with db.connection_context():
            Campaign.update(**fields).where(Campaign.id == campaign_id).execute()

    # Started 3 s ago: the first batch (one row) recorded 2.5 s ago, the second (ten rows) 0.5 s
    # ago; 100 to go. Ten left in those 2 s: 5/s and 20 s to the end (the old report divided
    # eleven by 60 s: 0.18/s and nine minutes).
    set_campaign(status="EM_ANDAMENTO", started_at=ago(3))
    _rows(campaign_id, alice.company_id, [("sent", ago(2.5))] + [("sent", ago(0.5))] * 10)
    _rows(campaign_id, alice.company_id, [("pending", None)] * 100, first=100)
    report = _report(client, alice, campaign_id)
    assert report["sendRatePerS"] == pytest.approx(5.0, abs=0.01), report
    eta = datetime.datetime.fromisoformat(report["estimatedEndAt"])
    assert 18 <= (eta - now).total_seconds() <= 22, report

    # Paused: nothing is being sent, so no rate and no estimated end.
    set_campaign(status="PAUSADA")
    report = _report(client, alice, campaign_id)
    assert report["estimatedEndAt"] is None and report["sendRatePerS"] == 0, report
    assert report["remaining"] == 100

    # Resumed 5 s ago, long after the start: the sends of before the pause (30 s ago, within
    # the last 60 s) are not this run's. Since: one at 4 s ago, six more at 1 s ago: 2/s.
    with db.connection_context():
        CampaignShipping.update(sent_at=ago(30)).where(CampaignShipping.status == "sent").execute()
    set_campaign(status="EM_ANDAMENTO", started_at=ago(600), resumed_at=ago(5))
    _rows(campaign_id, alice.company_id, [("sent", ago(4))] + [("sent", ago(1))] * 6, first=1000)
    report = _report(client, alice, campaign_id)
    assert report["sendRatePerS"] == pytest.approx(2.0, abs=0.01), report
    assert report["resumedAt"] is not None and report["estimatedEndAt"] is not None

    # A run whose first batch is all that is recorded has no rate yet, rather than a wrong one.
    set_campaign(resumed_at=ago(2))
    report = _report(client, alice, campaign_id)
    assert report["sendRatePerS"] == 0 and report["estimatedEndAt"] is None, report
