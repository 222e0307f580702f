"""``/auth/login``, ``/auth/me``, Bearer tokens on every route, revocation and profiles."""

from __future__ import annotations

import re
import time
import types

import jwt
import pytest

import api.auth
from api import Deps, routes
from tests.api.helpers import assert_error, fresh_client, seed, snapshot
from tests.conftest import PASSWORD, make_user
from zapx import auth
from zapx.db import User, db
from zapx.redis import get_redis


def _all_routes(deps) -> list[tuple[str, str, bool]]:
    """``(path with ids filled in, method, needs a token)`` for every responder of the app."""
    out = []
    for template, resource, suffix in routes(deps):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            name = f"on_{method.lower()}" + (f"_{suffix}" if suffix else "")
            if hasattr(resource, name):
                path = re.sub(r"{\w+}", "1", template)
                out.append((path, method, getattr(resource, "auth_required", True)))
    return out


@pytest.fixture
def deps(config):
    return Deps(config=config, redis=get_redis(config.redis_url))


def _token(config, user_id, company_id, *, version=0, ttl=3600, **claims) -> str:
    principal = auth.Principal(user_id, company_id, "admin", False, version)
    token = auth.issue_token(principal, config.secret_key, ttl)
    if claims:
        payload = jwt.decode(token, config.secret_key, algorithms=["HS256"]) | claims
        payload = {k: v for k, v in payload.items() if v is not None}
        token = jwt.encode(payload, config.secret_key, algorithm="HS256")
    return token


# --- login -------------------------------------------------------------------------------------


