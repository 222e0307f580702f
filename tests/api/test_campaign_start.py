"""What a campaign needs to start, checked at the API: a CONNECTED connection and a list with
contacts (start, resume, restart); connections and lists in use cannot be deleted; a
``scheduledAt`` without an offset is read in the company's time zone."""

from __future__ import annotations

import datetime

import pytest

from tests.api.helpers import assert_error, snapshot
from tests.api.test_campaign_settings import as_dict
from zapx.db import Campaign, ContactList, ContactListItem, WhatsappConnection, db


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _later(hours: float = 1) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours)).isoformat()


def _connect(client, acct, status: str = "CONNECTED", name: str = "wa") -> int:
    resp = client.simulate_post(
        "/whatsapps",
        json={"name": name, "provider": "sandbox", "status": status},
        headers=acct.headers,
    )
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def _list(acct, size: int, *, valid: bool | None = None, name: str = "vip") -> int:
    with db.connection_context(), db.atomic():
        cl = ContactList.create(company=acct.company_id, name=name)
        for i in range(size):
            ContactListItem.create(
                company=acct.company_id,
                contact_list=cl.id,
                name=f"P{i}",
                number=f"5511988880{i:03d}",
                is_whatsapp_valid=valid,
            )
    return cl.id


def _create(client, acct, **fields):
    body = {"name": "Promo", "message1": "Olá {nome}"} | fields
    return client.simulate_post("/campaigns", json=body, headers=acct.headers)


def _set(campaign_id: int, **fields) -> None:
    with db.connection_context():
        Campaign.update(**fields).where(Campaign.id == campaign_id).execute()


def _get(client, acct, campaign_id: int) -> dict:
    return client.simulate_get(f"/campaigns/{campaign_id}", headers=acct.headers).json


def _post(client, acct, campaign_id: int, command: str):
    return client.simulate_post(f"/campaigns/{campaign_id}/{command}", headers=acct.headers)


def test_a_start_without_a_connection_or_with_an_empty_list_is_refused_naming_why(client, alice):
    full, empty = _list(alice, 2), _list(alice, 0, name="empty")
    off_whatsapp = _list(alice, 3, valid=False, name="not on whatsapp")
    before = snapshot()
    # No connection in the company at all.
    resp = _create(client, alice, contactListId=full, scheduledAt=_now())
    assert_error(resp, 400, "ERR_VALIDATION", field="whatsappId", contains="no WhatsApp connection")
    resp = _create(client, alice, contactListId=full, status="PROGRAMADA")  # "start now"
    assert_error(resp, 400, field="whatsappId")
    assert snapshot() == before
    _connect(client, alice)  # the company's default, used when whatsappId is not given
    before = snapshot()
    for list_id in (empty, off_whatsapp):
        for when in (_now(), _later()):
            resp = _create(client, alice, contactListId=list_id, scheduledAt=when)
            assert_error(resp, 409, "ERR_CONFLICT", field="contactListId", contains="no contacts")
    assert snapshot() == before
    created = _create(client, alice, contactListId=full, scheduledAt=_now())
    assert created.status_code == 201 and created.json["status"] == "PROGRAMADA", created.text


def test_a_start_through_a_connection_that_is_not_connected_is_a_409(client, alice):
    list_id = _list(alice, 2)
    down = _connect(client, alice, "DISCONNECTED")
    before = snapshot()
    resp = _create(client, alice, contactListId=list_id, whatsappId=down, scheduledAt=_now())
    assert_error(resp, 409, "ERR_CONFLICT", field="whatsappId", contains=["DISCONNECTED", "wa"])
    assert snapshot() == before
    # Scheduled for later it is accepted: the connection may be back by then (the engine checks
    # again when it is due, and pauses it with the reason if not).
    later = _create(client, alice, contactListId=list_id, whatsappId=down, scheduledAt=_later())
    assert later.status_code == 201 and later.json["status"] == "PROGRAMADA", later.text
    # Made due now by an edit: refused like a creation.
    resp = client.simulate_put(
        f"/campaigns/{later.json['id']}", json={"scheduledAt": _now()}, headers=alice.headers
    )
    assert_error(resp, 409, field="whatsappId", contains="DISCONNECTED")
    assert _get(client, alice, later.json["id"])["status"] == "PROGRAMADA"


def test_resume_and_restart_need_the_connection_connected(client, alice):
    list_id = _list(alice, 2)
    whatsapp_id = _connect(client, alice)
    campaign_id = _create(client, alice, contactListId=list_id, whatsappId=whatsapp_id).json["id"]
    started = datetime.datetime.now(datetime.UTC)
    _set(campaign_id, status="PAUSADA", started_at=started, pause_reason="paused by a user")
    with db.connection_context():
        WhatsappConnection.update(status="DISCONNECTED").where(
            WhatsappConnection.id == whatsapp_id
        ).execute()
    before = snapshot()
    for command in ("resume",):
        resp = _post(client, alice, campaign_id, command)
        assert_error(resp, 409, "ERR_CONFLICT", field="whatsappId", contains="DISCONNECTED")
    assert snapshot() == before
    assert _post(client, alice, campaign_id, "cancel").status_code == 204
    before = snapshot()
    assert_error(_post(client, alice, campaign_id, "restart"), 409, contains="DISCONNECTED")
    assert snapshot() == before
    client.simulate_put(
        f"/whatsapps/{whatsapp_id}", json={"status": "CONNECTED"}, headers=alice.headers
    )
    assert _post(client, alice, campaign_id, "restart").status_code == 204
    got = _get(client, alice, campaign_id)
    assert got["status"] == "EM_ANDAMENTO"
    with db.connection_context():
        row = Campaign.get_by_id(campaign_id)
    assert row.resumed_at is not None and row.resumed_at >= started


