"""``/contact-lists`` and ``/contact-lists/list``."""

from __future__ import annotations

from tests.api.helpers import assert_error, counts, phone, row, snapshot
from zapx.db import ContactList, ContactListItem, db


def _create(client, acct, name):
    return client.simulate_post("/contact-lists", json={"name": name}, headers=acct.headers)


def _add_item(client, acct, list_id, **fields):
    body = {"name": "Item", "number": phone(), "contactListId": list_id} | fields
    resp = client.simulate_post("/contact-list-items", json=body, headers=acct.headers)
    assert resp.status_code == 201, resp.text
    return resp.json


def test_list_crud_with_item_count(client, alice):
    h = alice.headers
    resp = _create(client, alice, "  Síndicos  ")
    assert resp.status_code == 201, resp.text
    created = resp.json
    assert created["name"] == "Síndicos"
    assert created["contactsCount"] == 0
    assert created["companyId"] == alice.company_id
    url = f"/contact-lists/{created['id']}"

    _add_item(client, alice, created["id"])
    _add_item(client, alice, created["id"])
    got = client.simulate_get(url, headers=h).json
    assert got["contactsCount"] == 2 and got["name"] == "Síndicos"

    resp = client.simulate_put(url, json={"name": "Moradores"}, headers=h)
    assert resp.status_code == 200
    assert resp.json["name"] == "Moradores" and resp.json["contactsCount"] == 2

    assert client.simulate_delete(url, headers=h).status_code == 204
    assert row(ContactList, created["id"]) is None
    with db.connection_context():  # its items went with it
        assert ContactListItem.select().count() == 0
    assert_error(client.simulate_get(url, headers=h), 404, "ERR_NO_CONTACTLIST_FOUND")
    resp = client.simulate_put(url, json={"name": "x"}, headers=h)
    assert_error(resp, 404, "ERR_NO_CONTACTLIST_FOUND")


def test_duplicate_names_are_409(client, alice, bob):
    assert _create(client, alice, "VIP").status_code == 201
    other = _create(client, alice, "Other").json
    before = snapshot()
    assert_error(_create(client, alice, "VIP"), 409, "ERR_CONFLICT", field="name", contains="VIP")
    resp = client.simulate_put(
        f"/contact-lists/{other['id']}", json={"name": "VIP"}, headers=alice.headers
    )
    assert_error(resp, 409, "ERR_CONFLICT", field="name")
    assert snapshot() == before
    assert _create(client, bob, "VIP").status_code == 201  # names are unique per company


def test_pagination_search_and_counts(client, alice):
    with db.connection_context(), db.atomic():
        ids = [
            ContactList.create(company=alice.company_id, name=f"Lista {i:02d}").id
            for i in range(23)
        ]
        ContactList.create(company=alice.company_id, name="Condomínio Árvore")
        for n in range(3):
            ContactListItem.create(
                company=alice.company_id, contact_list=ids[0], name="x", number=f"5511900000{n:03d}"
            )
    h = alice.headers
    page1 = client.simulate_get("/contact-lists", headers=h).json
    assert (len(page1["records"]), page1["count"], page1["hasMore"]) == (20, 24, True)
    page2 = client.simulate_get("/contact-lists", params={"pageNumber": 2}, headers=h).json
    assert (len(page2["records"]), page2["count"], page2["hasMore"]) == (4, 24, False)
    past = client.simulate_get("/contact-lists", params={"pageNumber": 3}, headers=h).json
    assert past == {"records": [], "count": 24, "hasMore": False}
    by_name = {r["name"]: r["contactsCount"] for r in page1["records"] + page2["records"]}
    assert by_name["Lista 00"] == 3 and by_name["Lista 01"] == 0
    found = client.simulate_get("/contact-lists", params={"searchParam": "condo"}, headers=h).json
    assert [r["name"] for r in found["records"]] == ["Condomínio Árvore"]
    for term in ("condominio arvore", "CONDOMÍNIO ÁRVORE", "ínio ár"):
        found = client.simulate_get("/contact-lists", params={"searchParam": term}, headers=h)
        assert [r["name"] for r in found.json["records"]] == ["Condomínio Árvore"], term
    found = client.simulate_get("/contact-lists", params={"searchParam": "LISTA 1"}, headers=h).json
    assert found["count"] == 10


def test_all_lists(client, alice):
    for name in ("b", "a", "c"):
        assert _create(client, alice, name).status_code == 201
    resp = client.simulate_get("/contact-lists/list", headers=alice.headers)
    assert resp.status_code == 200
    assert [r["name"] for r in resp.json] == ["a", "b", "c"]


def test_put_on_an_unknown_list_is_404(client, alice):
    before = counts()
    resp = client.simulate_put("/contact-lists/999999", json={"name": "x"}, headers=alice.headers)
    assert_error(resp, 404, "ERR_NO_CONTACTLIST_FOUND", contains="999999")
    assert counts() == before
