"""``/contact-list-items`` and ``/contact-list-items/list``."""

from __future__ import annotations

from tests.api.helpers import assert_error, counts, phone, row, snapshot
from zapx.campaigns import batches
from zapx.db import Campaign, CampaignShipping, ContactListItem, db


def _list(client, acct, name="Lista") -> int:
    resp = client.simulate_post("/contact-lists", json={"name": name}, headers=acct.headers)
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def _item(client, acct, list_id, **fields):
    body = {"name": "Item", "number": phone(), "contactListId": list_id} | fields
    return client.simulate_post("/contact-list-items", json=body, headers=acct.headers)


def test_item_crud(client, alice):
    h = alice.headers
    list_id = _list(client, alice)
    resp = _item(
        client,
        alice,
        str(list_id),  # digits in a string are accepted too
        name="Zé Ninguém",
        number="21 2345-6789",
        email="ZE@x.test",
        extraInfo=[{"name": "apto", "value": "101"}],
    )
    assert resp.status_code == 201, resp.text
    item = resp.json
    assert item["contactListId"] == list_id
    assert item["number"] == "552123456789"
    assert item["email"] == "ze@x.test"
    assert item["isWhatsappValid"] is None  # unknown until checked
    assert item["companyId"] == alice.company_id
    url = f"/contact-list-items/{item['id']}"
    assert client.simulate_get(url, headers=h).json == item

    resp = client.simulate_put(url, json={"isWhatsappValid": True, "cargo": "Zelador"}, headers=h)
    assert resp.status_code == 200
    assert resp.json["isWhatsappValid"] is True and resp.json["cargo"] == "Zelador"
    assert resp.json["name"] == "Zé Ninguém"

    assert client.simulate_delete(url, headers=h).status_code == 204
    assert row(ContactListItem, item["id"]) is None
    assert_error(client.simulate_get(url, headers=h), 404, "ERR_NO_CONTACTLISTITEM_FOUND")


def test_duplicate_number_in_a_list_is_409_but_fine_in_another(client, alice):
    first, second = _list(client, alice, "One"), _list(client, alice, "Two")
    assert _item(client, alice, first, number="11987654321").status_code == 201
    before = counts()
    resp = _item(client, alice, first, number="+55 11 98765-4321")
    assert_error(resp, 409, "ERR_DUPLICATED_CONTACT", field="number", contains="5511987654321")
    assert counts() == before
    assert _item(client, alice, second, number="11987654321").status_code == 201


def test_moving_an_item_between_lists(client, alice):
    first, second = _list(client, alice, "One"), _list(client, alice, "Two")
    item = _item(client, alice, first, number="11987654321").json
    clash = _item(client, alice, second, number="11987654321").json
    url = f"/contact-list-items/{item['id']}"
    # Into a list that already has the number: 409, nothing moved.
    before = snapshot()
    resp = client.simulate_put(url, json={"contactListId": second}, headers=alice.headers)
    assert_error(resp, 409, "ERR_DUPLICATED_CONTACT", field="number")
    assert snapshot() == before
    # Free the number, then the move goes through.
    client.simulate_delete(f"/contact-list-items/{clash['id']}", headers=alice.headers)
    resp = client.simulate_put(url, json={"contactListId": second}, headers=alice.headers)
    assert resp.status_code == 200 and resp.json["contactListId"] == second
    # Sending the current list back (as Whaticket does) is not a move.
    resp = client.simulate_put(url, json=resp.json | {"name": "Same"}, headers=alice.headers)
    assert resp.status_code == 200 and resp.json["contactListId"] == second


def test_unknown_list_is_404_and_writes_nothing(client, alice):
    before = counts()
    assert_error(_item(client, alice, 999999), 404, "ERR_NO_CONTACTLIST_FOUND", contains="999999")
    resp = client.simulate_get(
        "/contact-list-items", params={"contactListId": 999999}, headers=alice.headers
    )
    assert_error(resp, 404, "ERR_NO_CONTACTLIST_FOUND")
    assert counts() == before


