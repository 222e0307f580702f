"""actors.engine.governor: the sampler reads the real PostgreSQL, Redis and Dramatiq queues, and
the governor thread sets a real Budget from them.

The queues live under a namespace of this test's own (inside the session's Redis prefix): the
depth counted is exactly the messages enqueued here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from actors.engine.governor import GovernorThread, LoadSampler, start_governor
from tests.processes import ZAPX, Process, free_port, wait_for
from zapx.engine.governor import CUT, GROW, Governor, Thresholds
from zapx.engine.live import Budget
from zapx.redis import get_redis

QUEUES = ("delivery", "delivery_first")
#: Only the queue depth can trip (above 1 message): the test machine's load cannot.
QUEUE_ONLY = Thresholds(
    cpu_percent=100,
    memory_percent=100,
    queue_depth=1,
    oldest_message_age_s=86_400,
    db_latency_ms=60_000,
    redis_latency_ms=60_000,
)


@pytest.fixture
def namespace(redis_prefix):
    return f"{redis_prefix}governor-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def queues(redis_url, namespace):
    """A Dramatiq broker on the test's namespace: what it enqueues is what the sampler sees."""
    broker = RedisBroker(url=redis_url, namespace=namespace, middleware=[])
    for queue in (*QUEUES, "engine"):
        broker.declare_queue(queue)  # what flush_all empties
    yield broker
    broker.flush_all()
    broker.client.close()


def message(queue: str, age_s: float = 0.0) -> dramatiq.Message:
    sent_ms = int((time.time() - age_s) * 1000)
    return dramatiq.Message(queue, "deliver_batch", (1, 1), {}, {}, message_timestamp=sent_ms)


@pytest.fixture
def sampler(redis_url, namespace, database_url):
    made = LoadSampler(get_redis(redis_url), namespace, QUEUES, database_url)
    yield made
    made.close()


def test_the_sampler_reads_sane_values_from_the_real_services(sampler, queues):
    empty = sampler.sample()
    assert (empty.queue_depth, empty.oldest_message_age_s) == (0, 0.0)
    queues.enqueue(message("delivery", age_s=12))
    queues.enqueue(message("delivery"))
    queues.enqueue(message("delivery"))
    queues.enqueue(message("delivery_first", age_s=3))
    queues.enqueue(message("delivery_first"))
    queues.enqueue(message("delivery"), delay=60_000)  # not due: the delay queue, not counted
    queues.enqueue(message("engine", age_s=100))  # not a delivery queue
    sample = sampler.sample()
    assert sample.queue_depth == 5
    assert 12 <= sample.oldest_message_age_s < 13
    assert 0 <= sample.cpu_percent <= 100
    assert 0 < sample.memory_percent < 100
    assert 0 < sample.db_latency_ms < 1000  # SELECT 1 on the local server: about 0.1 ms
    assert 0 < sample.redis_latency_ms < 1000  # PING: about 0.1 ms
    print("\nsample", sample.as_dict())


def test_a_probe_that_fails_is_not_measured_and_logged_once(namespace, caplog):
    nowhere = free_port()
    dead_redis = redis.Redis(port=nowhere, retry=None)  # refused at once, not retried
    sampler = LoadSampler(
        dead_redis, namespace, QUEUES, f"postgresql://postgres@127.0.0.1:{nowhere}/zapx"
    )
    with caplog.at_level(logging.WARNING, logger="zapx.engine.governor"):
        samples = [sampler.sample(), sampler.sample()]
    for sample in samples:
        assert sample.queue_depth is sample.oldest_message_age_s is None
        assert sample.db_latency_ms is sample.redis_latency_ms is None
        assert sample.cpu_percent is not None and sample.memory_percent is not None
    failed = [r.probe for r in caplog.records if r.getMessage() == "governor probe failed"]
    assert sorted(failed) == ["postgres", "queues", "redis"]  # once each, not per sample


