"""``GET /breakers``: a company sees its own breakers only, a platform administrator every
company's (or one with ``?companyId=``), in the documented shape."""

from __future__ import annotations

import pytest

from tests.api.contract import validate
from tests.api.helpers import assert_error
from zapx.circuits import Circuits, Health, Thresholds, index_key
from zapx.redis import Keys, get_redis


@pytest.fixture
def circuits(config):
    client, keys = get_redis(config.redis_url), Keys(config.redis_prefix)
    yield Circuits(client, keys, Thresholds(min_calls=20, failure_rate=0.5))
    # Nothing left for a later test whose company or connection gets the same id.
    for key in client.scan_iter(match=keys.prefix + "{c*}:breaker*"):
        client.delete(key)


def _seed(circuits, company_id, whatsapp_id, campaign_id, failures):
    """Forget what an earlier test left for the company, then one batch's report."""
    circuits.redis.delete(index_key(circuits.keys, company_id))
    health = Health(calls=20, failures=failures, error="HTTP 503", sends=20, failed=failures)
    circuits.report(company_id, whatsapp_id, campaign_id, 1, 1, health)


def _get(client, headers, company=None):
    query = f"?companyId={company}" if company is not None else ""
    resp = client.simulate_get(f"/breakers{query}", headers=headers)
    return resp


def _ok(resp) -> list:
    assert resp.status_code == 200, resp.text
    return resp.json


def test_a_company_sees_its_own_breakers_only(client, alice, bob, circuits, spec):
    _seed(circuits, alice.company_id, 501, 601, failures=20)
    _seed(circuits, bob.company_id, 502, 602, failures=0)
    mine = _ok(_get(client, alice.headers))
    validate(
        mine,
        spec["paths"]["/breakers"]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ],
        spec,
    )
    assert [(b["name"], b["id"], b["companyId"], b["state"]) for b in mine] == [
        ("campaign", 601, alice.company_id, "closed"),
        ("whatsapp", 501, alice.company_id, "open"),
    ]
    wa = mine[1]
    assert (wa["calls"], wa["failures"], wa["failureRate"], wa["lastError"]) == (
        20,
        20,
        1.0,
        "HTTP 503",
    )
    assert wa["since"] is not None
    theirs = _ok(_get(client, bob.headers))
    assert {b["id"] for b in theirs} == {502, 602}
    assert_error(_get(client, bob.headers, alice.company_id), 404, "ERR_NO_COMPANY_FOUND")


def test_a_platform_administrator_sees_every_company(client, alice, bob, root, circuits):
    _seed(circuits, alice.company_id, 501, 601, failures=20)
    _seed(circuits, bob.company_id, 502, 602, failures=0)
    seen = {(b["companyId"], b["name"], b["id"]) for b in _ok(_get(client, root.headers))}
    assert {(alice.company_id, "whatsapp", 501), (bob.company_id, "campaign", 602)} <= seen
    one = _ok(_get(client, root.headers, bob.company_id))
    assert {b["id"] for b in one} == {502, 602}
    assert_error(_get(client, root.headers, "abc"), 400, field="companyId")
