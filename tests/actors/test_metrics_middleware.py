"""``actors.metrics.Metrics``: each run of a Dramatiq message counted by queue and outcome, its
duration observed; a dead-lettered message counted as ``dead`` (a stub broker, real worker
threads, this process's default registry)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries
from prometheus_client import REGISTRY

from actors.broker import make_broker
from actors.metrics import Metrics


def _count(queue: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "zapx_dramatiq_messages_total", {"queue": queue, "outcome": outcome}
    )
    return value or 0.0


def _runs(queue: str) -> float:
    return (
        REGISTRY.get_sample_value("zapx_dramatiq_message_duration_seconds_count", {"queue": queue})
        or 0.0
    )


def test_outcomes_ok_retried_failed_and_dead():
    # As actors.broker orders them: Metrics' "after" hook runs once Retries' has decided.
    broker = StubBroker(middleware=[Metrics(), Retries(min_backoff=10, max_backoff=20)])
    attempts = {"flaky": 0}

    @dramatiq.actor(broker=broker, queue_name="mq_ok", max_retries=0)
    def fine(n):
        return n

    @dramatiq.actor(broker=broker, queue_name="mq_flaky", max_retries=3)
    def flaky():
        attempts["flaky"] += 1
        if attempts["flaky"] < 3:
            raise RuntimeError("not yet")

    @dramatiq.actor(broker=broker, queue_name="mq_bad", max_retries=1)
    def bad():
        raise RuntimeError("never")

    @dramatiq.actor(broker=broker, queue_name="mq_thrown", throws=(ValueError,))
    def thrown():
        raise ValueError("not a command")

    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        for n in range(3):
            fine.send(n)
        flaky.send()
        bad.send()
        thrown.send()
        for queue in ("mq_ok", "mq_flaky", "mq_bad", "mq_thrown"):
            broker.join(queue, timeout=10_000, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    assert _count("mq_ok", "ok") == 3 and _runs("mq_ok") == 3
    assert (_count("mq_flaky", "retried"), _count("mq_flaky", "ok")) == (2, 1)
    assert _count("mq_flaky", "dead") == 0
    # Two runs (one retry), then given up and dead-lettered.
    assert (_count("mq_bad", "retried"), _count("mq_bad", "failed")) == (1, 1)
    assert _count("mq_bad", "dead") == 1 and _runs("mq_bad") == 2
    # An exception the actor throws is not retried.
    assert (_count("mq_thrown", "failed"), _count("mq_thrown", "retried")) == (1, 0)
    assert _count("mq_thrown", "dead") == 1


def test_the_broker_runs_it_after_retries_decided(config):
    names = [type(m).__name__ for m in make_broker(config).middleware]
    assert names.index("Metrics") < names.index("Retries"), names
    assert "Prometheus" not in names  # Dramatiq's own would open an exporter per process
