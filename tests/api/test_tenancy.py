"""Tenant isolation on every route: company B never reads, changes or deletes company A's data.

Another company's object is a 404 (never a 403, which would confirm that it exists), with the
JSON error body, and the object is unchanged afterwards, both in the database and through A's API.
"""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error, phone, row, seed, snapshot
from tests.api.test_campaign_settings import as_dict
from zapx.db import (
    CampaignSetting,
    Contact,
    ContactList,
    ContactListItem,
    User,
    WhatsappConnection,
    db,
)

#: (URL prefix, seeded kind, model, a valid PUT body)
ID_ROUTES = [
    ("/contacts", "contact", Contact, {"name": "Hacked", "number": "11988887777"}),
    ("/contact-lists", "list", ContactList, {"name": "Hacked"}),
    ("/contact-list-items", "item", ContactListItem, {"name": "Hacked", "number": "11988887777"}),
    ("/whatsapps", "whatsapp", WhatsappConnection, {"name": "Hacked", "isDefault": True}),
    ("/whatsapp", "whatsapp", WhatsappConnection, {"name": "Hacked", "status": "OPENING"}),
    ("/users", "user", User, {"name": "Hacked", "password": "hacked-password"}),
]
#: The original backend's code for each kind's 404 (docs/API.md, Error codes).
NOT_FOUND = {
    "contact": "ERR_NO_CONTACT_FOUND",
    "list": "ERR_NO_CONTACTLIST_FOUND",
    "item": "ERR_NO_CONTACTLISTITEM_FOUND",
    "whatsapp": "ERR_NO_WAPP_FOUND",
    "user": "ERR_NO_USER_FOUND",
}
#: The original's key of each list route's page (the rest say "records").
PAGE_KEY = {"/contacts": "contacts", "/contact-list-items": "contacts"}


@pytest.fixture
def world(client, alice, bob):
    """A and B with one object of each kind; returns ``(a_objects, b_objects)``."""
    return seed(client, alice, "alpha"), seed(client, bob, "bravo")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("prefix, kind, model, put_body", ID_ROUTES, ids=[r[0] for r in ID_ROUTES])
def test_other_companys_object_is_404_and_unchanged(
    client, alice, bob, world, method, prefix, kind, model, put_body
):
    a_obj = world[0][kind]
    url = f"{prefix}/{a_obj['id']}"
    before_row = row(model, a_obj["id"])
    before_json = client.simulate_get(url, headers=alice.headers).json
    before_all = snapshot()

    resp = client.simulate_request(method, url, headers=bob.headers, json=put_body)

    body = assert_error(resp, 404, NOT_FOUND[kind])
    assert str(a_obj["id"]) in body["message"]
    assert row(model, a_obj["id"]) == before_row
    after = client.simulate_get(url, headers=alice.headers)
    assert after.status_code == 200
    assert after.json == before_json
    assert snapshot() == before_all


@pytest.mark.parametrize("prefix, kind, model, put_body", ID_ROUTES, ids=[r[0] for r in ID_ROUTES])
def test_own_object_is_reachable_with_the_same_request(
    client, bob, world, prefix, kind, model, put_body
):
    """The control for the 404s above: the same requests on B's own object succeed."""
    b_obj = world[1][kind]
    url = f"{prefix}/{b_obj['id']}"
    assert client.simulate_get(url, headers=bob.headers).status_code == 200
    resp = client.simulate_put(url, headers=bob.headers, json=put_body)
    assert resp.status_code == 200, resp.text
    assert resp.json["name"] == "Hacked"
    assert client.simulate_delete(url, headers=bob.headers).status_code == 204
    assert row(model, b_obj["id"]) is None


LIST_ROUTES = [
    ("/contacts", "contact", True),
    ("/contacts/list", "contact", False),
    ("/contact-lists", "list", True),
    ("/contact-lists/list", "list", False),
    ("/contact-list-items", "item", True),
    ("/contact-list-items/list", "item", False),
    ("/whatsapps", "whatsapp", True),
    ("/whatsapps/list", "whatsapp", False),
    ("/whatsapp", "whatsapp", False),
    ("/users", "user", True),
]


@pytest.mark.parametrize("url, kind, paged", LIST_ROUTES, ids=[r[0] for r in LIST_ROUTES])
def test_lists_never_include_another_company(client, alice, bob, world, url, kind, paged):
    a_ids = {world[0][kind]["id"]}
    b_ids = {world[1][kind]["id"]}
    if kind == "user":  # the admins themselves are users of their companies too
        a_ids.add(alice.user_id)
        b_ids.add(bob.user_id)
    for acct, own, other in ((alice, a_ids, b_ids), (bob, b_ids, a_ids)):
        resp = client.simulate_get(url, headers=acct.headers)
        assert resp.status_code == 200, resp.text
        records = resp.json[PAGE_KEY.get(url, "records")] if paged else resp.json
        if paged:
            assert resp.json["count"] == len(own)
        ids = {r["id"] for r in records}
        assert ids == own
        assert not ids & other
        for record in records:
            if "companyId" in record:
                assert record["companyId"] == acct.company_id


