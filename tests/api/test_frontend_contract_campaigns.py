"""The frontend's campaign-module calls, replayed as its code makes them (``frontend_calls.CALLS``):
campaigns (list, show for the edit form and the report page, create, edit, cancel, restart,
delete), campaign settings and file lists. Each test sends the request the page sends, walks
every field the page reads in the real answer, validates the answer against ``/openapi.json``'s
response schema, and checks what the page computes from it (the report's counters, the settings
page's values) against the database."""

from __future__ import annotations

import datetime
import json

import pytest

from tests.api.contract import (
    BROWSER_ZONE,
    CALLS_BY_NAME,
    assert_valid,
    campaign_body,
    campaign_form,
    replay,
    replays_into,
    report_counters,
    settings_page,
    url,
)
from tests.api.helpers import assert_error, snapshot
from zapx.db import Campaign, ContactList, db

#: The calls of the campaign module these tests replay (test name -> call names).
REPLAYED: dict[str, tuple[str, ...]] = {}
replays = replays_into(REPLAYED)


@pytest.fixture
def world(client, alice):
    """Alice's CONNECTED sandbox connection and a list of 6 items, one marked off WhatsApp."""
    resp = client.simulate_post(
        "/whatsapps",
        json={"name": "Zap Loja", "provider": "sandbox", "status": "CONNECTED"},
        headers=alice.headers,
    )
    assert resp.status_code == 201, resp.text
    with db.connection_context(), db.atomic():
        cl = ContactList.create(company=alice.company_id, name="Clientes VIP")
        db.execute_sql(
            "INSERT INTO contact_list_items (created_at, updated_at, company_id, contact_list_id, "
            "name, number, email, condominio, endereco, cargo, extra_info, search, "
            "is_whatsapp_valid) SELECT now(), now(), %s, %s, 'Pessoa ' || g, "
            "'55119' || lpad(g::text, 8, '0'), '', '', '', '', '[]', '', "
            "CASE WHEN g = 6 THEN false END FROM generate_series(1, 6) g",
            (alice.company_id, cl.id),
        )
    return {"whatsapp": resp.json["id"], "list": cl.id}


