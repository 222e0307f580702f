"""What ``/metrics`` reads when it is served (a custom prometheus_client collector): queues and
workers from the broker's keys, campaigns and connections from PostgreSQL, the shared breakers,
the query cache's counts, Redis memory and the system load.

Each source is read in a few round trips whatever the number of tenants (a ``GROUP BY``, one
Redis pipeline), and summed over every company: per-company figures belong to the API. A
source that fails (PostgreSQL or Redis down) leaves its metrics out of that scrape and says so
in ``zapx_scrape_source_up{source}`` (0), so the rest of the page is still served.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections.abc import Callable, Iterable

import redis as redis_lib
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from zapx import cache, queue_stats
from zapx.circuits import Circuits, Thresholds
from zapx.config import Config
from zapx.metrics._process import STATES
from zapx.redis import Keys
from zapx.status import CampaignStatus, ConnectionStatus

log = logging.getLogger("zapx.metrics")

#: Every Dramatiq queue zapx uses (``zapx.queue_stats.QUEUES``).
QUEUES = queue_stats.QUEUES
#: Shared breaker kinds (``zapx.circuits``); postgres/redis are each process's own.
SHARED_BREAKERS = ("whatsapp", "campaign")


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class ScrapeCollector:
    """Reads the shared state at each ``collect()`` (called by the exposition of ``/metrics``).

    ``redis``: the process's client; ``db``: the peewee database (a connection is opened for
    the scrape, or the caller's reused); ``namespace``: the Dramatiq broker's key namespace.
    """

    def __init__(self, config: Config, redis: redis_lib.Redis, db, namespace: str):
        self.config, self.redis, self.db, self.namespace = config, redis, db, namespace
        self.keys = Keys(config.redis_prefix)
        self.circuits = Circuits(redis, self.keys, Thresholds.from_config(config))
        #: Extra sources (name, function yielding metric families), e.g. the open alerts.
        self.extra: list[tuple[str, Callable[[], Iterable[Metric]]]] = []

    def describe(self) -> list[Metric]:
        return []  # checked at collect time, not at registration (names are shared, see merge)

    def collect(self) -> Iterable[Metric]:
        sources = [
            ("queues", self._queues),
            ("database", self._database),
            ("breakers", self._breakers),
            ("cache", self._cache),
            ("redis", self._redis_memory),
            ("system", self._system),
            *self.extra,
        ]
        up = _gauge("zapx_scrape_source_up", "1 when a source answered at this scrape.", ["source"])
        for name, source in sources:
            try:
                families = list(source())
            except Exception as exc:  # one source down must not take the page down
                log.warning("metrics source failed", extra={"source": name, "error": repr(exc)})
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up

    def _queues(self) -> Iterable[Metric]:
        stats = queue_stats.queue_stats(self.redis, self.namespace, QUEUES)
        depth = _gauge("zapx_queue_depth", "Messages waiting in a Dramatiq queue.", ["queue"])
        delayed = _gauge("zapx_queue_delayed", "Delayed messages of a queue (retries).", ["queue"])
        dead = _gauge("zapx_queue_dead", "Dead-lettered messages of a queue.", ["queue"])
        age = _gauge(
            "zapx_queue_oldest_age_seconds",
            "Seconds the oldest waiting message of a queue has waited (0: none waits).",
            ["queue"],
        )
        for s in stats:
            depth.add_metric([s.name], s.depth)
            delayed.add_metric([s.name], s.delayed)
            dead.add_metric([s.name], s.dead)
            age.add_metric([s.name], round(s.oldest_age_s, 3))
        alive = _gauge("zapx_workers_alive", "Dramatiq worker processes with a recent heartbeat.")
        alive.add_metric([], queue_stats.workers_alive(self.redis, self.namespace))
        return [depth, delayed, dead, age, alive]

    def _database(self) -> Iterable[Metric]:
        with self.db.connection_context():
            campaigns = dict(
                self.db.execute_sql("SELECT status, count(*) FROM campaigns GROUP BY status")
            )
            connections = dict(
                self.db.execute_sql("SELECT status, count(*) FROM whatsapps GROUP BY status")
            )
        by_status = _gauge("zapx_campaigns", "Campaigns by status (every company).", ["status"])
        for status in sorted(set(CampaignStatus.ALL) | set(campaigns)):
            by_status.add_metric([status], campaigns.get(status, 0))
        by_state = _gauge(
            "zapx_connections", "WhatsApp connections by state (every company).", ["state"]
        )
        for state in sorted(set(ConnectionStatus.ALL) | set(connections)):
            by_state.add_metric([state], connections.get(state, 0))
        return [by_status, by_state]

    def _breakers(self) -> Iterable[Metric]:
        with self.db.connection_context():
            company_ids = [r[0] for r in self.db.execute_sql("SELECT id FROM companies")]
        listed = self.circuits.listing(company_ids) if company_ids else []
        now = time.time()
        counts = {(k, s): 0 for k in SHARED_BREAKERS for s in STATES}
        longest = dict.fromkeys(SHARED_BREAKERS, 0.0)
        for b in listed:
            kind, state = b["name"], b["state"]
            counts[(kind, state)] = counts.get((kind, state), 0) + 1
            if state != "closed" and b.get("since"):
                since = _epoch(b["since"])
                longest[kind] = max(longest.get(kind, 0.0), now - since)
        family = _gauge("zapx_breakers", "Breakers of a kind in a state.", ["kind", "state"])
        for (kind, state), n in sorted(counts.items()):
            family.add_metric([kind, state], n)
        open_max = _gauge(
            "zapx_breaker_open_seconds_max",
            "Seconds the longest-open breaker of a kind has not been closed.",
            ["kind"],
        )
        for kind, seconds in sorted(longest.items()):
            open_max.add_metric([kind], round(max(0.0, seconds), 3))
        return [family, open_max]

    def _cache(self) -> Iterable[Metric]:
        counts = cache.stats(self.redis, self.config.redis_prefix)
        requests = CounterMetricFamily(
            "zapx_cache_requests",
            "Query cache reads by namespace and result (hit, miss), every process.",
            labels=["namespace", "result"],
        )
        invalidations = CounterMetricFamily(
            "zapx_cache_invalidations",
            "Query cache invalidations (a write bumped the namespace's version).",
            labels=["namespace"],
        )
        for namespace, value in sorted(counts.items()):
            if not isinstance(value, dict):
                continue  # the process's own ``errors``/``bypassed`` counts
            for result in ("hit", "miss"):
                requests.add_metric([namespace, result], value.get(result, 0))
            invalidations.add_metric([namespace], value.get("invalidation", 0))
        return [requests, invalidations]

    def _redis_memory(self) -> Iterable[Metric]:
        info = self.redis.info("memory")
        used = _gauge("zapx_redis_used_memory_bytes", "Memory Redis uses, bytes (INFO memory).")
        used.add_metric([], int(info.get("used_memory", 0)))
        limit = _gauge(
            "zapx_redis_maxmemory_bytes", "Redis maxmemory, bytes (0: no limit configured)."
        )
        limit.add_metric([], int(info.get("maxmemory", 0)))
        return [used, limit]

    def _system(self) -> Iterable[Metric]:
        load = _gauge("zapx_system_load1", "The host's 1-minute load average (os.getloadavg).")
        load.add_metric([], os.getloadavg()[0])
        return [load]


def _epoch(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp()
