"""Every route of the route table (``api.app.routes``) under hostile input: never a 500.

The JSON routes are those whose OpenAPI operation (built from the same table) takes a JSON body;
each must refuse a form or a missing Content-Type with a 415, and answer every field set to a
wrong type, a huge number, a NUL, a 1 MB string... with a 4xx or a success, never a 500. A new
JSON route fails ``test_every_json_route_has_a_valid_body`` until it is given one here, so the
sweep covers it. Bad-input messages per field are tested in test_bad_input.py.
"""

from __future__ import annotations

import json

import pytest

from api import Deps, routes
from api.openapi import build
from tests.api.helpers import ERROR_KEYS, assert_error, phone, seed
from tests.conftest import PASSWORD
from zapx.redis import get_redis

JSON = "application/json"
#: Signed raw bytes, parsed by the webhook itself (tests/api/test_webhooks.py): not a body() route.
RAW_JSON_ROUTES = {("/webhooks/cloud", "post")}

#: (template, method) -> a valid body, from the seeded objects.
VALID = {
    ("/auth/login", "post"): lambda c: {"email": c["alice"].email, "password": PASSWORD},
    ("/companies", "post"): lambda c: {"name": "Fuzz Co"},
    ("/companies/{id}", "put"): lambda c: {"name": "Fuzz Co", "maxUsers": 5},
    ("/companies/{id}/users", "post"): lambda c: {
        "name": "Fuzz", "email": "fuzz@example.test", "password": "fuzz-password",
    },
    ("/users", "post"): lambda c: {
        "name": "Fuzz", "email": "fuzz2@example.test", "password": "fuzz-password",
    },
    ("/users/{id}", "put"): lambda c: {"name": "Fuzz", "email": "member-fuzz@example.test"},
    ("/contacts", "post"): lambda c: {
        "name": "Fuzz", "number": phone(), "extraInfo": [{"name": "a", "value": "b"}],
    },
    ("/contacts/{id}", "put"): lambda c: {"name": "Fuzz", "number": phone()},
    ("/contact-lists", "post"): lambda c: {"name": "Fuzz"},
    ("/contact-lists/{id}", "put"): lambda c: {"name": "Fuzz"},
    ("/contact-list-items", "post"): lambda c: {
        "name": "Fuzz", "number": phone(), "contactListId": c["a"]["list"]["id"],
    },
    ("/contact-list-items/{id}", "put"): lambda c: {"name": "Fuzz", "number": phone()},
    ("/campaign-settings", "post"): lambda c: {
        "settings": {"messageInterval": 3, "variables": [{"key": "a", "value": "b"}]},
    },
    ("/rate-limits", "put"): lambda c: {
        "limits": [{"kind": "whatsapp", "limit": 60, "periodS": 60}],
    },
    ("/alerts/webhook", "put"): lambda c: {"url": "http://127.0.0.1:9/hook"},
    ("/campaigns", "post"): lambda c: {
        "name": "Fuzz", "message1": "oi {nome}", "contactListId": c["a"]["list"]["id"],
        "whatsappId": c["a"]["whatsapp"]["id"], "scheduledAt": None,
    },
    ("/campaigns/{id}", "put"): lambda c: {"name": "Fuzz", "message1": "oi", "message2": None},
    ("/files", "post"): lambda c: {
        "name": "Fuzz files", "message": "oi", "options": [{"name": "a", "message": "b"}],
    },
    ("/files/{id}", "put"): lambda c: {
        "name": "Fuzz files 2", "message": "oi", "options": [{"name": "a", "message": "b"}],
    },
    ("/whatsapps", "post"): lambda c: {
        "name": "Fuzz", "provider": "cloud",
        "settings": {"phoneNumberId": "pn-fuzz", "accessToken": "t", "appSecret": "s"},
    },
    ("/whatsapps/{id}", "put"): lambda c: {"name": "Fuzz", "settings": {"accessToken": "t"}},
    ("/whatsapp", "post"): lambda c: {"name": "Fuzz", "provider": "beta", "queueIds": []},
    ("/whatsapp/{id}", "put"): lambda c: {"name": "Fuzz", "isDefault": False},
}  # fmt: skip

