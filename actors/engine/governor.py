"""The engine's governor: measures the load every ``GOVERNOR_INTERVAL_S`` seconds and sets the
in-flight batch budget from it (the rule: ``zapx/engine/governor.py``, docs/ENGINE.md "The
governor").

:class:`LoadSampler` takes the real signals: the host's CPU and memory (psutil), the delivery
queues' depth and oldest message in the Dramatiq broker's Redis keys, and the round trips of
``SELECT 1`` to PostgreSQL and ``PING`` to Redis. :class:`GovernorThread` feeds them to a
:class:`~zapx.engine.governor.Governor` and hands its total to the Directory's
:class:`~zapx.engine.live.Budget`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import psutil
import psycopg2
import redis

from zapx.config import Config
from zapx.db.database import connect_params
from zapx.engine.governor import CUT, Governor, LoadSample, Thresholds
from zapx.engine.live import Budget
from zapx.queue_stats import queue_stats

log = logging.getLogger("zapx.engine.governor")

#: Seconds PostgreSQL gets to accept the sampler's connection and to answer its ``SELECT 1``.
DB_TIMEOUT_S = 2


class LoadSampler:
    """Measures one :class:`LoadSample`; a signal whose probe fails is ``None`` (logged once
    per change between failing and answering, never per sample).

    Parameters:
      redis_client: the Redis of the broker (and of every zapx key).
      namespace: the Dramatiq broker's key namespace (``actors.broker``:
        ``REDIS_PREFIX`` + ``dramatiq``); queue ``q`` is the list ``<namespace>:q`` of message
        ids, their bodies in the hash ``<namespace>:q.msgs``.
      queues: the delivery queues, whose waiting messages are the queue signals.
      database_url: the PostgreSQL timed. The sampler keeps a connection of its own, not one
        of the pool: when the pool is exhausted the probe must still answer, quickly.
      now: epoch seconds, the clock the message timestamps are read against.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        namespace: str,
        queues: Sequence[str],
        database_url: str,
        now: Callable[[], float] = time.time,
    ):
        self.redis = redis_client
        self.namespace = namespace
        self.queues = tuple(queues)
        self.database_url = database_url
        self.now = now
        self._db: psycopg2.extensions.connection | None = None
        self._failing: dict[str, str] = {}  # probe -> its last error, while it fails
        psutil.cpu_percent(interval=None)  # the first call only starts the measure

    def sample(self) -> LoadSample:
        depth, age = self._probe("queues", self._queues) or (None, None)
        return LoadSample(
            cpu_percent=psutil.cpu_percent(interval=None),  # since the previous sample
            memory_percent=psutil.virtual_memory().percent,
            queue_depth=depth,
            oldest_message_age_s=age,
            db_latency_ms=self._probe("postgres", self._select_one),
            redis_latency_ms=self._probe("redis", self._ping),
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- probes -----------------------------------------------------------------------------

    def _probe(self, name: str, measure: Callable[[], object]):
        try:
            value = measure()
        except (redis.RedisError, psycopg2.Error, OSError) as exc:
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if name not in self._failing:
                log.warning("governor probe failed", extra={"probe": name, "error": error})
            self._failing[name] = error
            return None
        if self._failing.pop(name, None) is not None:
            log.info("governor probe answers again", extra={"probe": name})
        return value

    def _queues(self) -> tuple[int, float]:
        """Waiting messages in the queues, and seconds since the oldest at their heads was
        sent (0 when none waits). Two round trips (``zapx.queue_stats``)."""
        stats = queue_stats(self.redis, self.namespace, self.queues, now=self.now)
        return sum(s.depth for s in stats), max((s.oldest_age_s for s in stats), default=0.0)

    def _select_one(self) -> float:
        if self._db is None:
            self._db = psycopg2.connect(
                connect_timeout=DB_TIMEOUT_S,
                application_name="zapx-governor",
                options=f"-c statement_timeout={DB_TIMEOUT_S * 1000}",
                **connect_params(self.database_url),
            )
            self._db.autocommit = True
        try:
            with self._db.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute("SELECT 1")
                cursor.fetchone()
                return (time.perf_counter() - started) * 1000
        except psycopg2.Error:
            self.close()  # a new connection at the next sample
            raise

    def _ping(self) -> float:
        started = time.perf_counter()
        self.redis.ping()
        return (time.perf_counter() - started) * 1000


class GovernorThread(threading.Thread):
    """Every ``interval_s`` seconds: a sample, the governor's verdict, and the budget's new
    total when it changed, with one log line per change.

    A thread rather than an actor (as the Clock): it waits on a timer, and the Budget it sets
    is shared memory read by the company actors, not a message.
    """

    def __init__(
        self,
        sampler: LoadSampler,
        governor: Governor,
        budget: Budget,
        interval_s: float,
    ):
        super().__init__(name="zapx-governor", daemon=True)
        self.sampler = sampler
        self.governor = governor
        self.budget = budget
        self.interval_s = interval_s
        self.stopping = threading.Event()
        self.samples = 0
        self._error = ""  # the last step's error, logged once while it repeats

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.interval_s):
                self.step()
        finally:
            self.sampler.close()

    def step(self) -> None:
        """One sample applied (what ``run`` does each interval)."""
        try:
            sample = self.sampler.sample()
            change = self.governor.update(sample, self.budget.active)
            self.samples += 1
            self._error = ""
        except Exception as exc:
            if repr(exc) != self._error:
                log.exception("governor sample failed")
            self._error = repr(exc)
            return
        if change is None:
            return
        self.budget.set_total(change.new)
        log.log(
            logging.WARNING if change.reason == CUT else logging.INFO,
            "engine budget changed",
            extra={
                "budget_old": change.old,
                "budget_new": change.new,
                "reason": change.reason,
                "over": list(change.over),
                "load": sample.as_dict(),
                "companies_active": self.budget.active,
                "per_company": self.budget.per_company,
            },
        )

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=DB_TIMEOUT_S * 3)


def start_governor(
    config: Config,
    budget: Budget,
    redis_client: redis.Redis,
    namespace: str,
    queues: Sequence[str],
) -> GovernorThread | None:
    """The engine's governor thread, started; None when ``GOVERNOR_ENABLED`` is false (the
    budget then stays ``ENGINE_BUDGET``)."""
    if not config.governor_enabled:
        return None
    governor = Governor(
        config.engine_budget,
        Thresholds.from_config(config),
        config.governor_cooldown_s,
        time.monotonic,
    )
    sampler = LoadSampler(redis_client, namespace, queues, config.database_url)
    thread = GovernorThread(sampler, governor, budget, config.governor_interval_s)
    thread.start()
    return thread
