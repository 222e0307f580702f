"""``GET /alerts`` and ``/alerts/webhook``: a company admin sees its own company's alerts only,
a super admin also the system's and every company's; status filter and pages; the webhook's URL
passes the SSRF guard and its secret is a Standard Webhooks ``whsec_``."""

from __future__ import annotations

import base64
import dataclasses
import subprocess

import falcon.testing
import pytest

from api import Deps, create_app
from tests.api.contract import validate
from tests.api.helpers import assert_error
from tests.conftest import make_company
from zapx import alerts
from zapx.alerts import Condition
from zapx.db import db
from zapx.redis import get_redis


def _raise(company_id, subject, rule="breaker_open"):
    with db.connection_context():
        return alerts.raise_alert(
            Condition(rule, subject, company_id, "warning", f"{subject} is bad", 1.0, 0.5)
        )


def _schema(spec, path, method="get"):
    return spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]


def _get(client, acct, query=""):
    resp = client.simulate_get(f"/alerts{query}", headers=acct.headers)
    assert resp.status_code == 200, resp.text
    return resp.json


def test_a_company_sees_its_own_alerts_and_super_also_the_systems(client, alice, bob, root, spec):
    _raise(alice.company_id, "whatsapp:1")
    _raise(bob.company_id, "whatsapp:2")
    _raise(None, "queue:delivery", "queue_stale")
    mine = _get(client, alice)
    validate(mine, _schema(spec, "/alerts"), spec)
    assert [(a["companyId"], a["subject"]) for a in mine["records"]] == [
        (alice.company_id, "whatsapp:1")
    ]
    assert mine["count"] == 1 and mine["hasMore"] is False
    theirs = _get(client, bob)
    assert [a["companyId"] for a in theirs["records"]] == [bob.company_id]
    # Another company named explicitly is a 404 for a company admin, never its alerts.
    resp = client.simulate_get(f"/alerts?companyId={bob.company_id}", headers=alice.headers)
    assert_error(resp, 404)
    everything = _get(client, root)
    assert sorted((a["companyId"] or 0) for a in everything["records"]) == sorted(
        [0, alice.company_id, bob.company_id]
    )
    one = _get(client, root, f"?companyId={bob.company_id}")
    assert [a["companyId"] for a in one["records"]] == [bob.company_id]


def test_status_filter_and_pages(client, alice):
    for i in range(25):
        _raise(alice.company_id, f"campaign:{i}", "campaign_error_rate")
    with db.connection_context():
        for i in range(3):
            alerts.resolve(alice.company_id, "campaign_error_rate", f"campaign:{i}")
    first = _get(client, alice, "?status=open")
    assert first["count"] == 22 and first["hasMore"] is True and len(first["records"]) == 20
    ids = [a["id"] for a in first["records"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    second = _get(client, alice, "?status=open&pageNumber=2")
    assert len(second["records"]) == 2 and second["hasMore"] is False
    assert not {a["id"] for a in second["records"]} & set(ids)
    resolved = _get(client, alice, "?status=resolved")
    assert resolved["count"] == 3
    assert all(a["status"] == "resolved" and a["resolvedAt"] for a in resolved["records"])
    assert _get(client, alice)["count"] == 25
    assert_error(
        client.simulate_get("/alerts?status=closed", headers=alice.headers),
        400,
        field="status",
        contains="open, resolved",
    )
    assert_error(client.simulate_get("/alerts?pageNumber=0", headers=alice.headers), 400)


def test_a_user_profile_may_not_read_alerts(client, account):
    user = account("staff", profile="user")
    for method, path in (("GET", "/alerts"), ("GET", "/alerts/webhook")):
        resp = client.simulate_request(method, path, headers=user.headers)
        assert_error(resp, 403)


def test_the_webhook_is_set_read_rotated_and_deleted(client, alice, bob, spec):
    assert_error(client.simulate_get("/alerts/webhook", headers=alice.headers), 404)
    resp = client.simulate_put(
        "/alerts/webhook", json={"url": "http://127.0.0.1:9/hook"}, headers=alice.headers
    )
    assert resp.status_code == 200, resp.text
    validate(resp.json, _schema(spec, "/alerts/webhook", "put"), spec)
    secret = resp.json["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    got = client.simulate_get("/alerts/webhook", headers=alice.headers).json
    assert got["url"] == "http://127.0.0.1:9/hook" and got["secret"] == secret
    # Another company has none; its admin never sees this one.
    assert_error(client.simulate_get("/alerts/webhook", headers=bob.headers), 404)
    moved = client.simulate_put(
        "/alerts/webhook", json={"url": "http://127.0.0.1:10/hook"}, headers=alice.headers
    ).json
    assert moved["url"].endswith(":10/hook") and moved["secret"] == secret  # kept
    rotated = client.simulate_put(
        "/alerts/webhook",
        json={"url": "http://127.0.0.1:10/hook", "rotateSecret": True},
        headers=alice.headers,
    ).json
    assert rotated["secret"] != secret and rotated["secret"].startswith("whsec_")
    assert client.simulate_delete("/alerts/webhook", headers=alice.headers).status_code == 204
    assert_error(client.simulate_delete("/alerts/webhook", headers=alice.headers), 404)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://10.0.0.5/hook", "not public"),
        ("https://169.254.169.254/latest", "not public"),
        ("https://localhost/hook", "loopback"),
        ("ftp://example.com/hook", "http(s)"),
        ("https://user:pw@example.com/hook", "password"),
        ("", "url"),
    ],
)
def test_the_webhook_url_must_pass_the_ssrf_guard(client, alice, url, says):
    resp = client.simulate_put("/alerts/webhook", json={"url": url}, headers=alice.headers)
    body = assert_error(resp, 400, field="url", contains=says)
    assert "baseUrl" not in body["message"]


def test_a_bad_webhook_body_is_a_400(client, alice):
    for payload in ([], {"url": 5}, {"url": "https://example.com/h", "rotateSecret": "yes"}):
        resp = client.simulate_put("/alerts/webhook", json=payload, headers=alice.headers)
        assert_error(resp, 400)


def test_the_open_alerts_are_on_the_metrics_page(config, clean_db):
    """``zapx_alerts_open{rule}``: every rule, the open ones counted over every company and
    the system, its source up; promtool has nothing to say of it."""
    token = "m" * 40
    cfg = dataclasses.replace(config, metrics_token=token)
    client = falcon.testing.TestClient(create_app(Deps(config=cfg, redis=get_redis(cfg.redis_url))))
    a, b = make_company("a"), make_company("b")
    for company, subject in ((a, "whatsapp:1"), (b, "whatsapp:2"), (None, "campaign:3")):
        _raise(company, subject)
    _raise(a, "queue:x", "queue_stale")
    with db.connection_context():
        alerts.resolve(a, "queue_stale", "queue:x")
    page = client.simulate_get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200, page.text
    lines = set(page.text.splitlines())
    assert 'zapx_alerts_open{rule="breaker_open"} 3.0' in lines
    assert 'zapx_alerts_open{rule="queue_stale"} 0.0' in lines
    assert sum(line.startswith("zapx_alerts_open{") for line in lines) == len(alerts.RULES)
    assert 'zapx_scrape_source_up{source="alerts"} 1.0' in lines
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=page.text, capture_output=True, text=True
    )
    assert "zapx_alerts_open" not in checked.stdout + checked.stderr
