"""Browser sessions: the ``jrt`` cookie at login, ``/auth/refresh_token``, ``/auth/logout``, and
the statuses the frontend's interceptor acts on (401 logs out, 403 refreshes and retries once)."""

from __future__ import annotations

import dataclasses
import datetime
import time
import types

import falcon.testing
import jwt
import pytest

from api import Deps, create_app
from tests.api.helpers import assert_error, fresh_client, seed, snapshot
from tests.conftest import PASSWORD, make_company, make_user
from zapx import auth
from zapx.db import Company, User, db
from zapx.redis import get_redis

COOKIE_NAME = "jrt"  # the original's refresh cookie (helpers/SendRefreshToken.ts)


def _login(client, email: str, password: str = PASSWORD):
    resp = client.simulate_post(
        "/auth/login", json={"email": email, "password": password, "recaptchaToken": "x"}
    )
    assert resp.status_code == 200, resp.text
    return resp


def _refresh(client, cookie: str | None, **kwargs):
    cookies = {COOKIE_NAME: cookie} if cookie is not None else None
    return client.simulate_post("/auth/refresh_token", cookies=cookies, **kwargs)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _assert_cleared(resp) -> None:
    jar = resp.cookies[COOKIE_NAME]
    assert jar.value == "" and jar.path == "/" and jar.http_only
    assert jar.expires is not None and jar.expires.year == 1970  # a past date removes it


# --- login sets the cookie ---------------------------------------------------------------------


