"""``/whatsapps`` and the ``/whatsapp`` alias: providers, secrets, the default, plan limits."""

from __future__ import annotations

import dataclasses
import socket

import falcon.testing
import pytest

from api import Deps, create_app
from tests.api import frontend_calls
from tests.api.helpers import assert_error, counts, row, snapshot
from zapx.db import WhatsappConnection
from zapx.outbound import non_public_kind, resolve
from zapx.redis import get_redis

CLOUD = {
    "phoneNumberId": "1234567890",
    "accessToken": "EAAG-very-secret-access-token",
    "appSecret": "app-secret-value",
    "verifyToken": "verify-token-value",
}
SECRETS = ("EAAG-very-secret-access-token", "app-secret-value", "verify-token-value")


def _create(client, acct, name="Main", **fields):
    return client.simulate_post("/whatsapps", json={"name": name} | fields, headers=acct.headers)


def test_sandbox_connection_by_default(client, alice, config):
    resp = _create(client, alice)
    assert resp.status_code == 201, resp.text
    conn = resp.json
    assert conn["provider"] == "sandbox"
    assert conn["status"] == "CONNECTED"
    assert conn["isDefault"] is True  # the first connection is the default
    assert conn["settings"]["baseUrl"] == f"http://{config.sandbox_bind}"
    assert conn["secretsSet"] == ["accessToken"]
    assert "accessToken" not in conn["settings"]
    assert conn["companyId"] == alice.company_id


def test_secrets_are_never_returned(client, alice):
    resp = _create(client, alice, provider="cloud", settings=CLOUD, number="5511999990000")
    assert resp.status_code == 201, resp.text
    conn = resp.json
    assert conn["secretsSet"] == ["accessToken", "appSecret", "verifyToken"]
    assert conn["settings"] == {
        "phoneNumberId": "1234567890",
        "apiVersion": "v21.0",
        "baseUrl": "https://graph.facebook.com",
        "messagesPerSecond": 80,
    }
    stored = row(WhatsappConnection, conn["id"])["settings"]
    assert stored["accessToken"] == CLOUD["accessToken"]  # stored, just not shown
    h = alice.headers
    responses = {
        "create": resp,
        "page": client.simulate_get("/whatsapps", headers=h),
        "list": client.simulate_get("/whatsapps/list", headers=h),
        "alias list": client.simulate_get("/whatsapp", headers=h),
        "get": client.simulate_get(f"/whatsapps/{conn['id']}", headers=h),
        "alias get": client.simulate_get(f"/whatsapp/{conn['id']}", headers=h),
        "put": client.simulate_put(f"/whatsapps/{conn['id']}", json={"name": "Renamed"}, headers=h),
        "alias put": client.simulate_put(
            f"/whatsapp/{conn['id']}", json={"settings": {"apiVersion": "v22.0"}}, headers=h
        ),
    }
    for label, r in responses.items():
        assert r.status_code in (200, 201), (label, r.text)
        for secret in SECRETS:
            assert secret not in r.text, label
        for record in r.json.get("records", []) if isinstance(r.json, dict) else r.json:
            assert "accessToken" not in record["settings"], label
    assert responses["alias put"].json["secretsSet"] == ["accessToken", "appSecret", "verifyToken"]


