"""Bad input on every write route: a 4xx with the JSON error body and a message, nothing written.

"Nothing written" is checked on a snapshot of every row of every table, so an UPDATE that slipped
through (even of ``updated_at`` alone) fails as surely as an INSERT.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from tests.api.helpers import assert_error, phone, seed, snapshot
from tests.api.test_campaign_settings import as_dict
from tests.conftest import PASSWORD

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclasses.dataclass(frozen=True)
class Route:
    label: str
    method: str
    url: Callable[[dict], str]
    who: str | None  # "alice" (company admin), "root" (super) or None (public)
    valid: Callable[[dict], dict]
    text_field: str  # a required-on-create string field to mistype
    required: tuple[str, ...] = ()  # required fields (checked on POST only)


def _user_body(ctx):
    return {"name": "New User", "email": "new.user@example.test", "password": "a-long-password"}


def _item_body(ctx):
    return {"name": "New Item", "number": phone(), "contactListId": ctx["a"]["list"]["id"]}


WRITE_ROUTES = [
    Route(
        "login",
        "POST",
        lambda c: "/auth/login",
        None,
        lambda c: {"email": c["alice"].email, "password": PASSWORD},
        "email",
        ("email", "password"),
    ),
    Route(
        "companies-post",
        "POST",
        lambda c: "/companies",
        "root",
        lambda c: {"name": "New Co"},
        "name",
        ("name",),
    ),
    Route(
        "companies-put",
        "PUT",
        lambda c: f"/companies/{c['alice'].company_id}",
        "root",
        lambda c: {"name": "Renamed Co"},
        "name",
    ),
    Route(
        "companies-users-post",
        "POST",
        lambda c: f"/companies/{c['alice'].company_id}/users",
        "root",
        _user_body,
        "name",
        ("name", "email", "password"),
    ),
    Route(
        "users-post",
        "POST",
        lambda c: "/users",
        "alice",
        _user_body,
        "name",
        ("name", "email", "password"),
    ),
    Route(
        "users-put",
        "PUT",
        lambda c: f"/users/{c['a']['user']['id']}",
        "alice",
        lambda c: {"name": "Renamed"},
        "name",
    ),
    Route(
        "contacts-post",
        "POST",
        lambda c: "/contacts",
        "alice",
        lambda c: {"name": "New Contact", "number": phone()},
        "name",
        ("name", "number"),
    ),
    Route(
        "contacts-put",
        "PUT",
        lambda c: f"/contacts/{c['a']['contact']['id']}",
        "alice",
        lambda c: {"name": "Renamed"},
        "name",
    ),
    Route(
        "lists-post",
        "POST",
        lambda c: "/contact-lists",
        "alice",
        lambda c: {"name": "New List"},
        "name",
        ("name",),
    ),
    Route(
        "lists-put",
        "PUT",
        lambda c: f"/contact-lists/{c['a']['list']['id']}",
        "alice",
        lambda c: {"name": "Renamed"},
        "name",
    ),
    Route(
        "items-post",
        "POST",
        lambda c: "/contact-list-items",
        "alice",
        _item_body,
        "name",
        ("name", "number", "contactListId"),
    ),
    Route(
        "items-put",
        "PUT",
        lambda c: f"/contact-list-items/{c['a']['item']['id']}",
        "alice",
        lambda c: {"name": "Renamed"},
        "name",
    ),
    Route(
        "whatsapps-post",
        "POST",
        lambda c: "/whatsapps",
        "alice",
        lambda c: {"name": "New Connection"},
        "name",
        ("name",),
    ),
    Route(
        "whatsapps-put",
        "PUT",
        lambda c: f"/whatsapps/{c['a']['whatsapp']['id']}",
        "alice",
        lambda c: {"name": "Renamed"},
        "name",
    ),
    Route(
        "whatsapp-put",
        "PUT",
        lambda c: f"/whatsapp/{c['a']['whatsapp']['id']}",
        "alice",
        lambda c: {"name": "Renamed"},
        "name",
    ),
]


@pytest.fixture
def ctx(client, alice, root):
    return {"alice": alice, "root": root, "a": seed(client, alice, "alpha")}


def _headers(ctx, who, content_type=JSON) -> dict:
    headers = dict(ctx[who].headers) if who else {}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _send(client, ctx, route: Route, raw: str | bytes, content_type=JSON):
    return client.simulate_request(
        route.method, route.url(ctx), body=raw, headers=_headers(ctx, route.who, content_type)
    )


def _check_all(client, ctx, route: Route, cases) -> None:
    """Send every ``(label, raw body, status, content type, message part)``; all must fail."""
    problems = []
    for label, raw, status, content_type, contains in cases:
        before = snapshot()
        resp = _send(client, ctx, route, raw, content_type)
        try:
            assert_error(resp, status, contains=contains)
            assert snapshot() == before, "the database changed"
        except AssertionError as exc:
            problems.append(f"{label}: {exc}")
    assert not problems, "\n".join(problems)


def _generic_cases(route: Route, ctx, max_body: int) -> list:
    valid, name = route.valid(ctx), route.text_field

    def with_(value):
        return json.dumps(valid | {name: value})

    pad = max_body + 1 - len(json.dumps(valid | {"pad": ""}))
    oversized = json.dumps(valid | {"pad": "x" * pad})
    assert len(oversized.encode()) == max_body + 1
    cases = [
        # malformed and non-object JSON
        ("malformed JSON", '{"name": ', 400, JSON, None),
        ("trailing garbage", json.dumps(valid) + "}", 400, JSON, None),
        ("invalid UTF-8", b'{"name": "\xff\xfe"}', 400, JSON, None),
        ("empty body", "", 400, JSON, None),
        ("array", json.dumps([valid]), 400, JSON, None),
        ("empty array", "[]", 400, JSON, None),
        ("string", json.dumps("name"), 400, JSON, None),
        ("number", "42", 400, JSON, None),
        ("null", "null", 400, JSON, None),
        ("boolean", "true", 400, JSON, None),
        ("deep nesting", "[" * 100_000 + "]" * 100_000, 400, JSON, None),
        ("not JSON content type", json.dumps(valid), 415, "text/plain", None),
        # a form (curl -d without -H) or no Content-Type at all: not read as something else
        ("form-encoded", "name=Renamed", 415, FORM, "Content-Type: application/json"),
        ("JSON sent as a form", json.dumps(valid), 415, FORM, "Content-Type: application/json"),
        ("no Content-Type", json.dumps(valid), 415, None, "Content-Type: application/json"),
        ("no Content-Type, no body", "", 415, None, "Content-Type: application/json"),
        # wrong types, lengths and characters
        (f"{name} as list", with_(["x"]), 400, JSON, name),
        (f"{name} as object", with_({"x": 1}), 400, JSON, name),
        (f"{name} as true", with_(True), 400, JSON, name),
        (f"{name} as int", with_(5), 400, JSON, name),
        (f"{name} null", with_(None), 400, JSON, name),
        (f"{name} empty", with_(""), 400, JSON, name),
        (f"{name} blank", with_("   "), 400, JSON, name),
        (f"{name} 256 chars", with_("x" * 256), 400, JSON, "255"),
        (f"{name} with NUL", with_("a\x00b"), 400, JSON, "NUL"),
        (f"{name} with a lone surrogate", with_("a\ud800b"), 400, JSON, name),
        # too big: 413 before anything is parsed
        ("1 MiB + 1 byte", oversized, 413, JSON, str(max_body)),
    ]
    if route.method == "POST":
        cases.append(("empty object", "{}", 400, JSON, "required"))
        for field in route.required:
            body = {k: v for k, v in valid.items() if k != field}
            cases.append((f"without {field}", json.dumps(body), 400, JSON, f"{field} is required"))
    return cases


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=[r.label for r in WRITE_ROUTES])
def test_bad_bodies_are_4xx_and_write_nothing(client, ctx, route, config):
    assert config.max_body_bytes == 1024 * 1024
    _check_all(client, ctx, route, _generic_cases(route, ctx, config.max_body_bytes))
    # The control: the valid body, padded to exactly the limit, is accepted (unknown keys are
    # ignored), so each failure above came from the bad part.
    valid = route.valid(ctx)
    pad = config.max_body_bytes - len(json.dumps(valid | {"pad": ""}))
    resp = _send(client, ctx, route, json.dumps(valid | {"pad": "x" * pad}))
    assert resp.status_code in (200, 201), resp.text


# --- campaign settings: one JSON object holding the settings ----------------------------------

SETTINGS_ROUTE = Route(
    "campaign-settings",
    "POST",
    lambda c: "/campaign-settings",
    "alice",
    lambda c: {"settings": {"messageInterval": 3}},
    "messageInterval",
)


def test_campaign_settings_bad_bodies(client, ctx):
    def s(settings):
        return json.dumps({"settings": settings})

    cases = [
        ("malformed JSON", '{"settings": {', 400, JSON, None),
        ("empty body", "", 400, JSON, None),
        ("array", "[]", 400, JSON, "settings"),
        ("string", '"settings"', 400, JSON, "settings"),
        ("no settings", "{}", 400, JSON, "settings"),
        ("settings a list", json.dumps({"settings": [1]}), 400, JSON, "settings"),
        ("settings a string", json.dumps({"settings": "x"}), 400, JSON, "settings"),
        ("unknown key", s({"messageIntervall": 3}), 400, JSON, "messageIntervall"),
        ("interval as string", s({"messageInterval": "3"}), 400, JSON, "messageInterval"),
        ("interval as boolean", s({"messageInterval": True}), 400, JSON, "messageInterval"),
        ("interval as list", s({"messageInterval": [3]}), 400, JSON, "messageInterval"),
        ("interval null", s({"messageInterval": None}), 400, JSON, "messageInterval"),
        ("interval negative", s({"messageInterval": -1}), 400, JSON, "at least 0"),
        ("interval too big", s({"messageInterval": 3601}), 400, JSON, "at most 3600"),
        ("interval NaN", '{"settings": {"messageInterval": NaN}}', 400, JSON, None),
        ("interval Infinity", '{"settings": {"messageInterval": Infinity}}', 400, JSON, None),
        ("longerIntervalAfter float", s({"longerIntervalAfter": 1.5}), 400, JSON, "integer"),
        ("jitter above 1", s({"jitter": 2}), 400, JSON, "jitter"),
        ("variables an object", s({"variables": {"a": "b"}}), 400, JSON, "variables"),
        ("variable not an object", s({"variables": ["a"]}), 400, JSON, "variables[0]"),
        ("variable key a number", s({"variables": [{"key": 1, "value": ""}]}), 400, JSON, "key"),
        ("variable key missing", s({"variables": [{"value": "x"}]}), 400, JSON, "key"),
        ("variable key 65 chars", s({"variables": [{"key": "k" * 65}]}), 400, JSON, "64"),
        ("variable key NUL", s({"variables": [{"key": "a\x00"}]}), 400, JSON, "NUL"),
        (
            "duplicate variable",
            s({"variables": [{"key": "a"}, {"key": "a"}]}),
            400,
            JSON,
            "duplicate",
        ),
        ("variable value int", s({"variables": [{"key": "a", "value": 1}]}), 400, JSON, None),
        ("variable value NUL", s({"variables": [{"key": "a", "value": "\x00"}]}), 400, JSON, "NUL"),
        (
            "variable value surrogate",
            s({"variables": [{"key": "a", "value": "\ud800"}]}),
            400,
            JSON,
            "surrogate",
        ),
        (
            "a valid key with an invalid one",
            s({"messageInterval": 3, "jitter": "high"}),
            400,
            JSON,
            "jitter",
        ),
        ("oversized", json.dumps({"settings": {}, "pad": "x" * 1024 * 1024}), 413, JSON, None),
    ]
    _check_all(client, ctx, SETTINGS_ROUTE, cases)
    # The control: a valid body is saved.
    resp = _send(client, ctx, SETTINGS_ROUTE, s({"messageInterval": 3}))
    assert as_dict(resp)["messageInterval"] == 3


# --- route-specific field rules ----------------------------------------------------------------

INVALID_NUMBERS = [
    ("123", "not a valid phone number"),
    ("11 1234", "not a valid phone number"),
    ("+999 12345678", "not a valid phone number"),
    ("(00) 0000-0000", "not a valid phone number"),
    ("abc", "has no digits"),
    ("", "has no digits"),
    ("1" * 20, "too long"),
]


@pytest.mark.parametrize("label", ["contacts-post", "contacts-put", "items-post", "items-put"])
def test_invalid_phone_numbers(client, ctx, label):
    route = next(r for r in WRITE_ROUTES if r.label == label)
    valid = route.valid(ctx)
    cases = [
        (f"number {raw!r}", json.dumps(valid | {"number": raw}), 400, JSON, ["number", why])
        for raw, why in INVALID_NUMBERS
    ]
    cases += [
        ("number as int", json.dumps(valid | {"number": 11987654321}), 400, JSON, "string"),
        ("number as list", json.dumps(valid | {"number": ["1"]}), 400, JSON, "number"),
        ("number 41 chars", json.dumps(valid | {"number": "1" * 41}), 400, JSON, "40"),
    ]
    for _, raw, *_ in cases:
        assert json.loads(raw)  # every case is a well-formed object
    _check_all(client, ctx, route, cases)
    resp = _send(client, ctx, route, json.dumps(valid | {"number": "+1 415 555 2671"}))
    assert resp.status_code in (200, 201), resp.text
    assert resp.json["number"] == "14155552671"


@pytest.mark.parametrize("label", ["contacts-post", "contacts-put", "items-post", "items-put"])
def test_person_optional_fields(client, ctx, label):
    route = next(r for r in WRITE_ROUTES if r.label == label)
    valid = route.valid(ctx)

    def with_(**fields):
        return json.dumps(valid | fields)

    cases = [
        ("email invalid", with_(email="not-an-email"), 400, JSON, "email"),
        ("email as int", with_(email=5), 400, JSON, "email"),
        ("cargo 256", with_(cargo="x" * 256), 400, JSON, "cargo"),
        ("endereco NUL", with_(endereco="a\x00"), 400, JSON, "NUL"),
        ("extraInfo object", with_(extraInfo={"a": "b"}), 400, JSON, "extraInfo"),
        ("extraInfo of strings", with_(extraInfo=["a"]), 400, JSON, "extraInfo[0]"),
        ("extraInfo no name", with_(extraInfo=[{"value": "v"}]), 400, JSON, "name"),
        (
            "extraInfo duplicate",
            with_(extraInfo=[{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]),
            400,
            JSON,
            "duplicate",
        ),
        (
            "extraInfo value list",
            with_(extraInfo=[{"name": "a", "value": ["x"]}]),
            400,
            JSON,
            "value",
        ),
        ("extraInfo NUL name", with_(extraInfo=[{"name": "a\x00", "value": ""}]), 400, JSON, "NUL"),
        (
            "extraInfo NUL value",
            with_(extraInfo=[{"name": "a", "value": "b\x00"}]),
            400,
            JSON,
            "NUL",
        ),
        (
            "extraInfo surrogate",
            with_(extraInfo=[{"name": "a", "value": "\udfff"}]),
            400,
            JSON,
            "surrogate",
        ),
        (
            "extraInfo 51 entries",
            with_(extraInfo=[{"name": f"n{i}", "value": ""} for i in range(51)]),
            400,
            JSON,
            "50",
        ),
    ]
    if label.startswith("items"):
        cases.append(("isWhatsappValid string", with_(isWhatsappValid="yes"), 400, JSON, "bool"))
    _check_all(client, ctx, route, cases)


@pytest.mark.parametrize("label", ["items-post", "items-put"])
def test_item_contact_list_id(client, ctx, label):
    route = next(r for r in WRITE_ROUTES if r.label == label)
    valid = route.valid(ctx)
    # The list is id 1 (ids restart per test) so ``true`` (== 1 in Python) must not pass for it.
    assert ctx["a"]["list"]["id"] == 1
    bad = ["abc", "0", "-1", "99999999999", 0, -1, 1.5, True, [1], {"id": 1}, 2**31]
    cases = [
        (
            f"contactListId {v!r}",
            json.dumps(valid | {"contactListId": v}),
            400,
            JSON,
            "contactListId",
        )
        for v in bad
    ]
    cases.append(
        ("contactListId 999999", json.dumps(valid | {"contactListId": 999999}), 404, JSON, None)
    )
    _check_all(client, ctx, route, cases)


@pytest.mark.parametrize("label", ["users-post", "companies-users-post", "users-put"])
def test_user_fields(client, ctx, label):
    route = next(r for r in WRITE_ROUTES if r.label == label)
    valid = route.valid(ctx)

    def with_(**fields):
        return json.dumps(valid | fields)

    cases = [
        ("email without @", with_(email="nobody.example.test"), 400, JSON, "email"),
        ("email without domain dot", with_(email="a@b"), 400, JSON, "email"),
        ("email with space", with_(email="a b@c.de"), 400, JSON, "email"),
        ("password 7 chars", with_(password="1234567"), 400, JSON, "password"),
        ("password 73 bytes", with_(password="é" * 37), 400, JSON, "72 bytes"),
        ("password as int", with_(password=12345678), 400, JSON, "password"),
        ("profile root", with_(profile="root"), 400, JSON, "profile"),
        ("profile as bool", with_(profile=True), 400, JSON, "profile"),
    ]
    _check_all(client, ctx, route, cases)


@pytest.mark.parametrize("label", ["companies-post", "companies-put"])
def test_company_fields(client, ctx, label):
    route = next(r for r in WRITE_ROUTES if r.label == label)
    valid = route.valid(ctx)

    def with_(**fields):
        return json.dumps(valid | fields)

    cases = [
        ("maxUsers -1", with_(maxUsers=-1), 400, JSON, "maxUsers"),
        ("maxUsers string", with_(maxUsers="10"), 400, JSON, "maxUsers"),
        ("maxUsers bool", with_(maxUsers=True), 400, JSON, "maxUsers"),
        ("maxUsers float", with_(maxUsers=1.5), 400, JSON, "maxUsers"),
        ("maxUsers huge", with_(maxUsers=10**30), 400, JSON, "maxUsers"),
        ("maxConnections -1", with_(maxConnections=-1), 400, JSON, "maxConnections"),
        ("status string", with_(status="active"), 400, JSON, "status"),
        ("dueDate not a date", with_(dueDate="tomorrow"), 400, JSON, "dueDate"),
        ("dueDate as int", with_(dueDate=20250101), 400, JSON, "dueDate"),
        ("phone 33 chars", with_(phone="1" * 33), 400, JSON, "phone"),
    ]
    _check_all(client, ctx, route, cases)


@pytest.mark.parametrize("label", ["whatsapps-post", "whatsapps-put", "whatsapp-put"])
def test_connection_fields(client, ctx, label):
    route = next(r for r in WRITE_ROUTES if r.label == label)
    valid = route.valid(ctx)

    def with_(**fields):
        return json.dumps(valid | fields)

    cloud = {"phoneNumberId": "1", "accessToken": "t"}
    cases = [
        ("provider unknown", with_(provider="telegram"), 400, JSON, "provider"),
        ("status unknown", with_(status="ONLINE"), 400, JSON, "status"),
        ("isDefault string", with_(isDefault="true"), 400, JSON, "isDefault"),
        ("number 21 chars", with_(number="1" * 21), 400, JSON, "number"),
        ("settings a list", with_(settings=["x"]), 400, JSON, "settings"),
        ("settings a string", with_(settings="x"), 400, JSON, "settings"),
        (
            "settings unknown key",
            with_(provider="cloud", settings=cloud | {"accesToken": "x"}),
            400,
            JSON,
            "accesToken",
        ),
        (
            "sandbox unknown key",
            with_(provider="sandbox", settings={"instance": "x"}),
            400,
            JSON,
            "instance",
        ),
        (
            "evolution without apiKey",
            with_(provider="evolution", settings={"baseUrl": "https://e.test", "instance": "i"}),
            400,
            JSON,
            "apiKey",
        ),
        (
            "baseUrl not http",
            with_(provider="cloud", settings=cloud | {"baseUrl": "ftp://x.test"}),
            400,
            JSON,
            "baseUrl",
        ),
        (
            "dailyLimit not a tier",
            with_(provider="cloud", settings=cloud | {"dailyLimit": 7}),
            400,
            JSON,
            "dailyLimit",
        ),
        (
            "messagesPerSecond 0",
            with_(provider="cloud", settings=cloud | {"messagesPerSecond": 0}),
            400,
            JSON,
            "messagesPerSecond",
        ),
        (
            "secret with NUL",
            with_(provider="cloud", settings=cloud | {"accessToken": "t\x00"}),
            400,
            JSON,
            "NUL",
        ),
        (
            "33 settings",
            with_(settings={f"k{i}": i for i in range(33)}),
            400,
            JSON,
            "settings",
        ),
    ]
    if route.method == "POST":  # a PUT keeps the stored secret (see test_whatsapps.py)
        cases.append(
            (
                "cloud without accessToken",
                with_(provider="cloud", settings={"phoneNumberId": "1"}),
                400,
                JSON,
                "accessToken",
            )
        )
    _check_all(client, ctx, route, cases)


# --- ids in paths ------------------------------------------------------------------------------

#: (URL template, who, methods with their valid bodies, the original's code for the 404)
ID_ROUTES = [
    ("/contacts/{}", "alice", {"PUT": {"name": "X", "number": "11987650000"}}, "CONTACT"),
    ("/contact-lists/{}", "alice", {"PUT": {"name": "X"}}, "CONTACTLIST"),
    ("/contact-list-items/{}", "alice", {"PUT": {"name": "X"}}, "CONTACTLISTITEM"),
    ("/whatsapps/{}", "alice", {"PUT": {"name": "X"}}, "WAPP"),
    ("/whatsapp/{}", "alice", {"PUT": {"name": "X"}}, "WAPP"),
    ("/users/{}", "alice", {"PUT": {"name": "X"}}, "USER"),
    ("/companies/{}", "root", {"PUT": {"name": "X"}}, "COMPANY"),
]
BAD_IDS = ["abc", "0", "-1", "99999999999", "2147483648", "1.5", "1e3", "%20", "²", "١"]


@pytest.mark.parametrize("template, who, bodies, kind", ID_ROUTES, ids=[r[0] for r in ID_ROUTES])
def test_unknown_and_malformed_ids(client, ctx, template, who, bodies, kind):
    headers = ctx[who].headers
    before = snapshot()
    for method in ("GET", "PUT", "DELETE"):
        body = bodies.get(method)
        resp = client.simulate_request(method, template.format(999999), headers=headers, json=body)
        assert_error(resp, 404, f"ERR_NO_{kind}_FOUND", contains="999999")
        for bad in BAD_IDS:
            url = template.format(bad)
            resp = client.simulate_request(method, url, headers=headers, json=body)
            assert_error(resp, 400, "ERR_VALIDATION", field="id", contains="positive integer")
    assert snapshot() == before


def test_company_users_post_with_bad_company_ids(client, ctx):
    before = snapshot()
    body = _user_body(ctx)
    resp = client.simulate_post("/companies/999999/users", json=body, headers=ctx["root"].headers)
    assert_error(resp, 404, "ERR_NO_COMPANY_FOUND", contains="999999")
    for bad in BAD_IDS:
        resp = client.simulate_post(
            f"/companies/{bad}/users", json=body, headers=ctx["root"].headers
        )
        assert_error(resp, 400, "ERR_VALIDATION", field="id")
    assert snapshot() == before


# --- query strings of list routes --------------------------------------------------------------

PAGED = [
    ("/contacts", "alice"),
    ("/contact-lists", "alice"),
    ("/contact-list-items", "alice"),
    ("/whatsapps", "alice"),
    ("/users", "alice"),
    ("/companies", "root"),
]


@pytest.mark.parametrize("url, who", PAGED, ids=[p[0] for p in PAGED])
def test_invalid_page_number_and_search(client, ctx, url, who):
    headers = ctx[who].headers
    for bad in ["0", "-1", "abc", "1.5", "100001", " 1", "²", "١"]:
        resp = client.simulate_get(url, params={"pageNumber": bad}, headers=headers)
        assert_error(resp, 400, "ERR_VALIDATION", field="pageNumber", contains="pageNumber")
    resp = client.simulate_get(url, params={"searchParam": "x" * 201}, headers=headers)
    assert_error(resp, 400, field="searchParam", contains="200")
    resp = client.simulate_get(url + "?searchParam=a%00b", headers=headers)
    assert_error(resp, 400, field="searchParam", contains="NUL")
    # Controls: the largest page number and a 200-character search are fine.
    ok = client.simulate_get(
        url, params={"pageNumber": "100000", "searchParam": "x" * 200}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    # The original's key: contacts and list items are "contacts", the rest "records".
    key = "contacts" if url in ("/contacts", "/contact-list-items") else "records"
    assert ok.json == {key: [], "count": 0, "hasMore": False}