def test_login_sets_an_http_only_session_cookie(client, config, alice):
    resp = _login(client, alice.email)
    jar = resp.cookies[COOKIE_NAME]
    assert jar.http_only and jar.path == "/" and jar.same_site == "Lax"
    assert jar.max_age == config.refresh_ttl_s == 7 * 86400
    assert not jar.secure  # not production: http://localhost works
    # The cookie is a refresh token of its own kind: not an access token, not in the body.
    assert jar.value not in resp.text
    claims = auth.decode_refresh_token(jar.value, config.secret_key)
    assert (claims.user_id, claims.company_id, claims.token_version) == (
        alice.user_id,
        alice.company_id,
        0,
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(jar.value, config.secret_key, algorithms=["HS256"])
    assert_error(client.simulate_get("/auth/me", headers=_bearer(jar.value)), 401)


def test_production_cookie_is_secure(config, alice):
    prod = dataclasses.replace(config, env="production", secret_key="p" * 40)
    client = falcon.testing.TestClient(
        create_app(Deps(config=prod, redis=get_redis(prod.redis_url)))
    )
    assert _login(client, alice.email).cookies[COOKIE_NAME].secure


# --- refresh ---------------------------------------------------------------------------------


def test_refresh_trades_the_cookie_for_a_new_token_and_cookie(client, config, alice):
    login = _login(client, alice.email)
    cookie = login.cookies[COOKIE_NAME].value
    time.sleep(1.1)  # a later iat: a different token and cookie
    # The stored (maybe expired) access token rides along in Authorization and is ignored.
    resp = _refresh(client, cookie, headers={"Authorization": "Bearer not.a.jwt"})
    assert resp.status_code == 200, resp.text
    assert set(resp.json) == {"token", "user"}
    assert resp.json["token"] != login.json["token"]
    user = resp.json["user"]
    assert user["id"] == alice.user_id and user["queues"] == []
    assert user["company"]["id"] == alice.company_id
    new_cookie = resp.cookies[COOKIE_NAME]
    assert new_cookie.value != cookie and new_cookie.http_only
    assert new_cookie.max_age == config.refresh_ttl_s
    me = client.simulate_get("/auth/me", headers=_bearer(resp.json["token"]))
    assert me.status_code == 200 and me.json["id"] == alice.user_id
    # Same session: the new cookie refreshes, and so does the old one (tabs refresh at once).
    assert _refresh(client, new_cookie.value).status_code == 200
    assert _refresh(client, cookie).status_code == 200


@pytest.mark.parametrize(
    "cookie",
    [None, "", "garbage", "a.b.c", "access-token", "other-secret", "expired", "wrong-type"],
)
def test_a_bad_cookie_is_401_session_expired_and_clears_it(client, config, alice, cookie):
    principal = auth.Principal(alice.user_id, alice.company_id, "admin", False, 0)
    made = {
        "access-token": auth.issue_token(principal, config.secret_key, 3600),
        "other-secret": auth.issue_refresh_token(principal, "o" * 40, 3600, "sid"),
        "expired": auth.issue_refresh_token(principal, config.secret_key, -10, "sid"),
        "wrong-type": jwt.encode(
            {"sub": "1", "id": 1, "companyId": 1, "sid": "s", "typ": "access", "exp": 2**31},
            auth.refresh_secret(config.secret_key),
            algorithm="HS256",
        ),
    }
    before = snapshot()
    resp = _refresh(client, made.get(cookie, cookie))
    # Never a 403 here: the frontend would answer it with another refresh, forever.
    assert_error(resp, 401, "ERR_SESSION_EXPIRED")
    _assert_cleared(resp)
    assert snapshot() == before


def test_refresh_is_refused_once_the_users_standing_changed(client, config, account):
    acct = account("acme")
    cookie = _login(client, acct.email).cookies[COOKIE_NAME].value
    assert _refresh(client, cookie).status_code == 200
    # A new password bumps token_version: every session of the user ends.
    resp = client.simulate_put(
        f"/users/{acct.user_id}", json={"password": "another-password"}, headers=acct.headers
    )
    assert resp.status_code == 200
    assert_error(_refresh(client, cookie), 401, "ERR_SESSION_EXPIRED", contains="revoked")
    # A deleted user's and an inactive company's sessions end too; a super's does not.
    member = seed(client, account("beta"), "b")["user"]
    member_cookie = _login(client, member["email"], "member-password").cookies[COOKIE_NAME]
    with db.connection_context(), db.atomic():
        User.delete().where(User.id == member["id"]).execute()
    assert_error(_refresh(client, member_cookie.value), 401, "ERR_SESSION_EXPIRED")

    sleepy = account("sleepy")
    sleepy_cookie = _login(client, sleepy.email).cookies[COOKIE_NAME].value
    boss_id = make_user(sleepy.company_id, "boss@sleepy.test", super_=True)
    boss_cookie = _login(client, "boss@sleepy.test").cookies[COOKIE_NAME].value
    with db.connection_context(), db.atomic():
        Company.update(status=False).where(Company.id == sleepy.company_id).execute()
    assert_error(_refresh(client, sleepy_cookie), 401, "ERR_SESSION_EXPIRED", contains="inactive")
    boss = _refresh(client, boss_cookie)
    assert boss.status_code == 200 and boss.json["user"]["id"] == boss_id


# --- logout ------------------------------------------------------------------------------------


def test_logout_ends_that_session_only_and_clears_the_cookie(client, config, alice):
    first = _login(client, alice.email).cookies[COOKIE_NAME].value
    second = _login(client, alice.email).cookies[COOKIE_NAME].value
    rotated = _refresh(client, first).cookies[COOKIE_NAME].value
    # No Authorization needed: the cookie is the credential (an expired token logs out too).
    resp = client.simulate_delete("/auth/logout", cookies={COOKIE_NAME: first})
    assert resp.status_code == 204
    _assert_cleared(resp)
    # Every cookie of that session is refused, on every API process (the end is in Redis).
    for cookie in (first, rotated):
        resp = _refresh(fresh_client(config), cookie)
        assert_error(resp, 401, "ERR_SESSION_EXPIRED", contains="logged out")
    # The user's other session goes on.
    assert _refresh(client, second).status_code == 200
    # A logout without a cookie, or with a bad one, is harmless and clears it.
    for cookies in (None, {COOKIE_NAME: "garbage"}):
        resp = client.simulate_delete("/auth/logout", cookies=cookies)
        assert resp.status_code == 204
        _assert_cleared(resp)


# --- the statuses the frontend acts on ---------------------------------------------------------


class Frontend:
    """What frontend/src/hooks/useAuth.js does with answers: a 403 makes it POST
    /auth/refresh_token with its cookie, store the new token and retry the request once (a
    failed refresh rejects with the refresh's own answer); a 401 logs it out."""

    def __init__(self, client, login):
        self.client = client
        self.token = login.json["token"]
        self.cookie = login.cookies[COOKIE_NAME].value
        self.logged_in = True
        self.refreshes = 0

    def call(self, method: str, path: str, **kwargs):
        resp = self._send(method, path, **kwargs)
        if resp.status_code == 403:
            self.refreshes += 1
            refreshed = _refresh(self.client, self.cookie, headers=_bearer(self.token))
            if refreshed.status_code != 200:
                self._after(refreshed)
                return refreshed
            self.token = refreshed.json["token"]
            self.cookie = refreshed.cookies[COOKIE_NAME].value
            resp = self._send(method, path, **kwargs)
        self._after(resp)
        return resp

    def _send(self, method, path, **kwargs):
        return self.client.simulate_request(method, path, headers=_bearer(self.token), **kwargs)

    def _after(self, resp) -> None:
        if resp.status_code == 401:
            self.logged_in = False


def test_an_expired_access_token_is_refreshed_without_a_logout(client, config, alice, monkeypatch):
    ui = Frontend(client, _login(client, alice.email))
    # The stored token expired an hour ago (issued with a clock in the past).
    real = time.time
    monkeypatch.setattr(auth, "time", types.SimpleNamespace(time=lambda: real() - 7200))
    ui.token = auth.issue_token(
        auth.Principal(alice.user_id, alice.company_id, "admin", False), config.secret_key, 60
    )
    monkeypatch.undo()
    resp = ui.call("GET", "/contacts")
    assert resp.status_code == 200, resp.text
    assert (ui.refreshes, ui.logged_in) == (1, True)
    assert ui.call("GET", "/contacts").status_code == 200 and ui.refreshes == 1


def test_a_revoked_session_logs_the_frontend_out(client, config, alice):
    ui = Frontend(fresh_client(config), _login(client, alice.email))
    resp = client.simulate_put(
        f"/users/{alice.user_id}", json={"password": "another-password"}, headers=alice.headers
    )
    assert resp.status_code == 200
    resp = ui.call("GET", "/contacts")
    assert_error(resp, 401, "ERR_SESSION_EXPIRED")
    assert (ui.refreshes, ui.logged_in) == (1, False)


def test_plan_limits_cost_no_refresh_and_forbidden_costs_one(client, account):
    small = account("small", max_connections=0)
    ui = Frontend(client, _login(client, small.email))
    resp = ui.call("POST", "/whatsapp", json={"name": "Meu zap", "provider": "beta"})
    assert_error(resp, 400, "ERR_PLAN_LIMIT")
    assert (ui.refreshes, ui.logged_in) == (0, True)
    # A user profile's missing right is the original's 403 ERR_NO_PERMISSION: one refresh, the
    # same answer again, and the frontend shows its translation; never a loop or a logout.
    make_user(small.company_id, "worker@small.test", profile="user")
    worker = Frontend(client, _login(client, "worker@small.test"))
    resp = worker.call("POST", "/campaigns", json={"name": "Promo"})
    assert_error(resp, 403, "ERR_NO_PERMISSION")
    assert (worker.refreshes, worker.logged_in) == (1, True)


def test_no_token_at_all_is_401_and_logs_out(client):
    assert_error(client.simulate_get("/contacts"), 401, "ERR_SESSION_EXPIRED")


# --- /companies/listPlan -----------------------------------------------------------------------


def test_list_plan_answers_the_callers_company_and_its_campaign_flag(client, account, root):
    acme = account("acme", max_users=3, max_connections=2)
    resp = client.simulate_get(f"/companies/listPlan/{acme.company_id}", headers=acme.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert body["id"] == acme.company_id and body["name"] == "acme"
    plan = body["plan"]
    assert (plan["users"], plan["connections"], plan["useCampaigns"]) == (3, 2, True)
    assert plan["useKanban"] is False and plan["useOpenAi"] is False
    assert body["dueDate"] == "9999-12-31T23:59:59+00:00"  # no due date: never expires
    # A company without campaigns: the Campaign menu stays hidden.
    off = account("off", use_campaigns=False)
    resp = client.simulate_get(f"/companies/listPlan/{off.company_id}", headers=off.headers)
    assert resp.json["plan"]["useCampaigns"] is False
    # Another company's plan is a 404, as if unknown; a super reads any.
    resp = client.simulate_get(f"/companies/listPlan/{off.company_id}", headers=acme.headers)
    assert_error(resp, 404, "ERR_NO_COMPANY_FOUND")
    resp = client.simulate_get("/companies/listPlan/999999", headers=acme.headers)
    assert_error(resp, 404, "ERR_NO_COMPANY_FOUND")
    resp = client.simulate_get(f"/companies/listPlan/{off.company_id}", headers=root.headers)
    assert resp.status_code == 200 and resp.json["id"] == off.company_id
    # A user profile reads its own company's plan too (the menu asks on every page).
    make_user(acme.company_id, "worker@acme.test", profile="user")
    worker = _login(client, "worker@acme.test").json["token"]
    resp = client.simulate_get(f"/companies/listPlan/{acme.company_id}", headers=_bearer(worker))
    assert resp.status_code == 200


def test_login_shows_a_due_date_the_frontend_accepts(client, config):
    due = datetime.datetime(2031, 5, 17, 12, 0, tzinfo=datetime.UTC)
    dated = make_company("dated", due_date=due)
    make_user(dated, "admin@dated.test")
    company = _login(client, "admin@dated.test").json["user"]["company"]
    assert company["dueDate"] == "2031-05-17T12:00:00+00:00"
    assert company["settings"] == [{"key": "campaignsEnabled", "value": "true", "companyId": dated}]
    undated = make_company("undated", use_campaigns=False)
    make_user(undated, "admin@undated.test")
    company = _login(client, "admin@undated.test").json["user"]["company"]
    assert company["dueDate"] == "9999-12-31T23:59:59+00:00"
    assert company["settings"][0]["value"] == "false"
    # zapx's own company route keeps the stored value: null means no due date.
    root = make_user(undated, "root@undated.test", super_=True)
    assert root
    token = _login(client, "root@undated.test").json["token"]
    resp = client.simulate_get(f"/companies/{undated}", headers=_bearer(token))
    assert resp.json["dueDate"] is None
