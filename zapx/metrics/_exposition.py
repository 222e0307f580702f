"""The text ``/metrics`` answers: every process's values (summed from the multiprocess
directory, or this process's default registry without one) and the scrape-time collector's.

Some names have two writers: ``zapx_breakers`` (each process's postgres/redis breakers, in
the processes' files; the shared whatsapp/campaign ones, read at scrape time) and
``zapx_breaker_open_seconds_max``. The exposition format allows one family per name, so the
families of one name are merged into one (their label sets never overlap: the kinds differ).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from zapx.metrics._process import multiprocess_dir, prune_dead

#: The text format 0.0.4, which every Prometheus (and promtool) reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class _Families:
    """What ``generate_latest`` wants: an object whose ``collect()`` yields families."""

    def __init__(self, families: list):
        self.families = families

    def collect(self):
        return iter(self.families)


def merged(families: Iterable) -> list:
    """One family per name, in first-seen order; the samples of a repeated name appended to
    the first family of that name (a repeated label set is dropped: the first one wins)."""
    by_name: dict[str, object] = {}
    seen: dict[str, set] = {}
    for family in families:
        first = by_name.get(family.name)
        if first is None:
            by_name[family.name] = family
            seen[family.name] = {(s.name, tuple(sorted(s.labels.items()))) for s in family.samples}
            continue
        keys = seen[family.name]
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key not in keys:
                keys.add(key)
                first.samples.append(sample)
    return list(by_name.values())


def source_registry():
    """Every process's metrics: the multiprocess directory's files (live gauges of processes
    gone without their exit hook are dropped first), or this process's default registry."""
    if multiprocess_dir() is None:
        return REGISTRY
    prune_dead()
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def exposition(collectors: Iterable = ()) -> bytes:
    """The page: every process's metrics and those of ``collectors`` (collected now)."""
    families = list(source_registry().collect())
    for collector in collectors:
        families.extend(collector.collect())
    return generate_latest(_Families(merged(families)))
