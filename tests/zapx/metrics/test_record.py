"""``zapx.metrics`` helpers on this process's default registry: the labels they choose, and that
what they record is what the page shows."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from zapx import metrics
from zapx.metrics import _record
from zapx.providers.cloud import error_code
from zapx.status import RowStatus


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_error_codes_are_a_small_set(monkeypatch):
    monkeypatch.setattr(_record, "_codes", set())  # this test's own, left as it was after
    assert metrics.code_label(None) == ""
    assert metrics.code_label("131026") == "131026"
    assert metrics.code_label("http_503") == "http_503"
    assert metrics.code_label("Weird Code!") == "other"
    assert metrics.code_label("x" * 40) == "other"
    # A server that answers a new code each time cannot grow the label past a bound.
    for i in range(500):
        metrics.code_label(str(1_000_000 + i))
    assert metrics.code_label("9999999") == "other"
    assert metrics.code_label("131026") == "131026"  # one already seen stays itself
    assert error_code(400, {"error": {"code": 131026}}) == "131026"
    assert error_code(502, {"unexpected": True}) == "http_502"
    assert error_code(400, {"error": {"code": "131026; DROP"}}) == "http_400"


def test_row_statuses_map_to_outcomes():
    before = {
        o: _value("zapx_messages_total", provider="evolution", outcome=o, error_code="")
        for o in ("sent", "failed", "unknown", "retried")
    }
    for status in (
        RowStatus.SENT,
        RowStatus.AWAITING,
        RowStatus.FAILED,
        RowStatus.UNKNOWN,
        RowStatus.PENDING,
        "throttled",
    ):
        metrics.message("evolution", status, None, 0.01)
    after = {
        o: _value("zapx_messages_total", provider="evolution", outcome=o, error_code="")
        for o in before
    }
    assert {o: after[o] - before[o] for o in before} == {
        "sent": 2,
        "failed": 1,
        "unknown": 1,
        "retried": 2,
    }


def test_gate_reasons_map_to_pacing_kinds():
    assert metrics.delay_kind("interval") == "interval"
    assert metrics.delay_kind("long pause") == "interval"
    assert metrics.delay_kind("slot") == "interval"
    assert metrics.delay_kind("throttled") == "backoff"
    assert metrics.delay_kind("provider cap") == "whatsapp"
    assert metrics.delay_kind("daily limit") == "whatsapp"
    assert metrics.delay_kind("recipient pair") == "contact"
    for kind in ("whatsapp", "contact", "campaign", "global"):
        assert metrics.delay_kind(f"rate limit {kind}") == kind
    hits = _value("zapx_rate_limited_total", kind="campaign")
    waits = _value("zapx_pacing_delay_seconds_count", kind="campaign")
    metrics.delay("rate limit campaign", 2.5)
    metrics.delay("interval", 0.4)  # a pacing gap is no rate-limit hit
    assert _value("zapx_rate_limited_total", kind="campaign") == hits + 1
    assert _value("zapx_pacing_delay_seconds_count", kind="campaign") == waits + 1


def test_timed_step_observes_even_when_the_block_raises():
    before = _value("zapx_batch_step_seconds_count", step="record")
    try:
        with metrics.timed_step("record"):
            raise RuntimeError("database gone")
    except RuntimeError:
        pass
    assert _value("zapx_batch_step_seconds_count", step="record") == before + 1


def test_families_of_one_name_are_merged_into_one():
    a = GaugeMetricFamily("zapx_breakers", "a", labels=["kind", "state"])
    a.add_metric(["postgres", "open"], 1)
    b = GaugeMetricFamily("zapx_breakers", "b", labels=["kind", "state"])
    b.add_metric(["whatsapp", "open"], 2)
    b.add_metric(["postgres", "open"], 9)  # a repeated label set: the first one wins
    other = GaugeMetricFamily("zapx_system_load1", "c", value=0.5)
    out = metrics.merged([a, other, b])
    assert [f.name for f in out] == ["zapx_breakers", "zapx_system_load1"]
    assert [(s.labels["kind"], s.value) for s in out[0].samples] == [
        ("postgres", 1),
        ("whatsapp", 2),
    ]