SEARCH_ROUTES = [
    ("/contacts", "contact"),
    ("/contact-lists", "list"),
    ("/contact-list-items", "item"),
    ("/whatsapps", "whatsapp"),
    ("/users", "user"),
]


@pytest.mark.parametrize("url, kind", SEARCH_ROUTES, ids=[r[0] for r in SEARCH_ROUTES])
def test_search_never_crosses_tenants(client, alice, bob, world, url, kind):
    # A's unique tag finds A's object for A and nothing for B.
    key = PAGE_KEY.get(url, "records")
    mine = client.simulate_get(url, params={"searchParam": "alpha"}, headers=alice.headers)
    assert [r["id"] for r in mine.json[key]] == [world[0][kind]["id"]]
    theirs = client.simulate_get(url, params={"searchParam": "alpha"}, headers=bob.headers)
    assert theirs.status_code == 200
    assert theirs.json == {key: [], "count": 0, "hasMore": False}


def test_search_of_a_shared_name_and_of_a_number_stays_in_the_company(client, alice, bob):
    a_num, b_num = phone(), phone()
    for acct, number in ((alice, a_num), (bob, b_num)):
        resp = client.simulate_post(
            "/contacts", json={"name": "Maria Shared", "number": number}, headers=acct.headers
        )
        assert resp.status_code == 201
    found = client.simulate_get("/contacts", params={"searchParam": "maria"}, headers=bob.headers)
    assert [r["number"] for r in found.json["contacts"]] == ["55" + b_num]
    by_number = client.simulate_get(
        "/contacts", params={"searchParam": a_num[-8:]}, headers=bob.headers
    )
    assert by_number.json["contacts"] == []


def test_items_filter_by_another_companys_list_is_404(client, alice, bob, world):
    a_list = world[0]["list"]["id"]
    for url in ("/contact-list-items", "/contact-list-items/list"):
        resp = client.simulate_get(url, params={"contactListId": a_list}, headers=bob.headers)
        assert_error(resp, 404, "ERR_NO_CONTACTLIST_FOUND")
        # Control: A filtering on its own list sees its item.
        own = client.simulate_get(url, params={"contactListId": a_list}, headers=alice.headers)
        assert own.status_code == 200


def test_item_cannot_be_created_in_another_companys_list(client, alice, bob, world):
    before = snapshot()
    resp = client.simulate_post(
        "/contact-list-items",
        json={"name": "Intruder", "number": phone(), "contactListId": world[0]["list"]["id"]},
        headers=bob.headers,
    )
    assert_error(resp, 404, "ERR_NO_CONTACTLIST_FOUND")
    assert snapshot() == before


def test_own_item_cannot_be_moved_into_another_companys_list(client, bob, world):
    b_item, a_list = world[1]["item"], world[0]["list"]["id"]
    before = snapshot()
    resp = client.simulate_put(
        f"/contact-list-items/{b_item['id']}",
        json={"name": "Moved", "contactListId": a_list},
        headers=bob.headers,
    )
    assert_error(resp, 404, "ERR_NO_CONTACTLIST_FOUND")
    assert snapshot() == before


def test_campaign_settings_are_per_company(client, alice, bob):
    saved = client.simulate_post(
        "/campaign-settings",
        json={"settings": {"messageInterval": 5, "variables": [{"key": "promo", "value": "A"}]}},
        headers=alice.headers,
    )
    a_settings = as_dict(saved)
    assert a_settings["messageInterval"] == 5

    b_view = as_dict(client.simulate_get("/campaign-settings", headers=bob.headers))
    assert b_view["messageInterval"] == 20  # the default, not A's value
    assert b_view["variables"] == []

    b_saved = client.simulate_post(
        "/campaign-settings",
        json={"settings": {"messageInterval": 99, "variables": [{"key": "promo", "value": "B"}]}},
        headers=bob.headers,
    )
    assert b_saved.status_code == 200
    after = as_dict(client.simulate_get("/campaign-settings", headers=alice.headers))
    assert after == a_settings
    # Two rows per key, one for each company.
    with_a = CampaignSetting.company == alice.company_id
    with db.connection_context():
        assert {s.key: s.value for s in CampaignSetting.select().where(with_a)} == {
            "messageInterval": 5,
            "variables": [{"key": "promo", "value": "A"}],
        }


def test_super_user_routes_are_scoped_to_their_own_company(client, alice, root):
    """Even a platform administrator reaches other companies' users only via /companies."""
    resp = client.simulate_get(f"/users/{alice.user_id}", headers=root.headers)
    assert_error(resp, 404, "ERR_NO_USER_FOUND")
    listed = client.simulate_get("/users", headers=root.headers).json
    assert {u["id"] for u in listed["records"]} == {root.user_id}
