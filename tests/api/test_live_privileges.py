"""A request's rights come from the database (cached ``REVOCATION_CACHE_S``), not the token."""

from __future__ import annotations

import time
import types

import jwt
import pytest

import api.auth
from tests.api.helpers import assert_error, fresh_client, snapshot
from tests.conftest import login, make_company, make_user
from zapx.db import Company, User, db


def _after_cache_window(monkeypatch) -> None:
    """Move the auth middleware's clock past its cache window instead of sleeping 10 s."""
    later = time.monotonic() + api.auth.REVOCATION_CACHE_S + 1
    monkeypatch.setattr(api.auth, "time", types.SimpleNamespace(monotonic=lambda: later))


def _set(model, object_id: int, **values) -> None:
    """Change a row behind the API's back (an operator's SQL, another process)."""
    with db.connection_context(), db.atomic():
        assert model.update(**values).where(model.id == object_id).execute() == 1


def _version(user_id: int) -> int:
    with db.connection_context():
        return User.get_by_id(user_id).token_version


# --- profile -----------------------------------------------------------------------------------


def test_a_demoted_admin_loses_admin_routes_within_the_cache_window(
    client, config, alice, monkeypatch
):
    h = alice.headers
    assert client.simulate_get("/users", headers=h).status_code == 200  # the standing is cached
    _set(User, alice.user_id, profile="user")  # no token_version bump: only the profile changes
    # An app that has not read alice's standing yet sees the demotion at once.
    other = fresh_client(config)
    assert_error(other.simulate_get("/users", headers=h), 403, "ERR_NO_PERMISSION")
    # The app that cached it sees it once the window has passed: at most REVOCATION_CACHE_S.
    _after_cache_window(monkeypatch)
    before = snapshot()
    assert_error(client.simulate_get("/users", headers=h), 403, "ERR_NO_PERMISSION")
    resp = client.simulate_post(
        "/users", json={"name": "X", "email": "x@alice.test", "password": "password-123"}, headers=h
    )
    assert_error(resp, 403, "ERR_NO_PERMISSION")
    resp = client.simulate_post("/whatsapps", json={"name": "W", "provider": "sandbox"}, headers=h)
    assert_error(resp, 403, "ERR_NO_PERMISSION")
    assert snapshot() == before
    # The same token still works for what a user may do, and /auth/me tells the truth.
    assert client.simulate_get("/contacts", headers=h).status_code == 200
    assert client.simulate_get("/auth/me", headers=h).json["profile"] == "user"


def test_a_token_claiming_admin_or_super_gets_the_database_profile(client, config, account):
    acct = account("plain", profile="user")
    with db.connection_context():
        version = User.get_by_id(acct.user_id).token_version
    payload = {
        "sub": str(acct.user_id),
        "id": acct.user_id,
        "companyId": acct.company_id,
        "profile": "admin",
        "super": True,
        "tv": version,
        "exp": int(time.time()) + 600,
    }
    # Signed with the real secret (a leaked key, or a token issued before a demotion).
    token = jwt.encode(payload, config.secret_key, algorithm="HS256")
    h = {"Authorization": f"Bearer {token}"}
    assert_error(client.simulate_get("/users", headers=h), 403, "ERR_NO_PERMISSION")
    assert_error(client.simulate_get("/companies", headers=h), 403, "ERR_NO_PERMISSION")
    assert client.simulate_get("/contacts", headers=h).status_code == 200


def test_changing_a_profile_through_the_api_revokes_the_users_tokens(client, config, alice):
    member_id = make_user(alice.company_id, "member@alice.test", profile="user")
    member = login(client, "member@alice.test")
    assert client.simulate_get("/auth/me", headers=member).status_code == 200
    resp = client.simulate_put(
        f"/users/{member_id}", json={"profile": "admin"}, headers=alice.headers
    )
    assert resp.status_code == 200 and resp.json["profile"] == "admin"
    assert _version(member_id) == 1
    resp = fresh_client(config).simulate_get("/auth/me", headers=member)
    assert_error(resp, 403, "ERR_SESSION_EXPIRED", contains="revoked")
    # Sending the profile the user already has changes nothing and revokes nothing.
    promoted = login(client, "member@alice.test")
    resp = client.simulate_put(
        f"/users/{member_id}", json={"profile": "admin", "name": "M"}, headers=alice.headers
    )
    assert resp.status_code == 200
    assert _version(member_id) == 1
    assert fresh_client(config).simulate_get("/users", headers=promoted).status_code == 200