def test_secrets_are_kept_when_a_put_omits_them(client, alice):
    conn = _create(client, alice, provider="cloud", settings=CLOUD).json
    url = f"/whatsapps/{conn['id']}"
    # Whaticket sends back what it got: settings without secrets, plus read-only keys.
    resp = client.simulate_put(
        url,
        json=conn | {"settings": conn["settings"] | {"wabaId": "waba-1"}},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    stored = row(WhatsappConnection, conn["id"])["settings"]
    assert {k: stored[k] for k in ("accessToken", "appSecret", "verifyToken")} == {
        k: CLOUD[k] for k in ("accessToken", "appSecret", "verifyToken")
    }
    assert stored["wabaId"] == "waba-1"
    # A new secret replaces the old one.
    resp = client.simulate_put(
        url, json={"settings": {"accessToken": "rotated-token"}}, headers=alice.headers
    )
    assert resp.status_code == 200
    assert "rotated-token" not in resp.text
    assert row(WhatsappConnection, conn["id"])["settings"]["accessToken"] == "rotated-token"


def test_changing_provider_does_not_carry_secrets_over(client, alice):
    conn = _create(client, alice, provider="cloud", settings=CLOUD).json
    url = f"/whatsapps/{conn['id']}"
    before = snapshot()
    resp = client.simulate_put(url, json={"provider": "evolution"}, headers=alice.headers)
    assert_error(resp, 400, "ERR_VALIDATION", field="settings")
    assert snapshot() == before
    resp = client.simulate_put(
        url,
        json={
            "provider": "evolution",
            "settings": {"baseUrl": "https://evo.test/", "instance": "i1", "apiKey": "evo-key"},
        },
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json["secretsSet"] == ["apiKey"]
    assert resp.json["settings"]["baseUrl"] == "https://evo.test"
    stored = row(WhatsappConnection, conn["id"])["settings"]
    assert "accessToken" not in stored and stored["apiKey"] == "evo-key"


def test_unknown_provider_settings_are_400(client, alice):
    before = snapshot()
    resp = _create(client, alice, provider="cloud", settings=CLOUD | {"token": "x", "foo": 1})
    body = assert_error(resp, 400, "ERR_VALIDATION", field="settings")
    assert "foo, token" in body["message"] and "cloud" in body["message"]
    assert snapshot() == before


def test_only_one_default(client, alice):
    first = _create(client, alice, "First").json
    second = _create(client, alice, "Second").json
    assert (first["isDefault"], second["isDefault"]) == (True, False)
    third = _create(client, alice, "Third", isDefault=True).json
    assert third["isDefault"] is True
    h = alice.headers
    defaults = [
        w["name"] for w in client.simulate_get("/whatsapp", headers=h).json if w["isDefault"]
    ]
    assert defaults == ["Third"]
    resp = client.simulate_put(f"/whatsapps/{first['id']}", json={"isDefault": True}, headers=h)
    assert resp.status_code == 200
    defaults = [
        w["name"] for w in client.simulate_get("/whatsapp", headers=h).json if w["isDefault"]
    ]
    assert defaults == ["First"]


def test_duplicate_name_is_409(client, alice, bob):
    assert _create(client, alice, "Main").status_code == 201
    other = _create(client, alice, "Other").json
    before = snapshot()
    assert_error(_create(client, alice, "Main"), 409, "ERR_CONFLICT", field="name")
    resp = client.simulate_put(
        f"/whatsapps/{other['id']}", json={"name": "Main"}, headers=alice.headers
    )
    assert_error(resp, 409, "ERR_CONFLICT", field="name")
    assert snapshot() == before
    assert _create(client, bob, "Main").status_code == 201


def test_pages_and_search(client, account):
    acct = account("many", max_connections=30)
    for i in range(21):
        assert _create(client, acct, f"Conexão {i:02d}").status_code == 201
    h = acct.headers
    page1 = client.simulate_get("/whatsapps", headers=h).json
    assert (len(page1["records"]), page1["count"], page1["hasMore"]) == (20, 21, True)
    page2 = client.simulate_get("/whatsapps", params={"pageNumber": 2}, headers=h).json
    assert (len(page2["records"]), page2["count"], page2["hasMore"]) == (1, 21, False)
    found = client.simulate_get("/whatsapps", params={"searchParam": "conexão 1"}, headers=h).json
    assert found["count"] == 10
    # Accents and case do not matter, either way round.
    for term, count in (("CONEXAO 2", 1), ("conexão 0", 10), ("Conexao", 21)):
        found = client.simulate_get("/whatsapps", params={"searchParam": term}, headers=h).json
        assert found["count"] == count, term
    assert len(client.simulate_get("/whatsapps/list", headers=h).json) == 21


@pytest.mark.parametrize("limit", [0, 2])
def test_max_connections_reached_is_400_plan_limit(client, account, limit):
    acct = account("small", max_connections=limit)
    for i in range(limit):
        assert _create(client, acct, f"W{i}").status_code == 201
    before = counts()
    resp = _create(client, acct, "One too many")
    body = assert_error(resp, 400, "ERR_PLAN_LIMIT")
    assert body["message"] == (f"the plan allows {limit} connections and the company has {limit}")
    assert counts() == before


def test_delete_connection(client, alice):
    conn = _create(client, alice).json
    assert (
        client.simulate_delete(f"/whatsapp/{conn['id']}", headers=alice.headers).status_code == 204
    )
    assert row(WhatsappConnection, conn["id"]) is None
    assert_error(
        client.simulate_get(f"/whatsapps/{conn['id']}", headers=alice.headers),
        404,
        "ERR_NO_WAPP_FOUND",
    )


# --- where a connection may send (no server-side request forgery) -----------------------------


def _client_with(config, allowed: str) -> falcon.testing.TestClient:
    """The API with ``CONNECTION_ALLOWED_HOSTS=allowed`` ("" is the production default)."""
    changed = dataclasses.replace(config, connection_allowed_hosts=allowed)
    return falcon.testing.TestClient(create_app(Deps(changed, get_redis(changed.redis_url))))


# The three, then IPv6, numeric, userinfo and name forms of the same places.
REFUSED_URLS = [
    "http://169.254.169.254",
    "https://169.254.169.254/latest/meta-data",
    "http://127.0.0.1:6379",
    "https://127.0.0.1:6379",
    "http://localhost:5432",
    "https://localhost:5432",
    "https://localhost.:5432",
    "https://db.localhost:5432",
    "https://[::1]:6379",
    "https://[fe80::1]",
    "https://[::ffff:127.0.0.1]:6379",
    "https://[::ffff:169.254.169.254]",
    "http://2130706433/",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "https://0x7f000001/",
    "https://127.1:6379",
    "https://public.example@127.0.0.1:6379",
    "https://public.example:x@169.254.169.254/",
    "https://10.0.0.5",
    "https://192.168.1.1:8080",
    "https://0.0.0.0:6379",
    "http://graph.facebook.com",  # public, but not https
]


@pytest.mark.parametrize("provider", ["cloud", "evolution", "sandbox"])
def test_a_base_url_to_a_private_address_is_400(config, client, alice, provider):
    strict = _client_with(config, "")
    settings = {
        "cloud": {"phoneNumberId": "55", "accessToken": "t"},
        "evolution": {"instance": "i", "apiKey": "k"},
        "sandbox": {},
    }[provider]
    before = snapshot()
    for i, url in enumerate(REFUSED_URLS):
        resp = strict.simulate_post(
            "/whatsapps",
            json={"name": f"c{i}", "provider": provider, "settings": settings | {"baseUrl": url}},
            headers=alice.headers,
        )
        assert_error(resp, 400, "ERR_VALIDATION", field="settings", contains="baseUrl")
    assert snapshot() == before
    # An update may not point an existing connection there either.
    ok = {"baseUrl": "https://gateway.example"} if provider != "sandbox" else {}
    made = strict.simulate_post(
        "/whatsapps",
        json={"name": "ok", "provider": provider, "settings": settings | ok},
        headers=alice.headers,
    )
    assert made.status_code == 201, made.text
    before = snapshot()
    for url in REFUSED_URLS[:3]:
        resp = strict.simulate_put(
            f"/whatsapps/{made.json['id']}",
            json={"settings": {"baseUrl": url}},
            headers=alice.headers,
        )
        assert_error(resp, 400, "ERR_VALIDATION", field="settings", contains="baseUrl")
    assert snapshot() == before


def test_a_host_name_that_resolves_to_a_private_address_is_400(config, client, alice):
    """This machine's own name resolves to itself (loopback or a private address)."""
    name = socket.gethostname()
    assert resolve(name, 443) and all(non_public_kind(a) for a in resolve(name, 443)), name
    resp = _client_with(config, "").simulate_post(
        "/whatsapps",
        json={
            "name": "own",
            "provider": "evolution",
            "settings": {"baseUrl": f"https://{name}:8080", "instance": "i", "apiKey": "k"},
        },
        headers=alice.headers,
    )
    assert_error(resp, 400, "ERR_VALIDATION", field="settings", contains="resolves to")


def test_public_https_and_the_sandbox_are_accepted(config, client, alice):
    strict = _client_with(config, "")
    for i, (provider, settings) in enumerate(
        [
            ("cloud", {"phoneNumberId": "56", "accessToken": "t"}),  # graph.facebook.com
            ("cloud", {"phoneNumberId": "57", "accessToken": "t", "baseUrl": "https://8.8.8.8"}),
            (
                "evolution",
                {"baseUrl": "https://[2001:4860:4860::8888]:8443", "instance": "i", "apiKey": "k"},
            ),
            ("sandbox", {}),  # http://SANDBOX_BIND
            ("sandbox", {"baseUrl": f"http://{config.sandbox_bind}/"}),
        ]
    ):
        resp = strict.simulate_post(
            "/whatsapps",
            json={"name": f"c{i}", "provider": provider, "settings": settings},
            headers=alice.headers,
        )
        assert resp.status_code == 201, resp.text
    # The sandbox's address is the sandbox's: a cloud connection may not use it.
    resp = strict.simulate_post(
        "/whatsapps",
        json={
            "name": "cloud at the sandbox",
            "provider": "cloud",
            "settings": {
                "phoneNumberId": "58",
                "accessToken": "t",
                "baseUrl": f"http://{config.sandbox_bind}",
            },
        },
        headers=alice.headers,
    )
    assert_error(resp, 400, "ERR_VALIDATION", field="settings", contains="baseUrl")


def test_connection_allowed_hosts_opens_exactly_what_it_names(config, client, alice):
    allowing = _client_with(config, "127.0.0.1:6380, 10.0.0.0/8, gw.internal")
    cases = [
        ("http://127.0.0.1:6380", 201),
        ("http://127.0.0.1:6379", 400),  # another port of the same host
        ("http://10.1.2.3:8080", 201),
        ("https://10.255.0.1", 201),
        ("http://192.168.0.1", 400),
        ("http://gw.internal:8080", 201),
        ("http://other.internal:8080", 400),  # does not resolve: https required
        ("http://169.254.169.254", 400),
    ]
    for i, (url, status) in enumerate(cases):
        resp = allowing.simulate_post(
            "/whatsapps",
            json={
                "name": f"evo{i}",
                "provider": "evolution",
                "settings": {"baseUrl": url, "instance": "i", "apiKey": "k"},
            },
            headers=alice.headers,
        )
        assert resp.status_code == status, (url, resp.text)


# --- the frontend's connection form (POST /whatsapp) ------------------------------------------

FORM = frontend_calls.WHATSAPP_FORM | {"greetingMessage": "Olá!"}


def test_the_connection_form_makes_a_sandbox_connection(client, account, config):
    alice = account("formco", max_connections=10)
    for provider in ("beta", "stable", "", None):
        body = FORM | {"name": f"Zap {provider}", "provider": provider}
        resp = client.simulate_post("/whatsapp", json=body, headers=alice.headers)
        assert resp.status_code == 201, resp.text
        conn = resp.json
        assert (conn["provider"], conn["status"]) == ("sandbox", "CONNECTED")
        assert conn["settings"]["baseUrl"] == f"http://{config.sandbox_bind}"
        # The keys the connections page reads; the ticket fields are not stored.
        assert (conn["type"], conn["qrcode"], conn["retries"], conn["queues"]) == (None, "", 0, [])
        assert conn["greetingMessage"] == ""
    # zapx's own provider and settings through the same path are zapx's rules.
    body = FORM | {"name": "Cloud", "provider": "cloud", "settings": CLOUD}
    resp = client.simulate_post("/whatsapp", json=body, headers=alice.headers)
    assert resp.status_code == 201 and resp.json["provider"] == "cloud"
    # A form that also sends settings with an unknown provider cannot reach a host: dropped.
    body = FORM | {"name": "Sneaky", "settings": {"baseUrl": "http://169.254.169.254"}}
    resp = client.simulate_post("/whatsapp", json=body, headers=alice.headers)
    assert resp.status_code == 201
    assert resp.json["settings"]["baseUrl"] == f"http://{config.sandbox_bind}"
    # The edit goes through zapx's rules: an unknown provider is a 400 there.
    url = f"/whatsapp/{resp.json['id']}"
    before = snapshot()
    assert_error(client.simulate_put(url, json=FORM, headers=alice.headers), 400, field="provider")
    assert snapshot() == before


def test_in_production_the_form_makes_a_disconnected_placeholder(config, account):
    prod = dataclasses.replace(config, env="production")  # the same secret: the token works
    client = falcon.testing.TestClient(
        create_app(Deps(config=prod, redis=get_redis(prod.redis_url)))
    )
    acct = account("prod")
    resp = client.simulate_post("/whatsapp", json=FORM, headers=acct.headers)
    assert resp.status_code == 201, resp.text
    assert (resp.json["provider"], resp.json["status"]) == ("sandbox", "DISCONNECTED")
    # An administrator then gives it its provider (and it may go CONNECTED).
    resp = client.simulate_put(
        f"/whatsapps/{resp.json['id']}",
        json={"provider": "cloud", "settings": CLOUD, "status": "CONNECTED"},
        headers=acct.headers,
    )
    assert resp.status_code == 200, resp.text
    assert (resp.json["provider"], resp.json["status"]) == ("cloud", "CONNECTED")