def test_login_returns_a_token_and_the_user_without_secrets(client, alice):
    resp = client.simulate_post(
        "/auth/login", json={"email": "ADMIN@Alice.TEST", "password": PASSWORD}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert set(body) == {"token", "user"}
    assert body["user"]["id"] == alice.user_id
    assert body["user"]["email"] == alice.email
    assert body["user"]["company"]["id"] == alice.company_id
    assert "password" not in resp.text.lower()
    assert "hash" not in resp.text.lower()
    me = client.simulate_get("/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json["id"] == alice.user_id


def test_wrong_password_and_unknown_email_answer_alike(client, alice):
    wrong = client.simulate_post(
        "/auth/login", json={"email": alice.email, "password": "not-the-password"}
    )
    unknown = client.simulate_post(
        "/auth/login", json={"email": "nobody@nowhere.test", "password": PASSWORD}
    )
    # The original's code, which the frontend translates ("Erro de autenticação...").
    a = assert_error(wrong, 401, "ERR_INVALID_CREDENTIALS")
    b = assert_error(unknown, 401, "ERR_INVALID_CREDENTIALS")
    assert a == b
    assert wrong.headers.get("www-authenticate", "").startswith("Bearer")


def test_inactive_company_cannot_log_in(client, account):
    acct = account("sleepy")
    resp = client.simulate_put(
        f"/companies/{acct.company_id}",
        json={"status": False},
        headers=account("ops", super_=True).headers,
    )
    assert resp.status_code == 200 and resp.json["status"] is False
    resp = client.simulate_post("/auth/login", json={"email": acct.email, "password": PASSWORD})
    assert_error(resp, 401, "ERR_COMPANY_INACTIVE", contains="inactive")


# --- tokens on every route ---------------------------------------------------------------------


def test_every_route_but_the_public_ones_needs_a_token(client, deps, config, alice):
    table = _all_routes(deps)
    assert len(table) > 40
    public = {(path, method) for path, method, needed in table if not needed}
    assert public == {
        ("/health", "GET"),
        ("/version", "GET"),  # the frontend's shell, as the original's
        ("/settings/1", "GET"),  # /settings/{key}: system_title, viewregister (the login page)
        ("/auth/login", "POST"),
        ("/auth/refresh_token", "POST"),  # the session cookie is its credential
        ("/auth/logout", "DELETE"),
        ("/openapi.json", "GET"),
        ("/webhooks/cloud", "GET"),
        ("/webhooks/cloud", "POST"),
        ("/public/media/1/1/1/1", "GET"),
        ("/metrics", "GET"),  # its own bearer token (METRICS_TOKEN), never a user's JWT
        ("/ops", "GET"),  # the ops page's shell and its files hold no data: /ops/state does
        ("/ops/ops.css", "GET"),
        ("/ops/ops.js", "GET"),
    }
    expired = _token(config, alice.user_id, alice.company_id, ttl=-10)
    other_secret = jwt.encode(
        {
            "sub": str(alice.user_id),
            "id": alice.user_id,
            "companyId": alice.company_id,
            "profile": "admin",
            "super": True,
            "tv": 0,
            "exp": int(time.time()) + 60,
        },
        "x" * 48,
        algorithm="HS256",
    )
    # No token, or one this install never issued: 401, the frontend logs out. An expired (or
    # revoked) token: 403, the frontend refreshes it.
    bad_headers = {
        "no header": ({}, 401),
        "empty bearer": ({"Authorization": "Bearer "}, 401),
        "basic scheme": ({"Authorization": "Basic YWxpY2U6cGFzcw=="}, 401),
        "garbage": ({"Authorization": "Bearer not.a.jwt"}, 401),
        "expired": ({"Authorization": f"Bearer {expired}"}, 403),
        "other secret": ({"Authorization": f"Bearer {other_secret}"}, 401),
    }
    before = snapshot()
    for path, method, needed in table:
        if not needed:
            continue
        for label, (headers, status) in bad_headers.items():
            resp = client.simulate_request(method, path, headers=headers, json={"name": "x"})
            try:
                assert_error(resp, status, "ERR_SESSION_EXPIRED")
            except AssertionError as exc:
                raise AssertionError(f"{method} {path} with {label}: {exc}") from None
            challenge = 'Bearer realm="zapx"' if status == 401 else None
            assert resp.headers.get("www-authenticate") == challenge
    assert snapshot() == before


def test_expired_token_is_403_saying_so(client, config, alice, monkeypatch):
    # Issue a one-second token an hour ago: zapx.auth reads the clock through its ``time``.
    real = time.time
    monkeypatch.setattr(auth, "time", types.SimpleNamespace(time=lambda: real() - 3600))
    token = auth.issue_token(
        auth.Principal(alice.user_id, alice.company_id, "admin", False), config.secret_key, 1
    )
    monkeypatch.undo()
    resp = client.simulate_get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(resp, 403, "ERR_SESSION_EXPIRED", contains="expired")
    # The control: the same claims, issued now, are accepted.
    fresh = _token(config, alice.user_id, alice.company_id)
    assert (
        client.simulate_get("/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        # Never issued here (no refresh can help): 401, the frontend logs out.
        ({"alg_none": True}, 401),
        ({"exp": None}, 401),
        ({"sub": None}, 401),
        ({"companyId": None}, 401),
        ({"companyId": "not-a-number"}, 401),
        # Issued here but no longer good: 403, the frontend tries its refresh (which then fails).
        ({"id": 999999, "sub": "999999"}, 403),  # a user that does not exist
        ({"tv": 7}, 403),  # a version the user never had
    ],
    ids=["alg-none", "no-exp", "no-sub", "no-company", "bad-company", "no-user", "bad-version"],
)
def test_tampered_tokens_are_refused(client, config, alice, claims, status):
    if claims.get("alg_none"):
        payload = jwt.decode(
            _token(config, alice.user_id, alice.company_id), config.secret_key, algorithms=["HS256"]
        )
        token = jwt.encode(payload, None, algorithm="none")
    else:
        token = _token(config, alice.user_id, alice.company_id, **claims)
    resp = client.simulate_get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(resp, status, "ERR_SESSION_EXPIRED")


# --- revocation --------------------------------------------------------------------------------


def test_password_change_revokes_old_tokens(client, config, alice):
    old = alice.headers
    resp = client.simulate_put(
        f"/users/{alice.user_id}", json={"password": "a-brand-new-password"}, headers=old
    )
    assert resp.status_code == 200, resp.text
    with db.connection_context():
        assert User.get_by_id(alice.user_id).token_version == 1
    # Another app instance (its version cache is empty) refuses the old token at once.
    other = fresh_client(config)
    resp = other.simulate_get("/auth/me", headers=old)
    assert_error(resp, 403, "ERR_SESSION_EXPIRED", contains="revoked")
    # The old password no longer logs in; the new one does, and its token works.
    resp = other.simulate_post("/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert_error(resp, 401, "ERR_INVALID_CREDENTIALS")
    resp = other.simulate_post(
        "/auth/login", json={"email": alice.email, "password": "a-brand-new-password"}
    )
    assert resp.status_code == 200
    new = {"Authorization": f"Bearer {resp.json['token']}"}
    assert other.simulate_get("/auth/me", headers=new).status_code == 200


def test_revocation_reaches_an_app_that_cached_the_old_version(client, alice, monkeypatch):
    """The app that served the old token notices within REVOCATION_CACHE_S seconds."""
    assert client.simulate_get("/auth/me", headers=alice.headers).status_code == 200  # cached
    resp = client.simulate_put(
        f"/users/{alice.user_id}", json={"password": "a-brand-new-password"}, headers=alice.headers
    )
    assert resp.status_code == 200
    real = time.monotonic
    later = real() + api.auth.REVOCATION_CACHE_S + 1
    monkeypatch.setattr(api.auth, "time", types.SimpleNamespace(monotonic=lambda: later))
    assert_error(client.simulate_get("/auth/me", headers=alice.headers), 403, contains="revoked")


def test_deleted_users_token_stops_working(client, config, alice):
    member = seed(client, alice, "m")["user"]
    other = fresh_client(config)
    resp = other.simulate_post(
        "/auth/login", json={"email": member["email"], "password": "member-password"}
    )
    headers = {"Authorization": f"Bearer {resp.json['token']}"}
    assert other.simulate_get("/auth/me", headers=headers).status_code == 200
    assert (
        client.simulate_delete(f"/users/{member['id']}", headers=alice.headers).status_code == 204
    )
    resp = fresh_client(config).simulate_get("/auth/me", headers=headers)
    assert_error(resp, 403, "ERR_SESSION_EXPIRED")


# --- profiles ----------------------------------------------------------------------------------


def test_user_profile_cannot_manage_users(client, account):
    boss = account("acme")
    worker_id = make_user(boss.company_id, "worker@acme.test", profile="user")
    colleague_id = make_user(boss.company_id, "colleague@acme.test", profile="user")
    resp = client.simulate_post(
        "/auth/login", json={"email": "worker@acme.test", "password": PASSWORD}
    )
    worker = {"Authorization": f"Bearer {resp.json['token']}"}
    before = snapshot()
    new_user = {"name": "X", "email": "x@acme.test", "password": "password-123"}
    attempts = [
        ("GET", "/users", None),
        ("POST", "/users", new_user),
        ("GET", f"/users/{colleague_id}", None),
        ("PUT", f"/users/{colleague_id}", {"name": "Renamed"}),
        ("PUT", f"/users/{boss.user_id}", {"password": "stolen-password"}),
        ("DELETE", f"/users/{colleague_id}", None),
        ("DELETE", f"/users/{boss.user_id}", None),
        ("PUT", f"/users/{worker_id}", {"profile": "admin"}),  # no self-promotion
        ("POST", f"/companies/{boss.company_id}/users", new_user),
    ]
    for method, url, body in attempts:
        resp = client.simulate_request(method, url, json=body, headers=worker)
        try:
            assert_error(resp, 403, "ERR_NO_PERMISSION")
        except AssertionError as exc:
            raise AssertionError(f"{method} {url}: {exc}") from None
    assert snapshot() == before
    # A user may read and rename themself.
    assert client.simulate_get(f"/users/{worker_id}", headers=worker).json["profile"] == "user"
    resp = client.simulate_put(f"/users/{worker_id}", json={"name": "Worker B"}, headers=worker)
    assert resp.status_code == 200 and resp.json["name"] == "Worker B"
    assert resp.json["profile"] == "user"


def test_only_super_manages_companies(client, alice, bob, root):
    before = snapshot()
    attempts = [
        ("GET", "/companies", None),
        ("POST", "/companies", {"name": "Evil Co"}),
        ("GET", f"/companies/{bob.company_id}", None),
        ("GET", f"/companies/{alice.company_id}", None),
        ("PUT", f"/companies/{alice.company_id}", {"maxUsers": 100000}),
        ("PUT", f"/companies/{bob.company_id}", {"status": False}),
        ("DELETE", f"/companies/{bob.company_id}", None),
        (
            "POST",
            f"/companies/{alice.company_id}/users",
            {"name": "X", "email": "x@alice.test", "password": "password-123"},
        ),
        (
            "POST",
            f"/companies/{bob.company_id}/users",
            {"name": "X", "email": "x@bob.test", "password": "password-123"},
        ),
    ]
    for method, url, body in attempts:
        resp = client.simulate_request(method, url, json=body, headers=alice.headers)
        try:
            assert_error(resp, 403, "ERR_NO_PERMISSION", contains="super")
        except AssertionError as exc:
            raise AssertionError(f"{method} {url}: {exc}") from None
    assert snapshot() == before
    # The control: the super administrator may.
    assert client.simulate_get("/companies", headers=root.headers).json["count"] == 3


def test_super_creates_a_company_and_its_user_who_can_log_in(client, root):
    resp = client.simulate_post(
        "/companies",
        json={"name": "Newco", "maxUsers": 2, "maxConnections": 1},
        headers=root.headers,
    )
    assert resp.status_code == 201, resp.text
    company = resp.json
    assert company["maxUsers"] == 2 and company["status"] is True
    resp = client.simulate_post(
        f"/companies/{company['id']}/users",
        json={
            "name": "Owner",
            "email": "Owner@Newco.test",
            "password": "owner-password",
            "profile": "admin",
        },
        headers=root.headers,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json["companyId"] == company["id"]
    assert resp.json["email"] == "owner@newco.test"
    assert resp.json["super"] is False
    login = client.simulate_post(
        "/auth/login", json={"email": "owner@newco.test", "password": "owner-password"}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json['token']}"}
    me = client.simulate_get("/auth/me", headers=headers).json
    assert me["companyId"] == company["id"] and me["profile"] == "admin"
    # The new admin works inside the new company only.
    assert client.simulate_get("/users", headers=headers).json["count"] == 1
    assert_error(client.simulate_get("/companies", headers=headers), 403)