def test_a_user_saves_their_own_record_unchanged(client, config, account):
    boss = account("acme")
    worker_id = make_user(boss.company_id, "worker@acme.test", profile="user")
    worker = login(client, "worker@acme.test")
    record = client.simulate_get(f"/users/{worker_id}", headers=worker).json
    # The Whaticket user form sends the whole record back, profile included.
    resp = client.simulate_put(f"/users/{worker_id}", json=record | {"name": "W"}, headers=worker)
    assert resp.status_code == 200, resp.text
    assert (resp.json["name"], resp.json["profile"]) == ("W", "user")
    assert _version(worker_id) == 0  # nothing that revokes changed
    assert fresh_client(config).simulate_get("/auth/me", headers=worker).status_code == 200
    # Asking for another profile is still refused, and changes nothing.
    before = snapshot()
    resp = client.simulate_put(
        f"/users/{worker_id}", json=record | {"name": "Z", "profile": "admin"}, headers=worker
    )
    assert_error(resp, 403, "ERR_NO_PERMISSION", contains="profile")
    assert snapshot() == before


# --- company -----------------------------------------------------------------------------------


def test_a_deactivated_companys_tokens_stop_working(client, config, alice, bob, root, monkeypatch):
    assert client.simulate_get("/contacts", headers=alice.headers).status_code == 200  # cached
    resp = client.simulate_put(
        f"/companies/{alice.company_id}", json={"status": False}, headers=root.headers
    )
    assert resp.status_code == 200 and resp.json["status"] is False
    other = fresh_client(config)
    for url in ("/contacts", "/auth/me", "/campaigns"):
        assert_error(other.simulate_get(url, headers=alice.headers), 403, contains="inactive")
    _after_cache_window(monkeypatch)
    assert_error(client.simulate_get("/contacts", headers=alice.headers), 403, contains="inactive")
    # Other companies are untouched; the platform administrator still works.
    assert client.simulate_get("/contacts", headers=bob.headers).status_code == 200
    assert client.simulate_get("/companies", headers=root.headers).status_code == 200
    # Reactivated, the same token works again: deactivation suspends, it does not revoke.
    client.simulate_put(
        f"/companies/{alice.company_id}", json={"status": True}, headers=root.headers
    )
    assert fresh_client(config).simulate_get("/contacts", headers=alice.headers).status_code == 200


def test_a_user_moved_to_another_company_loses_their_tokens(client, config, alice):
    elsewhere = make_company("elsewhere")
    _set(User, alice.user_id, company=elsewhere)  # no route does this; an operator might
    resp = fresh_client(config).simulate_get("/contacts", headers=alice.headers)
    assert_error(resp, 403, "ERR_SESSION_EXPIRED", contains="revoked")


def test_a_super_in_an_inactive_company_keeps_working(client, config, root):
    _set(Company, root.company_id, status=False)
    assert fresh_client(config).simulate_get("/companies", headers=root.headers).status_code == 200


# --- forged company ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "company_id",
    [0, -1, None, "abc", "1", 1.5, True, 2**31, []],
    ids=["zero", "negative", "missing", "abc", "string-1", "float", "true", "too-big", "list"],
)
def test_a_token_with_a_bad_company_id_is_401(client, config, alice, company_id):
    payload = {
        "sub": str(alice.user_id),
        "id": alice.user_id,
        "companyId": company_id,
        "profile": "admin",
        "super": False,
        "tv": 0,
        "exp": int(time.time()) + 600,
    }
    if company_id is None:
        del payload["companyId"]
    h = {"Authorization": "Bearer " + jwt.encode(payload, config.secret_key, algorithm="HS256")}
    before = snapshot()
    for method, url in (("GET", "/auth/me"), ("GET", "/contacts"), ("POST", "/contact-lists")):
        resp = client.simulate_request(method, url, json={"name": "Forged"}, headers=h)
        assert_error(resp, 401, "ERR_SESSION_EXPIRED", contains="invalid token")
    assert snapshot() == before
