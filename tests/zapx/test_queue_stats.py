"""zapx.queue_stats: the figures read from a real Dramatiq broker's keys, in a namespace of this
test's own (inside the session's Redis prefix)."""

from __future__ import annotations

import time
import uuid

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from zapx.queue_stats import QueueStat, queue_stats, workers_alive
from zapx.redis import get_redis


@pytest.fixture
def namespace(redis_prefix):
    return f"{redis_prefix}qstats-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def broker(redis_url, namespace):
    made = RedisBroker(url=redis_url, namespace=namespace, middleware=[])
    for queue in ("delivery", "delivery_first", "engine"):
        made.declare_queue(queue)
    yield made
    made.flush_all()
    made.client.delete(f"{namespace}:__heartbeats__")
    made.client.close()


def message(queue: str, age_s: float = 0.0) -> dramatiq.Message:
    sent_ms = int((time.time() - age_s) * 1000)
    return dramatiq.Message(queue, "deliver_batch", (1, 1), {}, {}, message_timestamp=sent_ms)


def test_empty_queues_read_zero(redis_url, namespace, broker):
    stats = queue_stats(get_redis(redis_url), namespace, ("delivery", "delivery_first"))
    assert stats == [QueueStat("delivery", 0, 0, 0, 0.0), QueueStat("delivery_first", 0, 0, 0, 0.0)]


def test_depth_delayed_dead_and_the_oldest_age_per_queue(redis_url, namespace, broker):
    broker.enqueue(message("delivery", age_s=30))
    broker.enqueue(message("delivery", age_s=2))
    broker.enqueue(message("delivery"), delay=60_000)  # not due: counted as delayed
    broker.enqueue(message("delivery_first", age_s=5))
    dead = message("engine", age_s=1)
    # A dead-lettered message, as the broker's dispatch script leaves it (sorted set + bodies).
    broker.client.zadd(f"{namespace}:engine.XQ", {dead.message_id: time.time() * 1000})
    broker.client.hset(f"{namespace}:engine.XQ.msgs", dead.message_id, dead.encode())
    stats = {
        s.name: s
        for s in queue_stats(
            get_redis(redis_url), namespace, ("delivery", "delivery_first", "engine")
        )
    }
    assert (stats["delivery"].depth, stats["delivery"].delayed, stats["delivery"].dead) == (2, 1, 0)
    assert 30 <= stats["delivery"].oldest_age_s < 31
    assert stats["delivery_first"].depth == 1 and 5 <= stats["delivery_first"].oldest_age_s < 6
    assert (stats["engine"].depth, stats["engine"].dead, stats["engine"].oldest_age_s) == (
        0,
        1,
        0.0,
    )


def test_workers_alive_counts_recent_heartbeats_only(redis_url, namespace, broker):
    client = get_redis(redis_url)
    now_ms = time.time() * 1000
    client.zadd(
        f"{namespace}:__heartbeats__",
        {"fresh-1": now_ms - 500, "fresh-2": now_ms - 4_000, "stale": now_ms - 60_000},
    )
    assert workers_alive(client, namespace) == 2
    assert workers_alive(client, namespace, within_s=1) == 1


def test_a_real_consumer_leaves_a_heartbeat(redis_url, namespace, broker):
    consumer = broker.consume("delivery", prefetch=1, timeout=100)
    try:
        next(consumer)  # one fetch: the dispatch script writes this worker's heartbeat
    finally:
        consumer.close()
    assert workers_alive(get_redis(redis_url), namespace) == 1