#: Values no field takes (or takes only some of): each replaces one field of a valid body.
HOSTILE = [
    [],
    [{}],
    {"a": {"b": [1]}},
    10**30,
    -(2**63) - 1,
    1e308,
    True,
    None,
    "a\x00b",
    "\ud800",
    "x" * 1_000_000,
]
#: Whole bodies of the wrong shape.
HOSTILE_BODIES = [b"[]", b"[{}]", b'"x"', b"1" * 5000, b"null", b"[" * 5000 + b"]" * 5000]


@pytest.fixture
def ctx(client, alice, root):
    company = client.simulate_post("/companies", json={"name": "Fuzz Target"}, headers=root.headers)
    seeded = seed(client, alice, "fuzz")
    campaign = client.simulate_post(
        "/campaigns", json={"name": "Target", "message1": "oi"}, headers=alice.headers
    )
    file_list = client.simulate_post(
        "/files", json={"name": "Target files", "message": "oi"}, headers=alice.headers
    )
    ids = {
        "companies": company.json["id"],
        "users": seeded["user"]["id"],
        "contacts": seeded["contact"]["id"],
        "contact-lists": seeded["list"]["id"],
        "contact-list-items": seeded["item"]["id"],
        "whatsapps": seeded["whatsapp"]["id"],
        "whatsapp": seeded["whatsapp"]["id"],
        "campaigns": campaign.json["id"],
        "files": file_list.json["id"],
    }
    return {"alice": alice, "root": root, "a": seeded, "ids": ids}


def _operations(config) -> dict[tuple[str, str], dict]:
    """(template, method) -> OpenAPI operation, for every documented responder."""
    spec = build(routes(Deps(config=config, redis=get_redis(config.redis_url))), "test")
    return {(path, m): op for path, item in spec["paths"].items() for m, op in item.items()}


def _json_routes(config) -> list[tuple[str, str]]:
    ops = _operations(config)
    return sorted(
        key
        for key, op in ops.items()
        if JSON in op.get("requestBody", {}).get("content", {}) and key not in RAW_JSON_ROUTES
    )


def _url(ctx, template: str) -> str:
    family = template.strip("/").split("/")[0]
    return template.replace("{id}", str(ctx["ids"].get(family, 1)))


def _headers(ctx, template: str, content_type: str | None = JSON) -> dict:
    if template == "/auth/login":
        headers = {}
    else:
        headers = dict(ctx["root" if template.startswith("/companies") else "alice"].headers)
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _assert_not_500(resp, label: str) -> None:
    assert resp.status_code < 500, f"{label}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400:
        assert set(resp.json) == ERROR_KEYS, f"{label}: {resp.text[:300]}"


def test_every_json_route_has_a_valid_body(config):
    found = _json_routes(config)
    assert len(found) >= 18  # not vacuous: the route table has these
    missing = [key for key in found if key not in VALID]
    assert not missing, f"add a valid body to VALID for {missing}"


def test_json_routes_refuse_forms_and_a_missing_content_type(client, ctx, config):
    for template, method in _json_routes(config):
        url, valid = _url(ctx, template), VALID[(template, method)](ctx)
        cases = [
            ("application/x-www-form-urlencoded", b"name=Fuzz&number=11987654321"),
            ("application/x-www-form-urlencoded", json.dumps(valid).encode()),
            (None, json.dumps(valid).encode()),
            (None, b""),
            ("multipart/form-data; boundary=zb", b"--zb--\r\n"),
            ("text/plain", json.dumps(valid).encode()),
        ]
        for content_type, raw in cases:
            headers = _headers(ctx, template, content_type)
            resp = client.simulate_request(method.upper(), url, body=raw, headers=headers)
            label = f"{method.upper()} {template} with {content_type}"
            body = assert_error(resp, 415, "ERR_UNSUPPORTED_MEDIA_TYPE")
            assert "Content-Type: application/json" in body["message"], label
        # The control: the same route with JSON is not refused for its Content-Type.
        resp = client.simulate_request(
            method.upper(), url, body=json.dumps(valid), headers=_headers(ctx, template)
        )
        assert resp.status_code != 415, f"{template}: {resp.text}"
        # A charset parameter is fine.
        resp = client.simulate_request(
            method.upper(), url, body=json.dumps(valid),
            headers=_headers(ctx, template, "application/json; charset=utf-8"),
        )  # fmt: skip
        assert resp.status_code != 415, f"{template}: {resp.text}"