def test_the_thread_cuts_the_budget_on_a_real_queue_and_grows_it_back(sampler, queues, caplog):
    budget = Budget(8)
    budget.share(2)  # two companies with live work: the floor is 2
    governor = Governor(8, QUEUE_ONLY, cooldown_s=0.0, clock=time.monotonic)
    thread = GovernorThread(sampler, governor, budget, interval_s=0.02)
    for _ in range(5):
        queues.enqueue(message("delivery"))
    with caplog.at_level(logging.INFO, logger="zapx.engine.governor"):
        thread.start()
        try:
            wait_for(lambda: budget.total == 2, timeout_s=3, what="the budget cut to the floor")
            assert budget.per_company == 1
            seen = thread.samples
            wait_for(lambda: thread.samples >= seen + 3, timeout_s=3, what="more samples")
            assert budget.total == 2  # held at the floor while the queue stays deep
            queues.flush_all()  # the workers caught up
            wait_for(lambda: budget.total == 8, timeout_s=3, what="the budget grown back")
            assert budget.per_company == 4
        finally:
            thread.stop()
    assert not thread.is_alive()
    changes = [r for r in caplog.records if r.getMessage() == "engine budget changed"]
    steps = [(r.budget_old, r.budget_new, r.reason) for r in changes]
    # One line per change, none while held: two cuts, then one batch a sample.
    assert steps == [(8, 4, CUT), (4, 2, CUT)] + [(n, n + 1, GROW) for n in range(2, 8)]
    assert changes[0].over == ["queue_depth"] and changes[0].load["queue_depth"] == 5
    assert changes[0].levelno == logging.WARNING and changes[-1].levelno == logging.INFO
    assert changes[-1].over == [] and changes[-1].per_company == 4


def test_the_engine_starts_the_governor_unless_it_is_disabled(config, redis_url, namespace):
    budget = Budget(config.engine_budget)
    off = dataclasses.replace(config, governor_enabled=False)
    assert start_governor(off, budget, get_redis(redis_url), namespace, QUEUES) is None
    thread = start_governor(config, budget, get_redis(redis_url), namespace, QUEUES)
    try:
        assert thread.is_alive()
        assert (thread.interval_s, thread.governor.maximum) == (5, config.engine_budget)
        assert thread.governor.thresholds == Thresholds.from_config(config)
    finally:
        thread.stop()
    assert not thread.is_alive()


def test_the_engine_process_runs_the_governor(process_env, redis_url, tmp_path):
    """``zapx engine`` with the governor on (the tests' environment has it off): a deep
    delivery queue cuts its budget within one interval; SIGTERM stops it with the engine."""
    prefix = process_env["REDIS_PREFIX"] + f"governed-{uuid.uuid4().hex[:8]}:"
    broker = RedisBroker(url=redis_url, namespace=prefix + "dramatiq", middleware=[])
    broker.declare_queue("delivery")
    for _ in range(3):
        broker.enqueue(message("delivery"))
    env = process_env | {
        "REDIS_PREFIX": prefix,
        "ENGINE_BUDGET": "8",
        "GOVERNOR_ENABLED": "true",
        "GOVERNOR_INTERVAL_S": "1",
        "GOVERNOR_QUEUE_DEPTH": "2",
    }
    proc = Process([ZAPX, "engine"], env, tmp_path, "engine")
    try:
        wait_for(lambda: "engine budget changed" in proc.output(), timeout_s=20, what="a cut")
    finally:
        code = proc.stop()
        broker.flush_all()
        broker.client.close()
    assert code == 0, proc.output()
    lines = [json.loads(line) for line in proc.output().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    started = lines[events.index("engine started")]
    assert started["governor"] is True
    cut = lines[events.index("engine budget changed")]
    assert (cut["budget_old"], cut["budget_new"], cut["reason"]) == (8, 4, CUT)
    assert cut["over"] == ["queue_depth"] and cut["load"]["queue_depth"] == 3
    assert events.index("engine budget changed") < events.index("engine stopped")
