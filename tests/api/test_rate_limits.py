"""``GET``/``PUT /rate-limits``: the round trip, validation (a 400 naming the field, nothing
changed), roles (admins only), tenancy (``?companyId=`` for super only), the OpenAPI schemas,
and a PUT seen at once by the workers' cached read in this process."""

from __future__ import annotations

import pytest

from tests.api.contract import validate
from tests.api.helpers import assert_error, snapshot
from tests.conftest import login, make_user
from tests.zapx.test_rate_limits import BAD
from zapx.rate_limits import RateLimit, limits_for

WA = {"kind": "whatsapp", "limit": 60, "periodS": 60}
CONTACT = {"kind": "contact", "limit": 1, "periodS": 6}
CAMPAIGN = {"kind": "campaign", "limit": 500, "periodS": 3600}
GLOBAL = {"kind": "global", "limit": 2000, "periodS": 86400}


def _get(client, headers, company=None):
    query = f"?companyId={company}" if company is not None else ""
    return client.simulate_get(f"/rate-limits{query}", headers=headers)


def _put(client, headers, limits, company=None, *, raw=None):
    query = f"?companyId={company}" if company is not None else ""
    body = {"limits": limits} if raw is None else raw
    return client.simulate_put(f"/rate-limits{query}", json=body, headers=headers)


def _ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json