def test_filter_pagination_and_search(client, alice):
    first, second = _list(client, alice, "One"), _list(client, alice, "Two")
    with db.connection_context(), db.atomic():
        for i in range(22):
            ContactListItem.create(
                company=alice.company_id,
                contact_list=first,
                name=f"Item {i:02d}",
                number=f"55119{i:08d}",
                search=f"item {i:02d} 55119{i:08d}",
            )
    assert _item(client, alice, second, name="Conceição").status_code == 201
    h = alice.headers
    everything = client.simulate_get("/contact-list-items", headers=h).json
    assert everything["count"] == 23 and everything["hasMore"] is True

    params = {"contactListId": str(first)}
    page1 = client.simulate_get("/contact-list-items", params=params, headers=h).json
    assert (len(page1["contacts"]), page1["count"], page1["hasMore"]) == (20, 22, True)
    page2 = client.simulate_get(
        "/contact-list-items", params=params | {"pageNumber": "2"}, headers=h
    ).json
    assert (len(page2["contacts"]), page2["count"], page2["hasMore"]) == (2, 22, False)
    assert {r["contactListId"] for r in page1["contacts"] + page2["contacts"]} == {first}

    found = client.simulate_get(
        "/contact-list-items", params={"searchParam": "CONCEICAO"}, headers=h
    ).json
    assert [r["name"] for r in found["contacts"]] == ["Conceição"]
    none = client.simulate_get(
        "/contact-list-items",
        params={"searchParam": "conceicao", "contactListId": first},
        headers=h,
    ).json
    assert none["contacts"] == []
    digits = client.simulate_get(
        "/contact-list-items", params={"searchParam": "00000007"}, headers=h
    ).json
    assert [r["name"] for r in digits["contacts"]] == ["Item 07"]

    listed = client.simulate_get("/contact-list-items/list", params=params, headers=h).json
    assert len(listed) == 22 and {r["contactListId"] for r in listed} == {first}
    assert len(client.simulate_get("/contact-list-items/list", headers=h).json) == 23


def test_item_requires_a_list(client, alice):
    before = counts()
    resp = client.simulate_post(
        "/contact-list-items", json={"name": "x", "number": phone()}, headers=alice.headers
    )
    assert_error(resp, 400, "ERR_VALIDATION", field="contactListId", contains="required")
    assert counts() == before


# --- numbers not in use: kept, marked, never sent to ------------------------------------------


def test_an_item_keeps_a_number_not_in_use_marked_not_on_whatsapp(client, alice):
    """The frontend's own sample number (5585888889999: 9 digits starting with 8) is what the
    person wrote; a list keeps it, as the original does, but no campaign sends to it."""
    list_id = _list(client, alice)
    resp = _item(client, alice, list_id, number="5585888889999", isWhatsappValid=True)
    assert resp.status_code == 201, resp.text
    kept = resp.json
    assert (kept["number"], kept["isWhatsappValid"]) == ("5585888889999", False)
    valid = _item(client, alice, list_id, number="(85) 98888-9999").json
    assert valid["isWhatsappValid"] is None  # unknown until checked
    url = f"/contact-list-items/{kept['id']}"
    # The dialog sends back the mark with a changed name: it stays; with a fixed number (and
    # the old mark echoed) the mark goes, unless the client sets another.
    resp = client.simulate_put(url, json=kept | {"name": "Renamed"}, headers=alice.headers)
    assert resp.json["isWhatsappValid"] is False
    fixed = kept | {"number": "(85) 98888-7777"}
    resp = client.simulate_put(url, json=fixed, headers=alice.headers)
    assert (resp.json["number"], resp.json["isWhatsappValid"]) == ("5585988887777", None)
    resp = client.simulate_put(
        url, json={"number": "85 98888-6666", "isWhatsappValid": True}, headers=alice.headers
    )
    assert resp.json["isWhatsappValid"] is True
    resp = client.simulate_put(url, json={"number": "85 8888-6666"}, headers=alice.headers)
    assert (resp.json["number"], resp.json["isWhatsappValid"]) == ("558588886666", False)
    # A number that is not well formed is still a 400, and a contact refuses both.
    before = counts()
    assert_error(_item(client, alice, list_id, number="(10) 98765-4321"), 400, field="number")
    resp = client.simulate_post(
        "/contacts", json={"name": "X", "number": "5585888889999"}, headers=alice.headers
    )
    assert_error(resp, 400, "ERR_WAPP_INVALID_CONTACT", field="number")
    assert counts() == before


def test_campaigns_skip_items_marked_not_on_whatsapp(client, alice):
    list_id = _list(client, alice)
    kept = _item(client, alice, list_id, number="5585888889999").json
    sent = _item(client, alice, list_id, number="(85) 98888-9999").json
    with db.connection_context():
        campaign_id = Campaign.create(company=alice.company_id, name="c", contact_list=list_id).id
        assert batches.snapshot_audience(campaign_id, alice.company_id, list_id, 1) == 1
        numbers = [s.number for s in CampaignShipping.select()]
    assert numbers == [sent["number"]] and kept["number"] not in numbers
