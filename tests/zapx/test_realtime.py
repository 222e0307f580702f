"""The publishing side of realtime: what reaches Redis, and that nothing reaches the caller."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.processes import free_port
from zapx import realtime
from zapx.redis import get_redis


@pytest.fixture
def subscriber(redis_url, redis_prefix):
    pubsub = get_redis(redis_url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(realtime.channel(redis_prefix))
    yield pubsub
    pubsub.close()


def _messages(pubsub, count: int, timeout_s: float = 5.0) -> list[dict]:
    out, deadline = [], time.monotonic() + timeout_s
    while len(out) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            out.append(json.loads(message["data"]))
    return out


def test_an_event_goes_to_its_company_room_on_the_prefixed_channel(
    subscriber, redis_url, redis_prefix
):
    publisher = realtime.Publisher(redis_url, redis_prefix)
    publisher.publish(7, "ContactList", {"action": "delete", "id": 3})
    assert publisher.flush()
    [message] = _messages(subscriber, 1)
    assert message["method"] == "emit"
    assert message["event"] == "company-7-ContactList"
    assert message["room"] == "company-7-mainchannel"
    assert message["namespace"] == "/"
    assert message["data"] == [{"action": "delete", "id": 3}]


def test_publishing_costs_the_caller_microseconds_and_never_raises_with_redis_down(
    redis_prefix,
):
    down = realtime.Publisher(f"redis://127.0.0.1:{free_port()}/0", redis_prefix)
    started = time.perf_counter()
    for i in range(1000):
        down.publish(1, "campaign", {"action": "update", "record": {"id": i}})
    took_s = time.perf_counter() - started
    assert took_s < 0.5, f"1000 publishes took {took_s:.3f} s with Redis down"
    assert down.flush(timeout_s=10)
    # the first failure drops its event, the rest are dropped without a wait
    assert down.dropped == 1000


def test_an_event_that_cannot_be_encoded_is_dropped(subscriber, redis_url, redis_prefix):
    publisher = realtime.Publisher(redis_url, redis_prefix)
    publisher.publish(1, "campaign", {"record": object()})
    publisher.publish(1, "campaign", {"action": "delete", "id": 1})
    assert publisher.flush()
    assert publisher.dropped == 1
    assert [m["data"] for m in _messages(subscriber, 1)] == [[{"action": "delete", "id": 1}]]


def test_a_payload_whose_query_fails_is_dropped_not_raised(subscriber):
    def build():
        raise RuntimeError("the database went away")

    realtime.publish_from(1, build)  # does not raise
    realtime.publish_from(1, lambda: [("campaign", {"action": "delete", "id": 2})])
    assert realtime.publisher().flush()
    assert [m["data"] for m in _messages(subscriber, 1)] == [[{"action": "delete", "id": 2}]]


def test_a_forked_process_publishes_through_its_own_thread(subscriber, redis_url, redis_prefix):
    publisher = realtime.Publisher(redis_url, redis_prefix)
    publisher.publish(1, "campaign", {"from": "parent"})
    assert publisher.flush()
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread does not exist here
        try:
            publisher.publish(1, "campaign", {"from": "child"})
            os._exit(0 if publisher.flush() else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert [m["data"] for m in _messages(subscriber, 2)] == [
        [{"from": "parent"}],
        [{"from": "child"}],
    ]
