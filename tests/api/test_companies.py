"""``/companies`` (super administrators) and ``/users`` (company administrators)."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error, counts, fresh_client, row, snapshot
from tests.conftest import PASSWORD
from zapx.db import Company, Contact, User, db


def _user(name="Carol", email="carol@alice.test", **extra) -> dict:
    return {"name": name, "email": email, "password": "carol-password", **extra}


# --- companies ---------------------------------------------------------------------------------


def test_company_crud(client, root):
    h = root.headers
    resp = client.simulate_post(
        "/companies",
        json={
            "name": "  Acme  ",
            "phone": "+55 11 3333-4444",
            "email": "ops@acme.test",
            "dueDate": "2030-01-31T00:00:00Z",
            "maxUsers": 3,
            "maxConnections": 2,
            "maxCampaigns": 10,
            "useCampaigns": False,
        },
        headers=h,
    )
    assert resp.status_code == 201, resp.text
    company = resp.json
    assert company["name"] == "Acme"
    assert company["dueDate"].startswith("2030-01-31T00:00:00")
    assert (company["maxUsers"], company["maxConnections"], company["useCampaigns"]) == (
        3,
        2,
        False,
    )
    url = f"/companies/{company['id']}"
    assert client.simulate_get(url, headers=h).json == company

    resp = client.simulate_put(url, json={"maxUsers": 5, "dueDate": None}, headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.json["maxUsers"] == 5 and resp.json["dueDate"] is None
    assert resp.json["name"] == "Acme"  # a partial update keeps the rest
    assert resp.json["updatedAt"] >= company["updatedAt"]

    assert client.simulate_delete(url, headers=h).status_code == 204
    assert_error(client.simulate_get(url, headers=h), 404, "ERR_NO_COMPANY_FOUND")
    assert_error(client.simulate_delete(url, headers=h), 404, "ERR_NO_COMPANY_FOUND")


def test_deleting_a_company_deletes_what_it_owns(client, config, root, alice):
    resp = client.simulate_post(
        "/contacts", json={"name": "Zed", "number": "11987654321"}, headers=alice.headers
    )
    assert resp.status_code == 201
    resp = client.simulate_delete(f"/companies/{alice.company_id}", headers=root.headers)
    assert resp.status_code == 204
    with db.connection_context():
        assert Company.get_or_none(Company.id == alice.company_id) is None
        assert User.select().where(User.company == alice.company_id).count() == 0
        assert Contact.select().where(Contact.company == alice.company_id).count() == 0
    # The deleted company's tokens no longer work (on an app with an empty version cache).
    resp = fresh_client(config).simulate_get("/auth/me", headers=alice.headers)
    assert_error(resp, 403, "ERR_SESSION_EXPIRED")


def test_super_cannot_delete_own_company(client, root):
    before = snapshot()
    resp = client.simulate_delete(f"/companies/{root.company_id}", headers=root.headers)
    assert_error(resp, 409, "ERR_CONFLICT", contains="own company")
    assert snapshot() == before


def test_companies_pagination_and_search(client, root):
    with db.connection_context(), db.atomic():
        for i in range(24):
            Company.create(name=f"Açaí Company {i:02d}")
    h = root.headers
    first = client.simulate_get("/companies", headers=h).json
    assert len(first["records"]) == 20 and first["count"] == 25 and first["hasMore"] is True
    second = client.simulate_get("/companies", params={"pageNumber": 2}, headers=h).json
    assert len(second["records"]) == 5 and second["count"] == 25 and second["hasMore"] is False
    names = [c["name"] for c in first["records"] + second["records"]]
    assert names == sorted(names)
    found = client.simulate_get("/companies", params={"searchParam": "company 1"}, headers=h).json
    assert found["count"] == 10
    assert {c["name"] for c in found["records"]} == {f"Açaí Company {i}" for i in range(10, 20)}
    for term in ("ACAI COMPANY 2", "açaí company 2", "Acai Company 2"):
        found = client.simulate_get("/companies", params={"searchParam": term}, headers=h).json
        assert [c["name"] for c in found["records"]] == [
            f"Açaí Company {i}" for i in (20, 21, 22, 23)
        ]


# --- users -------------------------------------------------------------------------------------


def test_user_crud_by_an_admin(client, alice):
    h = alice.headers
    resp = client.simulate_post(
        "/users", json=_user(email="Carol@Alice.Test", profile="admin"), headers=h
    )
    assert resp.status_code == 201, resp.text
    carol = resp.json
    assert carol["email"] == "carol@alice.test"
    assert carol["profile"] == "admin" and carol["super"] is False
    assert carol["companyId"] == alice.company_id
    assert not {"password", "passwordHash", "password_hash"} & set(carol)

    url = f"/users/{carol['id']}"
    assert client.simulate_get(url, headers=h).json == carol
    resp = client.simulate_put(url, json={"name": "Carol B", "profile": "user"}, headers=h)
    assert resp.status_code == 200
    assert (resp.json["name"], resp.json["profile"]) == ("Carol B", "user")

    # Whaticket sends the whole object back on PUT; unknown keys (id, createdAt...) are ignored.
    resp = client.simulate_put(url, json=resp.json | {"name": "Carol C", "super": True}, headers=h)
    assert resp.status_code == 200
    assert resp.json["name"] == "Carol C" and resp.json["super"] is False

    login = client.simulate_post(
        "/auth/login", json={"email": "carol@alice.test", "password": "carol-password"}
    )
    assert login.status_code == 200

    assert client.simulate_delete(url, headers=h).status_code == 204
    assert row(User, carol["id"]) is None
    assert_error(client.simulate_get(url, headers=h), 404, "ERR_NO_USER_FOUND")


def test_users_list_and_search(client, account, bob):
    alice = account("big", max_users=50)  # the default plan allows 10 users
    for i in range(21):
        resp = client.simulate_post(
            "/users",
            json=_user(f"João {i:02d}", f"joao{i:02d}@big.test"),
            headers=alice.headers,
        )
        assert resp.status_code == 201
    page1 = client.simulate_get("/users", headers=alice.headers).json
    assert page1["count"] == 22 and len(page1["records"]) == 20 and page1["hasMore"] is True
    page2 = client.simulate_get("/users", params={"pageNumber": "2"}, headers=alice.headers).json
    assert page2["count"] == 22 and len(page2["records"]) == 2 and page2["hasMore"] is False
    ids = [u["id"] for u in page1["records"] + page2["records"]]
    assert len(set(ids)) == 22 and bob.user_id not in ids
    by_email = client.simulate_get(
        "/users", params={"searchParam": "JOAO07@"}, headers=alice.headers
    ).json
    assert [u["email"] for u in by_email["records"]] == ["joao07@big.test"]
    by_name = client.simulate_get("/users", params={"searchParam": "JOAO 1"}, headers=alice.headers)
    assert [u["name"] for u in by_name.json["records"]] == [f"João {i}" for i in range(10, 20)]


def test_duplicate_email_is_409_across_companies(client, alice, bob):
    assert client.simulate_post("/users", json=_user(), headers=alice.headers).status_code == 201
    before = snapshot()
    bodies = []
    for acct, email in ((alice, "carol@alice.test"), (bob, "CAROL@alice.test")):
        resp = client.simulate_post("/users", json=_user(email=email), headers=acct.headers)
        bodies.append(assert_error(resp, 409, "ERR_CONFLICT", field="email"))
    # Renaming someone to a taken address is a 409 too, in the own company or another one.
    for acct in (alice, bob):
        resp = client.simulate_put(
            f"/users/{acct.user_id}", json={"email": "carol@alice.test"}, headers=acct.headers
        )
        bodies.append(assert_error(resp, 409, "ERR_CONFLICT", field="email"))
    # E-mails are unique install-wide (login asks for no company): B learns that it cannot use
    # the address, never that it exists, nor where; the answer is the same word for word.
    assert all(body == bodies[0] for body in bodies), bodies
    assert "carol" not in bodies[0]["message"] and "exists" not in bodies[0]["message"]
    assert snapshot() == before


def test_admin_cannot_delete_themself(client, alice):
    before = snapshot()
    resp = client.simulate_delete(f"/users/{alice.user_id}", headers=alice.headers)
    assert_error(resp, 409, "ERR_CONFLICT")
    assert snapshot() == before


def test_company_users_route_for_unknown_company_is_404(client, root):
    before = snapshot()
    resp = client.simulate_post("/companies/999999/users", json=_user(), headers=root.headers)
    assert_error(resp, 404, "ERR_NO_COMPANY_FOUND", contains="999999")
    assert snapshot() == before


# --- plan limits -------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["/users", "/companies/{id}/users"])
def test_max_users_reached_is_400_plan_limit(client, account, root, via):
    small = account("small", max_users=2)
    url = via.format(id=small.company_id)
    headers = small.headers if via == "/users" else root.headers
    resp = client.simulate_post(url, json=_user(email="second@small.test"), headers=headers)
    assert resp.status_code == 201, resp.text  # 2 of 2
    before = counts()
    resp = client.simulate_post(url, json=_user(email="third@small.test"), headers=headers)
    body = assert_error(resp, 400, "ERR_PLAN_LIMIT")
    assert body["message"] == "the plan allows 2 users and the company has 2"
    assert counts() == before
    login = client.simulate_post(
        "/auth/login", json={"email": "third@small.test", "password": "carol-password"}
    )
    assert_error(login, 401)
    # Raising the limit lets the same request through.
    resp = client.simulate_put(
        f"/companies/{small.company_id}", json={"maxUsers": 3}, headers=root.headers
    )
    assert resp.status_code == 200
    resp = client.simulate_post(url, json=_user(email="third@small.test"), headers=headers)
    assert resp.status_code == 201


def test_plan_limit_of_zero_users(client, account, root):
    empty = account("empty", max_users=0)  # its admin was made directly in the database
    before = counts()
    resp = client.simulate_post("/users", json=_user(), headers=empty.headers)
    assert_error(resp, 400, "ERR_PLAN_LIMIT", contains="allows 0 users")
    assert counts() == before


def test_password_is_never_returned(client, alice, root):
    responses = [
        client.simulate_get("/users", headers=alice.headers),
        client.simulate_get(f"/users/{alice.user_id}", headers=alice.headers),
        client.simulate_get("/auth/me", headers=alice.headers),
        client.simulate_post("/users", json=_user(), headers=alice.headers),
        client.simulate_post("/auth/login", json={"email": alice.email, "password": PASSWORD}),
    ]
    with db.connection_context():
        stored = User.get_by_id(alice.user_id).password_hash
    for resp in responses:
        assert resp.status_code in (200, 201)
        assert stored not in resp.text
        assert "$2b$" not in resp.text
        assert PASSWORD not in resp.text
