"""What the API's changes send to the frontend's sockets: the events its pages listen to, with
the keys their reducers read (tests/api/frontend_calls.py: EVENTS), and only to the company."""

from __future__ import annotations

import pytest

from tests.api.test_imports import upload
from tests.realtime import Listener, start_server


@pytest.fixture(scope="module")
def server(process_env, tmp_path_factory):
    proc, base = start_server(process_env, tmp_path_factory.mktemp("realtime"))
    yield base
    proc.stop()


@pytest.fixture
def listen(server):
    opened = []

    def make(account) -> Listener:
        token = account.headers["Authorization"].split()[1]
        opened.append(Listener(server, token).connect())
        return opened[-1]

    yield make
    for listener in opened:
        listener.close()


def _is(action):
    return lambda data: data["action"] == action


def _quiet_for_others(other: Listener, other_acct, client) -> None:
    """Make ``other`` see one event of its own, after everything the test did: events go
    through one publisher thread and one channel in order, so had ``other`` been in the first
    company's room, those would have reached it before this one."""
    resp = client.simulate_post(
        "/contact-lists", json={"name": "barrier"}, headers=other_acct.headers
    )
    assert resp.status_code == 201
    own = f"company-{other_acct.company_id}-ContactList"
    other.wait(own, _is("create"))
    assert other.names() == {"ready", own}, other.events


def test_contact_lists_and_items(client, alice, bob, listen):
    a, b = listen(alice), listen(bob)
    h, cid = alice.headers, alice.company_id
    lists, items = f"company-{cid}-ContactList", f"company-{cid}-ContactListItem"

    list_id = client.simulate_post("/contact-lists", json={"name": "VIP"}, headers=h).json["id"]
    created = a.wait(lists, _is("create"))["record"]
    assert (created["id"], created["name"], created["contactsCount"]) == (list_id, "VIP", 0)
    client.simulate_put(f"/contact-lists/{list_id}", json={"name": "VIPs"}, headers=h)
    assert a.wait(lists, _is("update"))["record"]["name"] == "VIPs"

    body = {"name": "Ana", "number": "(11) 98765-4321", "email": "", "contactListId": str(list_id)}
    item_id = client.simulate_post("/contact-list-items", json=body, headers=h).json["id"]
    record = a.wait(items, _is("create"))["record"]
    # what the list items page shows of a row
    assert {"id", "name", "number", "email", "isWhatsappValid"} <= record.keys()
    assert (record["id"], record["number"]) == (item_id, "5511987654321")
    client.simulate_put(f"/contact-list-items/{item_id}", json={"name": "Ana Maria"}, headers=h)
    assert a.wait(items, _is("update"))["record"]["name"] == "Ana Maria"
    client.simulate_delete(f"/contact-list-items/{item_id}", headers=h)
    assert a.wait(items, _is("delete")) == {"action": "delete", "id": item_id}

    # an upload: the page merges the rows of the list's own reload event
    data = b"nome;numero\nBia;(11) 91234-5678\nCaio;(21) 99876-5432\n"
    resp = upload(client, alice, data, path=f"/contact-lists/{list_id}/upload")
    assert resp.status_code == 201, resp.text
    reload = a.wait(f"{items}-{list_id}", _is("reload"))
    assert sorted(r["name"] for r in reload["records"]) == ["Bia", "Caio"]
    assert all({"id", "name", "number", "email"} <= r.keys() for r in reload["records"])
    assert a.wait(lists, lambda d: d["record"]["contactsCount"] == 2)["record"]["id"] == list_id

    client.simulate_delete(f"/contact-lists/{list_id}", headers=h)
    assert a.wait(lists, _is("delete")) == {"action": "delete", "id": list_id}
    _quiet_for_others(b, bob, client)


def test_connections_and_contacts(client, alice, bob, listen):
    a, b = listen(alice), listen(bob)
    h, cid = alice.headers, alice.company_id
    whatsapp, session = f"company-{cid}-whatsapp", f"company-{cid}-whatsappSession"

    conn = client.simulate_post("/whatsapps", json={"name": "Main"}, headers=h).json
    # "update" with a new id adds the row (useWhatsApps reducer)
    assert a.wait(whatsapp, _is("update"))["whatsapp"] == conn
    client.simulate_put(f"/whatsapps/{conn['id']}", json={"status": "DISCONNECTED"}, headers=h)
    updated = a.wait(whatsapp, lambda d: d["whatsapp"]["status"] == "DISCONNECTED")["whatsapp"]
    got = a.wait(session, _is("update"))["session"]
    assert got["id"] == conn["id"] and got["status"] == "DISCONNECTED"
    assert got["updatedAt"] == updated["updatedAt"]
    assert (got["qrcode"], got["retries"]) == ("", 0)
    client.simulate_delete(f"/whatsapps/{conn['id']}", headers=h)
    assert a.wait(whatsapp, _is("delete")) == {"action": "delete", "whatsappId": conn["id"]}

    contacts = f"company-{cid}-contact"
    contact = client.simulate_post(
        "/contacts", json={"name": "Ana", "number": "11987654321"}, headers=h
    ).json
    assert a.wait(contacts, _is("create"))["contact"] == contact
    client.simulate_delete(f"/contacts/{contact['id']}", headers=h)
    assert a.wait(contacts, _is("delete")) == {"action": "delete", "contactId": contact["id"]}
    _quiet_for_others(b, bob, client)


def test_campaigns_and_users(client, alice, bob, listen):
    a, b = listen(alice), listen(bob)
    h, cid = alice.headers, alice.company_id
    campaigns = f"company-{cid}-campaign"
    list_id = client.simulate_post("/contact-lists", json={"name": "L"}, headers=h).json["id"]
    conn = client.simulate_post("/whatsapps", json={"name": "Main"}, headers=h).json

    body = {"name": "Promo", "message1": "Oi {nome}", "contactListId": list_id}
    campaign = client.simulate_post("/campaigns", json=body, headers=h).json
    record = a.wait(campaigns, _is("create"))["record"]
    assert record["id"] == campaign["id"] and record["status"] == "INATIVA"
    # the list page reads contactList.name when contactListId is set, whatsapp.name likewise
    assert {k: record["contactList"][k] for k in ("id", "name")} == {"id": list_id, "name": "L"}
    assert record["whatsapp"] is None and record["whatsappId"] is None
    assert "shipping" not in record  # the report page keeps its counters
    assert record["report"]["total"] == 0

    client.simulate_put(f"/campaigns/{campaign['id']}", json={"whatsappId": conn["id"]}, headers=h)
    record = a.wait(campaigns, lambda d: d["record"]["whatsappId"] == conn["id"])["record"]
    assert record["whatsapp"] == {"id": conn["id"], "name": "Main"}
    client.simulate_delete(f"/campaigns/{campaign['id']}", headers=h)
    assert a.wait(campaigns, _is("delete")) == {"action": "delete", "id": campaign["id"]}

    # a user's own profile change replaces the logged-in user (with its company)
    client.simulate_put(f"/users/{alice.user_id}", json={"name": "Alice B."}, headers=h)
    user = a.wait(f"company-{cid}-user", _is("update"))["user"]
    assert (user["id"], user["name"], user["company"]["id"]) == (alice.user_id, "Alice B.", cid)
    _quiet_for_others(b, bob, client)
