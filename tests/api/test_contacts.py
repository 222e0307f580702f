"""``/contacts`` and ``/contacts/list``: CRUD, numbers, duplicates, pages and search."""

from __future__ import annotations

from tests.api.helpers import assert_error, counts, phone, row, snapshot
from zapx.db import Contact, db
from zapx.text import search_text


def _create(client, acct, **fields):
    body = {"name": "Someone", "number": phone()} | fields
    return client.simulate_post("/contacts", json=body, headers=acct.headers)


def test_contact_crud(client, alice):
    h = alice.headers
    resp = _create(
        client,
        alice,
        name="  João da Silva ",
        number="(11) 98765-4321",
        email="Joao@Example.TEST",
        condominio="Edifício Sol",
        endereco="Rua A, 1",
        cargo="Síndico",
        extraInfo=[{"name": "bloco", "value": 7}],
    )
    assert resp.status_code == 201, resp.text
    contact = resp.json
    assert contact["name"] == "João da Silva"
    assert contact["number"] == "5511987654321"
    assert contact["email"] == "joao@example.test"
    assert contact["extraInfo"] == [{"name": "bloco", "value": "7"}]
    assert contact["companyId"] == alice.company_id and contact["isGroup"] is False
    url = f"/contacts/{contact['id']}"
    assert client.simulate_get(url, headers=h).json == contact

    resp = client.simulate_put(url, json={"name": "João Souza"}, headers=h)
    assert resp.status_code == 200
    assert resp.json["name"] == "João Souza"
    assert resp.json["number"] == "5511987654321"  # a partial update keeps the rest
    assert resp.json["cargo"] == "Síndico"
    with db.connection_context():
        stored = Contact.get_by_id(contact["id"]).search
    assert stored == search_text("João Souza", "5511987654321", "joao@example.test")

    resp = client.simulate_put(url, json={"number": "+55 (21) 2345-6789"}, headers=h)
    assert resp.status_code == 200 and resp.json["number"] == "552123456789"

    assert client.simulate_delete(url, headers=h).status_code == 204
    assert row(Contact, contact["id"]) is None
    assert_error(client.simulate_get(url, headers=h), 404, "ERR_NO_CONTACT_FOUND")
    assert_error(client.simulate_delete(url, headers=h), 404, "ERR_NO_CONTACT_FOUND")


