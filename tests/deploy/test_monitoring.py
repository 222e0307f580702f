"""deploy/prometheus/alerts.yml and deploy/grafana/zapx.json: promtool accepts the rules and
their unit tests pass; the rules are zapx's alert rules by name; every expression of both names
only zapx's metrics (BRIEF's shared names), and the dashboard shows each of them."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess

import pytest

from zapx.db.alert_models import RULES

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "zapx.json"

#: The metric names GET /metrics serves (the issue's shared list; histograms add the suffixes).
COUNTERS_AND_GAUGES = {
    "zapx_messages_total",
    "zapx_queue_depth",
    "zapx_queue_delayed",
    "zapx_queue_dead",
    "zapx_queue_oldest_age_seconds",
    "zapx_campaigns",
    "zapx_connections",
    "zapx_breakers",
    "zapx_breaker_open_seconds_max",
    "zapx_rate_limited_total",
    "zapx_cache_requests_total",
    "zapx_cache_invalidations_total",
    "zapx_process_resident_memory_bytes",
    "zapx_process_cpu_seconds_total",
    "zapx_processes",
    "zapx_redis_used_memory_bytes",
    "zapx_redis_maxmemory_bytes",
    "zapx_system_load1",
    "zapx_db_pool_connections",
    "zapx_dramatiq_messages_total",
    "zapx_alerts_open",
    "zapx_workers_alive",
}
HISTOGRAMS = {
    "zapx_send_latency_seconds",
    "zapx_batch_duration_seconds",
    "zapx_batch_step_seconds",
    "zapx_pacing_delay_seconds",
    "zapx_dramatiq_message_duration_seconds",
}
METRICS = COUNTERS_AND_GAUGES | HISTOGRAMS
SERIES = COUNTERS_AND_GAUGES | {f"{h}_{s}" for h in HISTOGRAMS for s in ("bucket", "sum", "count")}
_NAME = re.compile(r"\bzapx_[a-z0-9_]+")


def test_every_metric_named_here_is_defined_by_zapx():
    """The list above against the code that serves the page (prometheus_client adds a
    counter's ``_total``)."""
    sources = [*sorted((ROOT / "zapx" / "metrics").glob("*.py")), ROOT / "zapx/alerts/metrics.py"]
    defined = {n for p in sources for n in re.findall(r'"(zapx_[a-z0-9_]+)"', p.read_text())}
    assert {m.removesuffix("_total") for m in METRICS} <= defined


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: scripts/test installs it (ensure_promtool)"
    return found


def _rules_text() -> str:
    """alerts.yml without its comments (they name variables, not series)."""
    return "\n".join(line.split("#", 1)[0] for line in RULES_FILE.read_text().splitlines())


def _names(text: str) -> set[str]:
    return set(_NAME.findall(text))


def test_promtool_checks_the_rules_and_their_unit_tests():
    for argv in (
        [_promtool(), "check", "rules", str(RULES_FILE)],
        [_promtool(), "test", "rules", str(RULES_TEST)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout


def test_the_prometheus_rules_are_zapxs_rules():
    alerts = re.findall(r"^\s*- alert: (\w+)\s*$", RULES_FILE.read_text(), re.M)
    assert sorted(alerts) == sorted(RULES) and len(alerts) == len(set(alerts))
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text()))
    assert tested == set(RULES)  # every rule has a unit test


def test_the_rules_name_only_zapxs_metrics():
    used = _names(_rules_text())
    assert used and used <= SERIES, used - SERIES


def _metric(series: str) -> str:
    """The metric a series belongs to (a histogram's ``_bucket`` is the histogram's)."""
    return next((h for h in HISTOGRAMS if series.startswith(h + "_")), series)


def _exprs(panels: list) -> list[tuple[str, str]]:
    out = []
    for panel in panels:
        out += _exprs(panel.get("panels", []))
        out += [(panel["title"], t["expr"]) for t in panel.get("targets", [])]
    return out


def test_the_dashboard_shows_every_metric_and_names_no_other():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "zapx" and dashboard["uid"]
    exprs = _exprs(dashboard["panels"])
    assert len(exprs) >= len(METRICS)
    unknown = {(title, n) for title, e in exprs for n in _names(e) if n not in SERIES}
    assert unknown == set()
    shown = {_metric(n) for _, e in exprs for n in _names(e)}
    assert METRICS - shown == set()
    # Every panel has a unique id, a datasource and a grid position; every query a refId.
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert "gridPos" in panel, panel["title"]
        for target in panel.get("targets", []):
            assert target["refId"] and target["expr"].strip()


@pytest.mark.parametrize("broken", ["max by (kind) (zapx_breakers", "zapx_messages_total >"])
def test_promtool_refuses_a_broken_rule(tmp_path, broken):
    """Sanity: the check can fail."""
    bad = tmp_path / "bad.yml"
    bad.write_text(f"groups:\n  - name: x\n    rules:\n      - alert: x\n        expr: {broken}\n")
    done = subprocess.run([_promtool(), "check", "rules", str(bad)], capture_output=True)
    assert done.returncode != 0
