"""zapx.alerts' store: open once, touch while open, resolve, reopen as a new row; listing by
company; one log line per open and per resolve."""

from __future__ import annotations

import datetime
import logging
import threading

import pytest

from tests.conftest import make_company
from zapx import alerts
from zapx.alerts import Condition
from zapx.db import Alert, db


def _condition(company_id, subject="whatsapp:1", rule="breaker_open", value=1.0):
    return Condition(
        rule=rule,
        subject=subject,
        company_id=company_id,
        severity="critical",
        message=f"{subject} open",
        value=value,
        threshold=60.0,
    )


@pytest.fixture
def companies(clean_db):
    return make_company("a"), make_company("b")


def test_open_then_touch_then_resolve_then_reopen(companies, caplog):
    a, _ = companies
    caplog.set_level(logging.INFO, logger="zapx.alerts")
    t0 = datetime.datetime(2026, 12, 2, 20, 0, tzinfo=datetime.UTC)
    with db.connection_context():
        opened = alerts.raise_alert(_condition(a, "campaign:7", value=61), now=t0)
        assert opened is not None and opened.kind == "opened"
        for i in range(1, 3):
            touched = alerts.raise_alert(
                _condition(a, "campaign:7", value=61 + i), now=t0 + datetime.timedelta(seconds=i)
            )
            assert touched is None
        row = Alert.get_by_id(opened.alert_id)
        assert (row.status, row.occurrences, row.value) == ("open", 3, 63)
        assert row.opened_at == t0 and row.last_seen_at == t0 + datetime.timedelta(seconds=2)
        assert row.resolved_at is None

        resolved = alerts.resolve(a, "breaker_open", "campaign:7", now=t0 + datetime.timedelta(1))
        assert resolved is not None and resolved.alert_id == opened.alert_id
        assert alerts.resolve(a, "breaker_open", "campaign:7") is None  # nothing open any more
        again = alerts.raise_alert(_condition(a, "campaign:7"))
        assert again is not None and again.alert_id != opened.alert_id
        assert Alert.select().count() == 2
    lines = [(r.getMessage(), r.company_id, r.campaign_id, r.rule) for r in caplog.records]
    assert lines == [
        ("alert opened", a, 7, "breaker_open"),
        ("alert resolved", a, 7, "breaker_open"),
        ("alert opened", a, 7, "breaker_open"),
    ]


def test_system_and_company_alerts_are_separate_and_listed_by_scope(companies):
    a, b = companies
    with db.connection_context():
        for company in (a, b, None):
            assert alerts.raise_alert(_condition(company, "queue:delivery", "queue_stale"))
        alerts.raise_alert(_condition(a, "whatsapp:3"))
        alerts.resolve(a, "breaker_open", "whatsapp:3")
    mine = alerts.open_alerts(a)
    assert [(x["companyId"], x["subject"]) for x in mine] == [(a, "queue:delivery")]
    assert set(mine[0]) == {
        "id",
        "companyId",
        "rule",
        "subject",
        "severity",
        "status",
        "message",
        "value",
        "threshold",
        "openedAt",
        "lastSeenAt",
        "resolvedAt",
        "occurrences",
    }
    everyone = alerts.open_alerts(None)
    assert sorted((x["companyId"] or 0) for x in everyone) == sorted([0, a, b])
    assert all(x["status"] == "open" for x in everyone)
    datetime.datetime.fromisoformat(everyone[0]["openedAt"])  # ISO 8601


def test_resolve_cleared_keeps_what_still_holds(companies):
    a, b = companies
    with db.connection_context():
        for company, subject in ((a, "whatsapp:1"), (a, "whatsapp:2"), (b, "whatsapp:3")):
            alerts.raise_alert(_condition(company, subject))
        events = alerts.resolve_cleared("breaker_open", {(a, "breaker_open", "whatsapp:2")})
    assert sorted((e.company_id, e.subject) for e in events) == [
        (a, "whatsapp:1"),
        (b, "whatsapp:3"),
    ]
    assert [x["subject"] for x in alerts.open_alerts(None)] == ["whatsapp:2"]


def test_concurrent_raises_open_one_alert(companies):
    a, _ = companies
    barrier = threading.Barrier(8)
    results = []

    def run():
        with db.connection_context():
            barrier.wait(timeout=10)
            results.append(alerts.raise_alert(_condition(a)))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == 8 and sum(r is not None for r in results) == 1
    with db.connection_context():
        assert [(r.occurrences, r.status) for r in Alert.select()] == [(8, "open")]


@pytest.mark.parametrize(
    "fields",
    [{"rule": "cpu_hot"}, {"severity": "fatal"}, {"subject": ""}, {"subject": "x" * 129}],
)
def test_a_condition_refuses_unknown_names(fields):
    base = dict(rule="breaker_open", subject="s", company_id=None, severity="warning", message="")
    with pytest.raises(ValueError):
        Condition(**{**base, **fields})


def test_open_counts_by_rule_and_the_metric_family(companies):
    from zapx.alerts.metrics import open_alerts_metric

    a, b = companies
    with db.connection_context():
        for company, subject in ((a, "whatsapp:1"), (b, "whatsapp:1"), (None, "campaign:9")):
            alerts.raise_alert(_condition(company, subject))
        alerts.raise_alert(_condition(a, "queue:engine", "queue_stale"))
        alerts.resolve(a, "queue_stale", "queue:engine")
    counts = alerts.open_counts()
    assert counts["breaker_open"] == 3 and counts["queue_stale"] == 0
    assert set(counts) == set(alerts.RULES)
    (family,) = list(open_alerts_metric())
    samples = {s.labels["rule"]: s.value for s in family.samples}
    assert family.name == "zapx_alerts_open" and samples == counts
