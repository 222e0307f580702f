"""``/ops`` and ``/ops/state``: the page's shell is public, the state is for administrators, a
company administrator sees their company's figures only, a platform administrator every
company's, in the documented shape. The browser test is tests/actors/test_ops_page.py."""

from __future__ import annotations

import datetime

import pytest

from tests.api.contract import validate
from tests.api.helpers import assert_error
from tests.conftest import login, make_user
from zapx.alerts import Condition, raise_alert
from zapx.circuits import Circuits, Health, Thresholds, index_key
from zapx.db import Campaign, CampaignShipping, WhatsappConnection, db
from zapx.provider_errors import error_code
from zapx.redis import Keys, get_redis
from zapx.status import CampaignStatus, RowStatus


@pytest.fixture
def circuits(config):
    client, keys = get_redis(config.redis_url), Keys(config.redis_prefix)
    yield Circuits(client, keys, Thresholds(min_calls=20, failure_rate=0.5))
    for key in client.scan_iter(match=keys.prefix + "{c*}:breaker*"):
        client.delete(key)


def _seed(company_id: int, name: str, *, sent: int, errors: dict[str, int]) -> tuple[int, int]:
    """A connection and a running campaign of ``sent`` sent rows plus failed rows with the
    given error texts (text -> count); returns (connection id, campaign id)."""
    now = datetime.datetime.now(datetime.UTC)
    with db.connection_context(), db.atomic():
        wa = WhatsappConnection.create(
            company=company_id,
            name=f"{name}-wa",
            provider="sandbox",
            status="CONNECTED",
            settings={"messagesPerSecond": 5, "dailyLimit": 1000},
        )
        failed = sum(errors.values())
        campaign = Campaign.create(
            company=company_id,
            name=f"{name} campaign",
            status=CampaignStatus.EM_ANDAMENTO,
            whatsapp=wa.id,
            started_at=now - datetime.timedelta(minutes=5),
            total=sent + failed + 10,
        )
        # Every row with the same keys: insert_many takes its columns from the first.
        blank = {"error": None, "sent_at": None, "failed_at": None}
        rows = [
            blank | {"status": RowStatus.SENT, "sent_at": now - datetime.timedelta(seconds=30 - i)}
            for i in range(sent)
        ]
        for text, count in errors.items():
            rows += [blank | {"status": RowStatus.FAILED, "error": text, "failed_at": now}] * count
        rows += [blank | {"status": RowStatus.PENDING}] * 10
        n = 0
        CampaignShipping.insert_many(
            [
                {
                    "campaign": campaign.id,
                    "company_id": company_id,
                    "contact_id": (n := n + 1),
                    "number": f"5511900{n:06d}",
                    **r,
                }
                for r in rows
            ]
        ).execute()
    return wa.id, campaign.id


def _alert(company_id: int | None, rule: str, subject: str) -> None:
    with db.connection_context():
        raise_alert(Condition(rule, subject, company_id, "critical", f"{rule} on {subject}"))


def _state(client, headers, query: str = ""):
    return client.simulate_get(f"/ops/state{query}", headers=headers)


def _schema(spec) -> dict:
    return spec["paths"]["/ops/state"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]


def test_the_shell_is_public_html_with_its_script_and_style(client):
    page = client.simulate_get("/ops")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<meta name="viewport"' in page.text and 'src="/ops/ops.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = client.simulate_get("/ops/ops.js")
    assert script.status_code == 200 and "/ops/state" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    style = client.simulate_get("/ops/ops.css")
    assert style.status_code == 200 and "@media" in style.text


def test_the_state_needs_a_token_and_an_administrator(client, alice):
    assert_error(client.simulate_get("/ops/state"), 401, "ERR_SESSION_EXPIRED")
    make_user(alice.company_id, "member@alice.test", profile="user")
    member = login(client, "member@alice.test")
    assert_error(_state(client, member), 403, "ERR_NO_PERMISSION", contains="administrators")


def test_a_company_admin_sees_its_own_company_only(client, alice, bob, circuits, spec):
    a_wa, a_campaign = _seed(
        alice.company_id, "alice", sent=20, errors={"400 131026: Message undeliverable": 3}
    )
    b_wa, b_campaign = _seed(
        bob.company_id, "bob", sent=5, errors={"HTTP 503": 4, "400 131026: undeliverable": 2}
    )
    circuits.redis.delete(index_key(circuits.keys, bob.company_id))
    health = Health(calls=20, failures=20, error="HTTP 503", sends=20, failed=0)
    circuits.report(bob.company_id, b_wa, b_campaign, 0, 1, health)

    resp = _state(client, alice.headers)
    assert resp.status_code == 200, resp.text
    state = resp.json
    validate(state, _schema(spec), spec)
    assert (state["companyId"], state["allCompanies"]) == (alice.company_id, False)
    assert [c["id"] for c in state["connections"]] == [a_wa]
    assert [c["id"] for c in state["campaigns"]] == [a_campaign]
    campaign = state["campaigns"][0]
    assert (campaign["sent"], campaign["failed"], campaign["total"]) == (20, 3, 33)
    assert campaign["status"] == "EM_ANDAMENTO" and campaign["canControl"] is True
    assert campaign["ratePerMin"] > 0
    connection = state["connections"][0]
    assert connection["breaker"] == "closed"  # bob's open breaker is not alice's
    assert (connection["maxPerS"], connection["dailyCap"]) == (5, 1000)
    assert [(e["code"], e["count"]) for e in state["errors"]] == [("131026", 3)]
    # Nothing of bob's anywhere in alice's answer.
    text = resp.text
    assert "bob" not in text and "HTTP 503" not in text
    assert [q["name"] for q in state["queues"]][:3] == ["engine", "delivery_first", "delivery"]
    assert isinstance(state["workersAlive"], int)


