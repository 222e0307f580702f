"""Dramatiq middleware for zapx's metrics (``zapx.metrics``), added by ``actors.broker``.

What Dramatiq's own Prometheus middleware does, without its HTTP exporter in every worker
process (``/metrics`` on the API sums every process's values): per message, the count by queue
and outcome and the duration; per worker process, the sampler of its gauges at boot and
``mark_process_dead`` at shutdown, so a process that exits leaves the live sums at once (a
``kill -9`` is caught at the next scrape instead, ``zapx.metrics.prune_dead``).

Outcomes (``zapx_dramatiq_messages_total{queue,outcome}``): ``ok``; ``retried`` (it raised and
Dramatiq runs it again); ``failed`` (it raised and was given up: retries spent, or an exception
in the actor's ``throws``); and ``dead`` for every message Dramatiq dead-letters (the failed
ones and the skipped ones, e.g. too old), counted when it is nacked. ok + retried + failed is
the number of runs. Must come before Dramatiq's ``Retries`` in the broker's middleware list:
Dramatiq runs the "after" hooks in reverse order, and Retries decides in that same hook whether
a failed message runs again.
"""

from __future__ import annotations

import os
import time

import dramatiq
from dramatiq.common import q_name

from zapx import metrics
from zapx.metrics import metrics as m


class Metrics(dramatiq.Middleware):
    """Counts and times every message; samples and retires the worker process's gauges.

    ``kind``: the process kind whose sampler a worker boot starts (the engine starts its own,
    as ``engine``, before its consumer boots, and keeps it)."""

    def __init__(self, kind: str = "worker"):
        self.kind = kind
        self.started: dict[str, float] = {}  # message id -> perf_counter at start

    def after_worker_boot(self, broker, worker) -> None:
        metrics.start_process_metrics(self.kind)

    def after_worker_shutdown(self, broker, worker) -> None:
        metrics.stop_process_metrics()
        metrics.mark_process_dead(os.getpid())

    def before_process_message(self, broker, message) -> None:
        self.started[message.message_id] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        queue = q_name(message.queue_name)
        started = self.started.pop(message.message_id, None)
        if started is not None:
            m.dramatiq_duration.labels(queue).observe(time.perf_counter() - started)
        outcome = "ok" if exception is None else ("failed" if message.failed else "retried")
        m.dramatiq_messages.labels(queue, outcome).inc()

    def after_skip_message(self, broker, message) -> None:
        self.started.pop(message.message_id, None)

    def after_nack(self, broker, message) -> None:
        m.dramatiq_messages.labels(q_name(message.queue_name), "dead").inc()