def test_bodyless_commands_and_uploads_are_not_json_routes(client, ctx, config):
    campaign = ctx["ids"]["campaigns"]
    headers = ctx["alice"].headers  # no Content-Type, no body
    for command in ("pause", "resume", "cancel", "restart"):
        resp = client.simulate_post(f"/campaigns/{campaign}/{command}", headers=headers)
        assert_error(resp, 409)  # the campaign's state forbids it; the body is not asked for
    resp = client.simulate_post(
        "/contacts/upload",
        body=b'--zb\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
        b"nome;telefone\nAna;11987654321\n\r\n--zb--\r\n",
        headers=headers | {"Content-Type": "multipart/form-data; boundary=zb"},
    )
    assert resp.status_code == 201, resp.text


def test_hostile_values_in_every_field_of_every_json_route_are_never_a_500(client, ctx, config):
    problems, ops = [], _operations(config)
    for template, method in _json_routes(config):
        url, make = _url(ctx, template), VALID[(template, method)]
        schema = ops[(template, method)]["requestBody"]["content"][JSON]["schema"]
        fields = list(schema.get("properties", {}))
        valid = make(ctx)
        paths = [(f,) for f in dict.fromkeys(fields + list(valid))]
        # One level down too: the settings objects of connections and campaign settings.
        paths += [(k, sub) for k, v in valid.items() if isinstance(v, dict) for sub in v]
        for path in paths:
            for value in HOSTILE:
                body = make(ctx)
                target = body
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value
                raw = json.dumps(body)
                resp = client.simulate_request(
                    method.upper(), url, body=raw, headers=_headers(ctx, template)
                )
                try:
                    _assert_not_500(resp, f"{method.upper()} {template} {path}={str(value)[:30]}")
                except AssertionError as exc:
                    problems.append(str(exc))
        for raw in HOSTILE_BODIES:
            resp = client.simulate_request(
                method.upper(), url, body=raw, headers=_headers(ctx, template)
            )
            try:
                _assert_not_500(resp, f"{method.upper()} {template} body {raw[:20]!r}")
            except AssertionError as exc:
                problems.append(str(exc))
    assert not problems, "\n".join(problems)


#: Query values no parameter takes: raw strings, sent URL-encoded.
HOSTILE_QUERY = ["", "-1", "0", "9" * 5000, "1e999", "a%00b", "%ff%fe", "[]", "x" * 10_000, "１"]


def test_hostile_query_parameters_of_every_route_are_never_a_500(client, ctx, config):
    problems, routes_seen = [], set()
    for (template, method), op in _operations(config).items():
        params = [p["name"] for p in op["parameters"] if p["in"] == "query"]
        if method != "get" or not params or "{company}" in template:
            continue
        routes_seen.add(template)
        for name in params:
            for value in HOSTILE_QUERY:
                url = f"{_url(ctx, template)}?{name}={value}"
                headers = _headers(ctx, template, None)
                resp = client.simulate_get(url, headers=headers)
                try:
                    _assert_not_500(resp, f"GET {template}?{name}={value[:20]}")
                except AssertionError as exc:
                    problems.append(str(exc))
    assert len(routes_seen) >= 8, routes_seen  # the paged lists, items by list, the webhook check
    assert not problems, "\n".join(problems)
