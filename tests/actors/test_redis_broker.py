"""``actors.redis_broker``: bulk enqueues, and a full consumer that refills on its acks."""

import threading
import time
import uuid

import pytest
from dramatiq import Message

from actors.redis_broker import Broker


@pytest.fixture
def broker(redis_url, redis_prefix):
    b = Broker(url=redis_url, namespace=f"{redis_prefix}rb-{uuid.uuid4().hex[:8]}", middleware=[])
    b.declare_queue("q")
    yield b
    b.flush_all()


def message(n: int) -> Message:
    return Message(queue_name="q", actor_name="a", args=(n,), kwargs={}, options={})


def take(consumer, n: int, timeout_s: float = 5.0) -> list:
    got, deadline = [], time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        m = next(consumer)
        if m is not None:
            got.append(m)
    return got


def test_enqueue_many_enqueues_each_message_once_in_order(broker):
    broker.enqueue_many([message(n) for n in range(5)])
    consumer = broker.consume("q", prefetch=10, timeout=50)
    got = take(consumer, 5)
    assert [m.args for m in got] == [(n,) for n in range(5)]
    assert len({m.options["redis_message_id"] for m in got}) == 5
    for m in got:
        consumer.ack(m)
    assert take(consumer, 1, timeout_s=0.3) == []  # nothing more


def test_a_full_consumer_fetches_again_as_soon_as_its_messages_are_acked(broker):
    """Dramatiq's consumer, full, slept as if idle (backing off up to its 2 s timeout here) while
    its threads finished their messages; this one fetches within a few ms of the acks."""
    broker.enqueue_many([message(n) for n in range(8)])
    consumer = broker.consume("q", prefetch=4, timeout=2000)
    held = take(consumer, 4)
    assert len(held) == 4
    acked_at = []

    def ack_later():
        time.sleep(1.5)  # the consumer is asked for more meanwhile, and is full
        acked_at.append(time.monotonic())
        for m in held:
            consumer.ack(m)

    acker = threading.Thread(target=ack_later)
    acker.start()
    more = take(consumer, 1, timeout_s=10)
    got_at = time.monotonic()
    acker.join()
    assert [m.args for m in more] == [(4,)]
    assert got_at - acked_at[0] < 0.1
