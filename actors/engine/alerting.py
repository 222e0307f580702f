"""The engine's alert thread: every ``ALERT_INTERVAL_S`` seconds one evaluation of the alert
rules (``zapx.alerts.Evaluator``), and a webhook enqueued for each alert it opened or resolved
of a company (system alerts have no webhook).

A thread rather than an actor, as the governor: it waits on a timer and touches no actor's
state. One engine runs it; during a restart two may overlap for a moment, which the alerts
table's one-open-alert index makes harmless (the second touches what the first opened).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import redis

from zapx import dependencies
from zapx.alerts import Evaluator
from zapx.circuits import Circuits, Thresholds
from zapx.config import Config
from zapx.redis import Keys

log = logging.getLogger("zapx.alerts")


class AlertThread(threading.Thread):
    """Runs ``evaluator`` every ``interval_s`` seconds; ``notify(alert_id, kind)`` enqueues a
    webhook. A failed evaluation is logged once while its error repeats; the next one runs."""

    def __init__(
        self,
        evaluator: Evaluator,
        notify: Callable[[int, str], None],
        interval_s: float,
    ):
        super().__init__(name="zapx-alerts", daemon=True)
        self.evaluator, self.notify, self.interval_s = evaluator, notify, interval_s
        self.stopping = threading.Event()
        self._error = ""

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            self.step()

    def step(self) -> None:
        if dependencies.blocking() is not None:
            # PostgreSQL or Redis is down: its breaker logged the outage once; no rule can be
            # judged, and an unreadable signal must not resolve anything.
            return
        try:
            events = self.evaluator.evaluate()
            self._error = ""
        except Exception as exc:
            if dependencies.unavailable(exc):  # the breaker logs the outage, once
                log.debug("alert evaluation failed: %r", exc)
            elif repr(exc) != self._error:
                log.exception("alert evaluation failed")
            self._error = repr(exc)
            return
        for event in events:
            if event.company_id is None:
                continue
            try:
                self.notify(event.alert_id, event.kind)
            except Exception:  # the broker's Redis is down: the alert row stays, the POST is lost
                log.exception("alert webhook not enqueued", extra={"alert_id": event.alert_id})

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def start_alerts(
    config: Config,
    redis_client: redis.Redis,
    namespace: str,
    queues: Sequence[str],
    notify: Callable[[int, str], None],
) -> AlertThread | None:
    """The engine's alert thread, started; None when ``ALERT_ENABLED`` is false."""
    if not config.alert_enabled:
        return None
    circuits = Circuits(redis_client, Keys(config.redis_prefix), Thresholds.from_config(config))
    evaluator = Evaluator(config, redis_client, namespace, queues, circuits)
    thread = AlertThread(evaluator, notify, config.alert_interval_s)
    thread.start()
    return thread