def test_open_alerts_are_the_company_s_own_or_all_for_a_platform_admin(
    client, alice, bob, root, spec
):
    _alert(alice.company_id, "connection_down", "whatsapp:1")
    _alert(bob.company_id, "spam_rate_limit", "campaign:2")
    _alert(None, "redis_memory_high", "redis")
    mine = _state(client, alice.headers).json
    validate(mine, _schema(spec), spec)
    assert [(a["companyId"], a["rule"]) for a in mine["alerts"]] == [
        (alice.company_id, "connection_down")
    ]
    every = _state(client, root.headers).json
    validate(every, _schema(spec), spec)
    assert {(a["companyId"], a["rule"]) for a in every["alerts"]} == {
        (alice.company_id, "connection_down"),
        (bob.company_id, "spam_rate_limit"),
        (None, "redis_memory_high"),
    }


def test_a_company_admin_naming_another_company_gets_a_404(client, alice, bob):
    _seed(bob.company_id, "bob", sent=1, errors={})
    assert_error(_state(client, alice.headers, f"?companyId={bob.company_id}"), 404)
    assert_error(_state(client, alice.headers, "?companyId=abc"), 400, field="companyId")
    own = _state(client, alice.headers, f"?companyId={alice.company_id}")
    assert own.status_code == 200 and own.json["campaigns"] == []


def test_a_platform_admin_sees_every_company_or_one(client, alice, bob, root, circuits, spec):
    a_wa, a_campaign = _seed(alice.company_id, "alice", sent=3, errors={"HTTP 500": 1})
    b_wa, b_campaign = _seed(bob.company_id, "bob", sent=4, errors={"HTTP 503": 2})
    circuits.redis.delete(index_key(circuits.keys, bob.company_id))
    health = Health(calls=20, failures=20, error="HTTP 503", sends=20, failed=0)
    circuits.report(bob.company_id, b_wa, b_campaign, 0, 1, health)

    everything = _state(client, root.headers)
    assert everything.status_code == 200, everything.text
    state = everything.json
    validate(state, _schema(spec), spec)
    assert state["allCompanies"] is True and state["companyId"] is None
    assert {c["id"] for c in state["campaigns"]} == {a_campaign, b_campaign}
    by_id = {c["id"]: c for c in state["connections"]}
    assert by_id[b_wa]["breaker"] == "open" and by_id[b_wa]["breakerError"] == "HTTP 503"
    assert by_id[a_wa]["breaker"] == "closed"
    assert {(e["code"], e["count"]) for e in state["errors"]} == {("HTTP 503", 2), ("HTTP 500", 1)}
    # Pause and resume act in the caller's own company: the page offers them only there.
    assert not any(c["canControl"] for c in state["campaigns"])
    names = {c["companyName"] for c in state["campaigns"]}
    assert names == {"alice", "bob"}

    one = _state(client, root.headers, f"?companyId={bob.company_id}").json
    assert [c["id"] for c in one["campaigns"]] == [b_campaign]
    assert [(e["code"], e["count"]) for e in one["errors"]] == [("HTTP 503", 2)]


def test_a_paused_campaign_shows_its_reason_and_no_rate(client, alice):
    _, campaign_id = _seed(alice.company_id, "alice", sent=5, errors={})
    with db.connection_context():
        Campaign.update(status=CampaignStatus.PAUSADA, pause_reason="paused by a user").where(
            Campaign.id == campaign_id
        ).execute()
    campaign = _state(client, alice.headers).json["campaigns"][0]
    assert (campaign["status"], campaign["pauseReason"]) == ("PAUSADA", "paused by a user")
    assert (campaign["ratePerMin"], campaign["estimatedEndAt"]) == (0, None)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("400 131026: Message undeliverable", "131026"),
        ("gave up: 503 131000: Something went wrong", "131000"),
        ("HTTP 503", "HTTP 503"),
        ("gave up: HTTP 500: {'error': 'x'}", "HTTP 500"),
        ("no answer before the read timeout", "timeout"),
        ("connect failed: NewConnectionError", "connect failed"),
        ("worker lost mid-send; not resent (at most once)", "lost mid-send"),
        ("something else", "other"),
    ],
)
def test_error_codes_are_read_from_the_recorded_text(text, code):
    assert error_code(text) == code