def _create(client, acct, world, **fields) -> dict:
    form = campaign_form(acct.company_id) | {
        "name": "Promo de sábado",
        "message1": "Olá {nome}",
        "whatsappId": world["whatsapp"],
        "contactListId": world["list"],
    }
    resp = client.simulate_post(
        "/campaigns", json=campaign_body(form | fields), headers=acct.headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json


def _run(campaign_id: int, statuses: list[str], *, status: str = "CANCELADA") -> None:
    """Give the campaign an audience snapshot (its list's sendable items) whose rows have
    ``statuses`` in turn, with the times each status has, as if it had run."""
    with db.connection_context(), db.atomic():
        db.execute_sql(
            """
            INSERT INTO campaign_shipping (created_at, updated_at, campaign_id, company_id,
                contact_id, number, name, email, condominio, endereco, cargo, extra_info,
                message_index, status, attempts, sent_at, delivered_at, read_at,
                confirmation_requested_at, confirmed_at)
            SELECT now(), now(), c.id, c.company_id, i.id, i.number, i.name, '', '', '', '',
                   '[]', 0, s.status, 1,
                   CASE WHEN s.status IN ('sent', 'delivered', 'read') THEN now() END,
                   CASE WHEN s.status IN ('delivered', 'read') THEN now() END,
                   CASE WHEN s.status = 'read' THEN now() END,
                   CASE WHEN c.confirmation AND s.status <> 'pending' THEN now() END,
                   CASE WHEN c.confirmation AND s.status IN ('sent', 'delivered', 'read')
                        THEN now() END
            FROM campaigns c
            JOIN LATERAL (SELECT i.*, row_number() OVER (ORDER BY i.id) AS n
                  FROM contact_list_items i WHERE i.contact_list_id = c.contact_list_id
                    AND i.is_whatsapp_valid IS NOT FALSE) i ON true
            JOIN LATERAL (SELECT (%s::text[])[1 + ((i.n - 1) %% array_length(%s::text[], 1))]
                AS status) s ON true
            WHERE c.id = %s
            """,
            (statuses, statuses, campaign_id),
        )
        total = db.execute_sql(
            "SELECT count(*) FROM campaign_shipping WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()[0]
        Campaign.update(
            status=status, total=total, started_at=datetime.datetime.now(datetime.UTC)
        ).where(Campaign.id == campaign_id).execute()


def _truth(campaign_id: int) -> dict:
    """The report's counters from the database, independently of the API's query."""
    with db.connection_context():
        row = db.execute_sql(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('sent', 'delivered', 'read')), "
            "count(confirmation_requested_at), count(*) FILTER (WHERE status IN "
            "('sent', 'delivered', 'read') AND confirmation_requested_at IS NOT NULL) "
            "FROM campaign_shipping WHERE campaign_id = %s",
            (campaign_id,),
        ).fetchone()
    return dict(zip(("valid", "delivered", "asked", "confirmed"), row, strict=True))


@replays("campaigns.list")
def test_the_list_nests_the_contact_list_and_the_connection(client, spec, alice, world):
    full = _create(client, alice, world)
    bare = _create(client, alice, world, name="Sem lista", whatsappId="", contactListId="")
    page = replay(
        client, spec, alice, "campaigns.list", status=200,
        query={"searchParam": "", "pageNumber": 1},
    ).json  # fmt: skip
    rows = {r["id"]: r for r in page["records"]}
    assert rows[full["id"]]["contactList"]["name"] == "Clientes VIP"
    assert rows[full["id"]]["whatsapp"] == {"id": world["whatsapp"], "name": "Zap Loja"}
    assert rows[bare["id"]]["contactList"] is None and rows[bare["id"]]["whatsapp"] is None
    assert page["count"] == 2 and page["hasMore"] is False
    # The search the page sends, lower-cased.
    found = client.simulate_get(
        url(CALLS_BY_NAME["campaigns.list"], {"searchParam": "sem", "pageNumber": 1}),
        headers=alice.headers,
    ).json["records"]
    assert [r["id"] for r in found] == [bare["id"]]


@replays("campaigns.create")
def test_create_takes_the_forms_body_with_null_texts(client, spec, alice, world):
    body = campaign_body(
        campaign_form(alice.company_id)
        | {"name": "Promo", "message1": "Olá {nome}", "whatsappId": world["whatsapp"],
           "contactListId": world["list"]}
    )  # fmt: skip
    assert body["message2"] is None and body["confirmationMessage1"] is None
    assert body["tagListId"] == "Nenhuma" and body["scheduledAt"] is None
    created = replay(client, spec, alice, "campaigns.create", status=201, json=body).json
    assert created["status"] == "INATIVA" and created["message2"] == ""
    assert created["contactList"]["id"] == world["list"] and created["fileListId"] is None


@replays("campaigns.show_for_edit", "campaigns.update")
def test_the_edit_forms_round_trip_and_a_naive_schedule(client, spec, alice, world):
    campaign = _create(client, alice, world, message3="Até logo")
    shown = replay(
        client, spec, alice, "campaigns.show_for_edit", status=200, id=campaign["id"]
    ).json
    # The form as it opens, the user types a time (local, no offset), and saves.
    form = campaign_form(alice.company_id, shown) | {"scheduledAt": "2031-03-10T09:30"}
    body = campaign_body(form)
    assert body["scheduledAt"] == "2031-03-10 09:30:00" and "shipping" in body
    saved = replay(
        client, spec, alice, "campaigns.update", status=200, json=body, id=campaign["id"]
    ).json
    assert saved["status"] == "PROGRAMADA"  # a schedule makes it PROGRAMADA, as the original
    assert saved["scheduledAt"] == "2031-03-10T12:30:00+00:00"  # São Paulo is UTC-3
    assert saved["message3"] == "Até logo" and saved["message2"] == ""
    again = client.simulate_get(f"/campaigns/{campaign['id']}", headers=alice.headers).json
    reopened = campaign_form(alice.company_id, again)
    assert reopened["scheduledAt"] == "2031-03-10T09:30"  # the browser shows what was typed
    unchanged = {k: v for k, v in shown.items() if k not in ("updatedAt", "scheduledAt", "status")}
    assert {k: again[k] for k in unchanged} == unchanged


@replays("campaigns.update")
def test_editing_a_cancelled_campaign_sends_back_its_status_and_its_arrays(
    client, spec, alice, world
):
    campaign = _create(client, alice, world)
    with db.connection_context(), db.atomic():  # a big audience: the echo is over 1 MiB
        db.execute_sql(
            "INSERT INTO contact_list_items (created_at, updated_at, company_id, "
            "contact_list_id, name, number, email, condominio, endereco, cargo, extra_info, "
            "search) SELECT now(), now(), %s, %s, 'P' || g, '55219' || lpad(g::text, 8, '0'), "
            "'', '', '', '', '[]', '' FROM generate_series(1, 16000) g",
            (alice.company_id, world["list"]),
        )
    _run(campaign["id"], ["sent", "delivered", "pending"])
    shown = client.simulate_get(f"/campaigns/{campaign['id']}", headers=alice.headers).json
    form = campaign_form(alice.company_id, shown) | {"message2": "Nova mensagem"}
    raw = json.dumps(campaign_body(form), separators=(",", ":"))  # as JSON.stringify writes it
    assert len(raw) > 1024 * 1024 and '"status":"CANCELADA"' in raw
    resp = client.simulate_put(
        f"/campaigns/{campaign['id']}", body=raw,
        headers=alice.headers | {"Content-Type": "application/json"},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json["status"] == "CANCELADA" and resp.json["message2"] == "Nova mensagem"
    assert_valid(spec, CALLS_BY_NAME["campaigns.update"], resp)
    # Another status than its own is still refused, and changes nothing.
    before = snapshot()
    bad = client.simulate_put(
        f"/campaigns/{campaign['id']}", json={"status": "FINALIZADA"}, headers=alice.headers
    )
    assert_error(bad, 400, "ERR_VALIDATION", field="status", contains="CANCELADA")
    assert snapshot() == before


@replays("campaigns.report")
def test_the_report_pages_counters_match_the_database(client, spec, alice, world):
    campaign = _create(
        client, alice, world, confirmation=True, confirmationMessage1="Posso enviar?"
    )
    _run(campaign["id"], ["read", "delivered", "failed", "awaiting", "pending"])
    shown = replay(client, spec, alice, "campaigns.report", status=200, id=campaign["id"]).json
    truth = _truth(campaign["id"])
    assert truth == {"valid": 5, "delivered": 2, "asked": 4, "confirmed": 2}  # not vacuous
    assert report_counters(shown) == truth
    assert shown["contactList"]["name"] == "Clientes VIP"
    assert shown["whatsapp"]["name"] == "Zap Loja"
    assert shown["successRate"] == 40.0  # 2 of 5 left: the original's delivered / valid
    # Only rows that count are sent, each with both keys.
    assert len(shown["shipping"]) == 4
    assert all(set(r) == {"deliveredAt", "confirmationRequestedAt"} for r in shown["shipping"])


@replays("campaigns.report")
def test_the_report_before_a_start_and_without_a_list(client, spec, alice, world):
    waiting = _create(client, alice, world)
    unsent = ("shipping[].deliveredAt", "shipping[].confirmationRequestedAt")
    shown = replay(
        client, spec, alice, "campaigns.report", status=200, id=waiting["id"], empty=unsent
    ).json
    # Before the snapshot: the list's items a start would send to (not the one marked off).
    assert report_counters(shown) == {"valid": 5, "delivered": 0, "asked": 0, "confirmed": 0}
    assert shown["successRate"] == 0
    bare = _create(client, alice, world, whatsappId="", contactListId="", name="Nada")
    shown = replay(
        client, spec, alice, "campaigns.report", status=200, id=bare["id"],
        empty=(*unsent, *CALLS_BY_NAME["campaigns.report"].reads),
    ).json  # fmt: skip
    # No list: no contactList key at all (the page reads contactList.contacts when it exists).
    assert "contactList" not in shown and shown["whatsapp"] is None
    assert shown["shipping"] == []


def test_the_reports_arrays_grow_by_bytes_a_row_not_by_the_rows(client, alice, world):
    """20,000 contacts sent: under 100 bytes a contact for both arrays (the original's full rows
    were about 590), the counters exact."""
    campaign = _create(client, alice, world)
    with db.connection_context(), db.atomic():
        db.execute_sql(
            "INSERT INTO contact_list_items (created_at, updated_at, company_id, "
            "contact_list_id, name, number, email, condominio, endereco, cargo, extra_info, "
            "search) SELECT now(), now(), %s, %s, 'P' || g, '55219' || lpad(g::text, 8, '0'), "
            "'', '', '', '', '[]', '' FROM generate_series(1, 20000) g",
            (alice.company_id, world["list"]),
        )
    _run(campaign["id"], ["sent"], status="FINALIZADA")
    resp = client.simulate_get(f"/campaigns/{campaign['id']}", headers=alice.headers)
    assert report_counters(resp.json) == _truth(campaign["id"])
    assert len(resp.json["shipping"]) == 20005
    assert len(resp.content) < 20005 * 100 + 4096


@replays("campaigns.cancel", "campaigns.restart")
def test_cancel_and_restart_as_the_list_page_sends_them(client, spec, alice, world):
    later = (datetime.datetime.now(BROWSER_ZONE) + datetime.timedelta(days=2)).isoformat()
    campaign = _create(client, alice, world, scheduledAt=later)
    assert campaign["status"] == "PROGRAMADA"
    replay(client, spec, alice, "campaigns.cancel", status=204, id=campaign["id"])
    listed = client.simulate_get("/campaigns", headers=alice.headers).json["records"]
    assert listed[0]["status"] == "CANCELADA"  # the page shows restart for CANCELADA
    replay(client, spec, alice, "campaigns.restart", status=204, id=campaign["id"])
    shown = client.simulate_get(f"/campaigns/{campaign['id']}", headers=alice.headers).json
    assert shown["status"] == "PROGRAMADA"  # it never started: due now, for the engine


@replays("campaigns.delete")
def test_delete_then_the_campaign_is_gone(client, spec, alice, world):
    campaign = _create(client, alice, world)
    replay(client, spec, alice, "campaigns.delete", status=204, id=campaign["id"])
    gone = client.simulate_get(f"/campaigns/{campaign['id']}", headers=alice.headers)
    assert_error(gone, 404, "ERR_NO_CAMPAIGN_FOUND")


def test_campaign_errors_carry_the_originals_codes(client, alice, bob, world):
    before = snapshot()
    for body, code in (
        ({"message1": "oi"}, "ERR_CAMPAIGN_REQUIRED"),
        ({"name": None}, "ERR_CAMPAIGN_REQUIRED"),
        ({"name": "  "}, "ERR_CAMPAIGN_REQUIRED"),
        ({"name": "ab"}, "ERR_CAMPAIGN_INVALID_NAME"),
        ({"name": 7}, "ERR_CAMPAIGN_INVALID_NAME"),
    ):
        resp = client.simulate_post("/campaigns", json=body, headers=alice.headers)
        assert_error(resp, 400, code, field="name")
    assert snapshot() == before
    campaign = _create(client, alice, world)
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/cancel")):
        resp = client.simulate_request(
            method, f"/campaigns/{campaign['id']}{path}", json={"name": "x" * 5},
            headers=bob.headers,
        )  # fmt: skip
        assert_error(resp, 404, "ERR_NO_CAMPAIGN_FOUND")
    bobs = client.simulate_post("/files", json={"name": "Do Bob"}, headers=bob.headers).json
    resp = client.simulate_put(
        f"/campaigns/{campaign['id']}", json={"fileListId": bobs["id"]}, headers=alice.headers
    )
    assert_error(resp, 404, "ERR_NO_FILE_FOUND")


@replays("campaign_settings.get", "campaign_settings.save")
def test_the_settings_page_shows_and_saves_without_loss(client, spec, alice):
    first = replay(client, spec, alice, "campaign_settings.get", status=200).json
    settings = settings_page(first)
    assert settings["variables"] == [] and settings["jitter"] == 0.3  # not the page's defaults
    # The page's own edits: an interval from its Select, a variable typed as users type them.
    settings["messageInterval"] = 15
    settings["variables"].append({"key": "Nome da Loja", "value": "Centro"})
    replay(client, spec, alice, "campaign_settings.save", status=200, json={"settings": settings})
    again = settings_page(replay(client, spec, alice, "campaign_settings.get", status=200).json)
    assert again == settings
    # A message may use it, and it is rendered for the contact.
    resp = client.simulate_post(
        "/campaigns", json={"name": "Loja", "message1": "Oi {nome}, aqui é {Nome da Loja}"},
        headers=alice.headers,
    )  # fmt: skip
    assert resp.status_code == 201, resp.text


def test_every_campaign_and_settings_call_is_replayed():
    """A call added to frontend_calls.CALLS fails here until a test replays it (the file lists'
    own: test_frontend_contract_files.py; media uploads: test_campaign_media.py)."""
    owned = {
        name
        for name in CALLS_BY_NAME
        if name.startswith(("campaigns.", "campaign_settings."))
        and not name.startswith("campaigns.media_")
    }
    replayed = {name for names in REPLAYED.values() for name in names}
    assert len(owned) == 10 and owned == replayed, owned ^ replayed