def test_whole_object_sent_back_on_put_is_accepted(client, alice):
    """Whaticket PUTs the object it got; read-only keys (id, companyId...) are ignored."""
    contact = _create(client, alice, name="Ana").json
    echoed = contact | {"name": "Ana Maria", "companyId": 999, "id": 12345, "isGroup": True}
    resp = client.simulate_put(f"/contacts/{contact['id']}", json=echoed, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json["id"] == contact["id"]
    assert resp.json["companyId"] == alice.company_id
    assert resp.json["isGroup"] is False
    assert resp.json["name"] == "Ana Maria"


def test_duplicate_numbers_are_409(client, alice, bob):
    first = _create(client, alice, number="11987654321")
    assert first.status_code == 201
    before = counts()
    for written in ("11987654321", "+55 11 98765-4321", "5511987654321", "011 98765 4321"):
        resp = _create(client, alice, name="Dup", number=written)
        assert_error(resp, 409, "ERR_DUPLICATED_CONTACT", field="number", contains="5511987654321")
    assert counts() == before
    # Another company may hold the same number.
    assert _create(client, bob, number="11987654321").status_code == 201


def test_update_to_a_taken_number_is_409_and_changes_nothing(client, alice):
    _create(client, alice, number="11987654321")
    other = _create(client, alice, name="Other", number="11912345678").json
    before = snapshot()
    resp = client.simulate_put(
        f"/contacts/{other['id']}",
        json={"name": "Renamed", "number": "11 98765-4321"},
        headers=alice.headers,
    )
    assert_error(resp, 409, "ERR_DUPLICATED_CONTACT", field="number")
    assert snapshot() == before


def test_invalid_numbers_are_400_saying_the_number_is_invalid(client, alice):
    before = counts()
    for raw in ("12345", "11 1234-567", "+999 123456789", "0000000000"):
        resp = _create(client, alice, number=raw)
        body = assert_error(resp, 400, "ERR_WAPP_INVALID_CONTACT", field="number")
        assert body["message"] == f"number {raw!r} is not a valid phone number"
    assert counts() == before


def test_pagination(client, alice):
    with db.connection_context(), db.atomic():
        for i in range(45):
            Contact.create(
                company=alice.company_id,
                name=f"Contact {i:02d}",
                number=f"55119{i:08d}",
                search=f"contact {i:02d} 55119{i:08d}",
            )
    h = alice.headers
    pages = {
        n: client.simulate_get("/contacts", params={"pageNumber": n}, headers=h).json
        for n in (1, 2, 3, 4)
    }
    assert [len(pages[n]["contacts"]) for n in (1, 2, 3, 4)] == [20, 20, 5, 0]
    assert [pages[n]["count"] for n in (1, 2, 3, 4)] == [45, 45, 45, 45]
    assert [pages[n]["hasMore"] for n in (1, 2, 3, 4)] == [True, True, False, False]
    names = [c["name"] for n in (1, 2, 3) for c in pages[n]["contacts"]]
    assert names == [f"Contact {i:02d}" for i in range(45)]
    default = client.simulate_get("/contacts", headers=h).json
    assert default == pages[1]


def test_pagination_at_an_exact_multiple_of_the_page_size(client, alice):
    with db.connection_context(), db.atomic():
        for i in range(40):
            Contact.create(company=alice.company_id, name=f"C{i:02d}", number=f"55119{i:08d}")
    h = alice.headers
    page2 = client.simulate_get("/contacts", params={"pageNumber": 2}, headers=h).json
    assert (len(page2["contacts"]), page2["count"], page2["hasMore"]) == (20, 40, False)
    page3 = client.simulate_get("/contacts", params={"pageNumber": 3}, headers=h).json
    assert page3 == {"contacts": [], "count": 40, "hasMore": False}


def test_empty_company_has_an_empty_first_page(client, alice):
    resp = client.simulate_get("/contacts", headers=alice.headers)
    assert resp.json == {"contacts": [], "count": 0, "hasMore": False}


def test_search_is_accent_and_case_insensitive(client, alice):
    joao = _create(client, alice, name="João Condomínio", email="jc@x.test").json
    _create(client, alice, name="Maria")
    for term in ("joao", "JOÃO", "Joao cond", "condominio", "CONDOMÍNIO", "jc@x"):
        resp = client.simulate_get("/contacts", params={"searchParam": term}, headers=alice.headers)
        assert [c["id"] for c in resp.json["contacts"]] == [joao["id"]], term
        assert resp.json["count"] == 1
    none = client.simulate_get("/contacts", params={"searchParam": "pedro"}, headers=alice.headers)
    assert none.json == {"contacts": [], "count": 0, "hasMore": False}
    # A blank search is no filter at all.
    blank = client.simulate_get("/contacts", params={"searchParam": "  "}, headers=alice.headers)
    assert blank.json["count"] == 2


def test_search_by_number_digits(client, alice):
    target = _create(client, alice, name="Target", number="(11) 98765-4321").json
    _create(client, alice, name="Other", number="11912340000")
    for digits in ("98765", "5511987654321", "4321"):
        resp = client.simulate_get(
            "/contacts", params={"searchParam": digits}, headers=alice.headers
        )
        assert [c["id"] for c in resp.json["contacts"]] == [target["id"]], digits


def test_search_treats_like_wildcards_literally(client, alice):
    percent = _create(client, alice, name="100% Real").json
    under = _create(client, alice, name="snake_case").json
    _create(client, alice, name="Plain")
    for term, expected in (("%", percent), ("_", under), ("0% r", percent)):
        resp = client.simulate_get("/contacts", params={"searchParam": term}, headers=alice.headers)
        assert [c["id"] for c in resp.json["contacts"]] == [expected["id"]], term


def test_contacts_list_returns_every_contact_briefly(client, alice):
    with db.connection_context(), db.atomic():
        for i in range(25):
            Contact.create(company=alice.company_id, name=f"Z{i:02d}", number=f"55119{i:08d}")
    resp = client.simulate_get("/contacts/list", headers=alice.headers)
    assert resp.status_code == 200
    assert len(resp.json) == 25
    assert set(resp.json[0]) == {"id", "name", "number", "email"}
    assert [c["name"] for c in resp.json] == [f"Z{i:02d}" for i in range(25)]
