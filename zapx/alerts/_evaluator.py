"""One evaluation of every periodic rule: read the signals, open or touch what holds, resolve
what cleared. ``actors.engine.alerting.AlertThread`` runs it every ``ALERT_INTERVAL_S``.

Each rule is contained: a rule whose signal cannot be read (Redis or PostgreSQL down, a bug)
is skipped this time with one log line per change of its error, and its open alerts stay as
they are; the other rules still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import redis

from zapx import dependencies
from zapx.alerts import _rules
from zapx.alerts._store import Event, raise_alert, resolve_cleared
from zapx.circuits import Circuits
from zapx.config import Config
from zapx.db import db
from zapx.queue_stats import queue_stats

log = logging.getLogger("zapx.alerts")


class Evaluator:
    """The periodic rules (all but spam_rate_limit's opening, which the engine does at once).

    Parameters:
      config: thresholds (``ALERT_*``).
      redis_client: the Redis of the broker and of zapx's keys.
      namespace: the Dramatiq broker's key namespace (``REDIS_PREFIX`` + ``dramatiq``).
      queues: the Dramatiq queues watched by queue_stale and dead_letters_growing.
      circuits: the whatsapp/campaign breakers (``zapx.circuits``).
      now: epoch seconds.
    """

    def __init__(
        self,
        config: Config,
        redis_client: redis.Redis,
        namespace: str,
        queues: Sequence[str],
        circuits: Circuits,
        now: Callable[[], float] = time.time,
    ):
        self.config, self.redis, self.namespace = config, redis_client, namespace
        self.queues = tuple(queues)
        self.now = now
        self.breakers = _rules.BreakerCheck(circuits, config.alert_breaker_open_s, now)
        self.error_rate = _rules.error_rate_check(config)
        self.connection_down = _rules.connection_down_check(config)
        self._errors: dict[str, str] = {}  # rule -> its last error, while it fails
        self.evaluations = 0

    def evaluate(self) -> list[Event]:
        """Every rule once; the alerts opened and resolved (for the webhooks)."""
        events: list[Event] = []
        with db.connection_context():
            active = self._guarded("campaigns", _rules.active_campaigns)
            stats = self._guarded(
                "queues", lambda: queue_stats(self.redis, self.namespace, self.queues, self.now)
            )
            c = self.config
            checks: list[tuple[str, Callable[[], _rules.Findings]]] = [
                (
                    "redis_memory_high",
                    lambda: _rules.redis_memory(self.redis, c.alert_redis_memory_ratio),
                ),
                (
                    "dead_letters_growing",
                    lambda: _rules.dead_letters(
                        self.redis, self.namespace, self.queues, c, self.now()
                    ),
                ),
            ]
            if stats is not None:
                checks.append(
                    ("queue_stale", lambda: _rules.queue_stale(stats, c.alert_queue_age_s))
                )
            if active is not None:
                checks += [
                    ("breaker_open", lambda: self.breakers(active)),
                    ("campaign_error_rate", lambda: self.error_rate(active)),
                    ("connection_down", lambda: self.connection_down(active)),
                    ("spam_rate_limit", lambda: _rules.spam_check(active)),
                ]
            for rule, check in checks:
                findings = self._guarded(rule, check)
                if findings is not None:
                    applied = self._guarded(rule, lambda f=findings, r=rule: self._apply(r, f))
                    events += applied or []
        self.evaluations += 1
        return events

    def _apply(self, rule: str, findings: _rules.Findings) -> list[Event]:
        events = []
        for condition in findings.holding:
            event = raise_alert(condition)
            if event is not None:
                events.append(event)
        keep = findings.keep | {c.key for c in findings.holding}
        return events + resolve_cleared(rule, keep)

    def _guarded(self, name: str, step: Callable):
        try:
            value = step()
        except Exception as exc:
            if dependencies.unavailable(exc):  # PostgreSQL or Redis down: its breaker logs it
                log.debug("alert rule failed: %s: %r", name, exc)
            elif self._errors.get(name) != repr(exc):
                log.warning("alert rule failed", extra={"rule": name, "error": repr(exc)[:300]})
            self._errors[name] = repr(exc)
            return None
        if self._errors.pop(name, None) is not None:
            log.info("alert rule answers again", extra={"rule": name})
        return value
