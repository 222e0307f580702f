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


def _create(client, acct, **fields):
    body = {"name": "Promo", "message1": "Olá {nome}"} | fields
    return client.simulate_post("/campaigns", json=body, headers=acct.headers)


def _set_status(campaign_id: int, status: str) -> None:
    with db.connection_context():
        Campaign.update(status=status).where(Campaign.id == campaign_id).execute()


def test_create_show_list_and_schedule(client, alice, audience):
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
        assert_error(resp, 404, "ERR_NO_CAMPAIGN_FOUND")
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
    statuses = ["pending"] * 5 + ["sent"] * 3 + ["delivered"] * 2 + ["read"] + ["failed"] * 2
    with db.connection_context(), db.atomic():
        for i, status in enumerate(statuses):
            CampaignShipping.create(
                campaign=campaign_id,
                company_id=alice.company_id,
                contact_id=i,
                number=f"55119000000{i:02d}",
                status=status,
                sent_at=now if status in ("sent", "delivered", "read") else None,
            )
    report = client.simulate_get(f"/campaigns/{campaign_id}/report", headers=alice.headers).json
    assert report["total"] == 13 and report["remaining"] == 5
    assert report["counts"]["failed"] == 2 and report["delivered"] == 3 and report["sent"] == 6
    assert report["sendRatePerS"] == pytest.approx(6 / 60, abs=1e-3)
    assert report["estimatedEndAt"] is not None
    assert report["progress"] == pytest.approx(8 / 13, abs=1e-3)
