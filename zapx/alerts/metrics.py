"""``zapx_alerts_open{rule}``: open alerts by rule, read from PostgreSQL when ``/metrics`` is
scraped (a source of the metrics' scrape collector). ``rule`` has the seven rule names only."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from zapx.alerts._store import open_counts


def open_alerts_metric() -> Iterable[Metric]:
    family = GaugeMetricFamily(
        "zapx_alerts_open", "Open alerts by rule (docs/ALERTS.md).", labels=["rule"]
    )
    for rule, count in open_counts().items():
        family.add_metric([rule], count)
    yield family