def test_none_set_means_no_limit_and_a_put_round_trips(client, alice, spec):
    schema = spec["paths"]["/rate-limits"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    empty = _ok(_get(client, alice.headers))
    assert empty == {"companyId": alice.company_id, "limits": []}
    validate(empty, schema, spec)
    answer = _ok(_put(client, alice.headers, [GLOBAL, CAMPAIGN, CONTACT, WA]))
    # Kinds come back in their fixed order, periods as numbers of seconds.
    assert answer == {
        "companyId": alice.company_id,
        "limits": [
            {**WA, "periodS": 60.0},
            {**CONTACT, "periodS": 6.0},
            {**CAMPAIGN, "periodS": 3600.0},
            {**GLOBAL, "periodS": 86400.0},
        ],
    }
    validate(answer, schema, spec)
    assert _ok(_get(client, alice.headers)) == answer
    # What the GET gave, sent back, changes nothing; a shorter list drops the others.
    assert _ok(_put(client, alice.headers, answer["limits"])) == answer
    assert _ok(_put(client, alice.headers, [{**WA, "periodS": 1.5}]))["limits"] == [
        {**WA, "periodS": 1.5}
    ]
    assert _ok(_put(client, alice.headers, []))["limits"] == []
    assert _ok(_get(client, alice.headers))["limits"] == []


@pytest.mark.parametrize(("body", "field", "words"), BAD)
def test_each_bad_put_is_a_400_naming_its_field_and_changes_nothing(
    client, alice, body, field, words
):
    _ok(_put(client, alice.headers, [WA, GLOBAL]))
    before = snapshot()
    resp = _put(client, alice.headers, None, raw=body)
    error = assert_error(resp, 400, "ERR_VALIDATION", field=field, contains=words)
    assert error["message"]
    assert snapshot() == before
    assert _ok(_get(client, alice.headers))["limits"] == [
        {**WA, "periodS": 60.0},
        {**GLOBAL, "periodS": 86400.0},
    ]


def test_a_body_that_is_not_json_is_refused(client, alice):
    before = snapshot()
    resp = client.simulate_put(
        "/rate-limits", body="limits=1", headers=alice.headers | {"Content-Type": "text/plain"}
    )
    assert_error(resp, 415)
    resp = client.simulate_put(
        "/rate-limits", body="{", headers=alice.headers | {"Content-Type": "application/json"}
    )
    assert_error(resp, 400)
    assert snapshot() == before


def test_a_user_profile_may_neither_read_nor_change_them(client, alice):
    _ok(_put(client, alice.headers, [WA]))
    make_user(alice.company_id, "member@alice.test", profile="user")
    member = login(client, "member@alice.test")
    before = snapshot()
    for resp in (_get(client, member), _put(client, member, []), _put(client, member, [GLOBAL])):
        assert_error(resp, 403, "ERR_NO_PERMISSION", contains=["administrators", "rate limits"])
    assert snapshot() == before


def test_a_company_admin_reaches_only_their_own_company(client, alice, bob):
    _ok(_put(client, alice.headers, [WA]))
    _ok(_put(client, bob.headers, [GLOBAL]))
    before = snapshot()
    # Bob sees his own, and alice's is a 404 whichever way he names it.
    assert _ok(_get(client, bob.headers))["limits"] == [{**GLOBAL, "periodS": 86400.0}]
    assert _ok(_get(client, bob.headers, bob.company_id))["companyId"] == bob.company_id
    assert_error(_get(client, bob.headers, alice.company_id), 404, "ERR_NO_COMPANY_FOUND")
    assert_error(_put(client, bob.headers, [], alice.company_id), 404, contains="not found")
    assert_error(_put(client, bob.headers, [CONTACT], alice.company_id), 404)
    assert snapshot() == before
    assert _ok(_get(client, alice.headers))["limits"] == [{**WA, "periodS": 60.0}]
    # Alice's own writes never touch bob's.
    _ok(_put(client, alice.headers, []))
    assert _ok(_get(client, bob.headers))["limits"] == [{**GLOBAL, "periodS": 86400.0}]


def test_a_platform_administrator_reaches_any_company(client, alice, bob, root):
    _ok(_put(client, alice.headers, [WA]))
    seen = _ok(_get(client, root.headers, alice.company_id))
    assert seen == {"companyId": alice.company_id, "limits": [{**WA, "periodS": 60.0}]}
    changed = _ok(_put(client, root.headers, [CONTACT], bob.company_id))
    assert changed == {"companyId": bob.company_id, "limits": [{**CONTACT, "periodS": 6.0}]}
    assert _ok(_get(client, bob.headers))["limits"] == [{**CONTACT, "periodS": 6.0}]
    assert _ok(_get(client, alice.headers))["limits"] == [{**WA, "periodS": 60.0}]
    # Without companyId: the super's own company.
    assert _ok(_get(client, root.headers)) == {"companyId": root.company_id, "limits": []}
    before = snapshot()
    assert_error(_get(client, root.headers, 99999), 404, "ERR_NO_COMPANY_FOUND", contains="99999")
    assert_error(_put(client, root.headers, [WA], 99999), 404)
    assert_error(_get(client, root.headers, "abc"), 400, field="companyId")
    assert snapshot() == before


def test_a_put_is_seen_at_once_by_the_cached_read_of_this_process(client, alice):
    assert limits_for(alice.company_id) == ()  # cached here (1 s) and in Redis
    _ok(_put(client, alice.headers, [WA, CONTACT]))
    assert limits_for(alice.company_id) == (
        RateLimit("whatsapp", 60, 60.0),
        RateLimit("contact", 1, 6.0),
    )
    _ok(_put(client, alice.headers, []))
    assert limits_for(alice.company_id) == ()


def test_the_openapi_documents_the_routes(spec):
    item = spec["paths"]["/rate-limits"]
    assert set(item) == {"get", "put"}
    body = item["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["limits"]
    entry = body["properties"]["limits"]["items"]
    assert entry["properties"]["kind"]["enum"] == ["whatsapp", "contact", "campaign", "global"]
    assert entry["properties"]["periodS"] == {"type": "number", "minimum": 1.0, "maximum": 86400.0}
    assert entry["required"] == ["kind", "limit", "periodS"]
    for method in ("get", "put"):
        ok = item[method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["required"] == ["companyId", "limits"]
        assert ok["properties"]["limits"]["items"]["required"] == ["kind", "limit", "periodS"]
        assert [p["name"] for p in item[method]["parameters"]] == ["companyId"]