def test_a_campaign_that_never_started_resumes_as_a_start(client, alice):
    """Paused before its first message (the engine could not start it), a resume checks what a
    start checks and makes it due now, so the engine snapshots its audience."""
    list_id = _list(alice, 0)
    campaign_id = _create(client, alice, contactListId=list_id).json["id"]
    _set(campaign_id, status="PAUSADA", pause_reason="cannot start: no connection")
    assert_error(_post(client, alice, campaign_id, "resume"), 400, field="whatsappId")
    _connect(client, alice)
    assert_error(_post(client, alice, campaign_id, "resume"), 409, field="contactListId")
    with db.connection_context():
        ContactListItem.create(
            company=alice.company_id, contact_list=list_id, name="Ana", number="5511988887777"
        )
    assert _post(client, alice, campaign_id, "resume").status_code == 204
    got = _get(client, alice, campaign_id)
    assert got["status"] == "PROGRAMADA" and got["pauseReason"] is None
    assert datetime.datetime.fromisoformat(got["scheduledAt"]) <= datetime.datetime.now(
        datetime.UTC
    )
    # Cancelled before it started and edited since, a restart checks its texts like a schedule.
    assert _post(client, alice, campaign_id, "cancel").status_code == 204
    resp = client.simulate_put(
        f"/campaigns/{campaign_id}", json={"message1": ""}, headers=alice.headers
    )
    assert resp.status_code == 200, resp.text
    before = snapshot()
    assert_error(_post(client, alice, campaign_id, "restart"), 400, field="message1")
    assert snapshot() == before


def test_deleting_a_connection_or_list_in_use_is_a_409_naming_the_campaigns(client, alice, bob):
    list_id = _list(alice, 2)
    whatsapp_id = _connect(client, alice)
    ids = {}
    for name, status in (("Natal", "EM_ANDAMENTO"), ("Pascoa", "PAUSADA"), ("Maes", "PROGRAMADA")):
        ids[name] = _create(
            client, alice, name=name, contactListId=list_id, whatsappId=whatsapp_id
        ).json["id"]
        _set(ids[name], status=status)
    before = snapshot()
    resp = client.simulate_delete(f"/whatsapps/{whatsapp_id}", headers=alice.headers)
    body = assert_error(resp, 409, "ERR_CONFLICT", contains=["Natal", "Pascoa", "Maes"])
    assert "EM_ANDAMENTO" in body["message"] and "PAUSADA" in body["message"]
    resp = client.simulate_delete(f"/contact-lists/{list_id}", headers=alice.headers)
    assert_error(resp, 409, "ERR_CONFLICT", contains=["Natal", "Pascoa", "Maes"])
    # Another company still gets a 404, and learns nothing of the campaigns.
    resp = client.simulate_delete(f"/whatsapps/{whatsapp_id}", headers=bob.headers)
    assert "Natal" not in assert_error(resp, 404)["message"]
    assert snapshot() == before
    # Once no live campaign uses them, they can go (finished ones keep their history).
    for campaign_id in ids.values():
        _set(campaign_id, status="FINALIZADA")
    assert (
        client.simulate_delete(f"/contact-lists/{list_id}", headers=alice.headers).status_code
        == 204
    )
    assert (
        client.simulate_delete(f"/whatsapps/{whatsapp_id}", headers=alice.headers).status_code
        == 204
    )
    assert _get(client, alice, ids["Natal"])["whatsappId"] is None


@pytest.mark.parametrize(
    ("zone", "given", "utc"),
    [
        (None, "2030-01-15T09:00:00", "2030-01-15T12:00:00+00:00"),  # America/Sao_Paulo, UTC-3
        (None, "2030-01-15 09:00", "2030-01-15T12:00:00+00:00"),
        ("Asia/Tokyo", "2030-01-15T09:00:00", "2030-01-15T00:00:00+00:00"),
        ("Europe/Lisbon", "2030-07-15T09:00:00", "2030-07-15T08:00:00+00:00"),  # summer time
        ("Asia/Tokyo", "2030-01-15T09:00:00Z", "2030-01-15T09:00:00+00:00"),  # an offset wins
        ("Asia/Tokyo", "2030-01-15T09:00:00-05:00", "2030-01-15T14:00:00+00:00"),
    ],
)
def test_scheduled_at_without_an_offset_is_read_in_the_companys_time_zone(
    client, alice, zone, given, utc
):
    _connect(client, alice)
    if zone:
        resp = client.simulate_post(
            "/campaign-settings", json={"settings": {"timezone": zone}}, headers=alice.headers
        )
        assert as_dict(resp)["timezone"] == zone
    resp = _create(client, alice, contactListId=_list(alice, 1), scheduledAt=given)
    assert resp.status_code == 201, resp.text
    assert resp.json["scheduledAt"] == utc
    assert _get(client, alice, resp.json["id"])["scheduledAt"] == utc


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus", "america/sao_paulo", "../etc/passwd", "/etc/localtime", "localtime", "", 5],
)
def test_an_unknown_time_zone_is_a_400(client, alice, zone):
    before = snapshot()
    resp = client.simulate_post(
        "/campaign-settings", json={"settings": {"timezone": zone}}, headers=alice.headers
    )
    assert_error(resp, 400, "ERR_VALIDATION", field="timezone")
    assert snapshot() == before


def test_the_default_time_zone_is_sao_paulo(client, alice):
    settings = as_dict(client.simulate_get("/campaign-settings", headers=alice.headers))
    assert settings["timezone"] == "America/Sao_Paulo"
    assert settings["messageInterval"] == 20  # the documented default pacing
