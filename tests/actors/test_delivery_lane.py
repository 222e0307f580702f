"""A bulk batch's message claims nothing while a burst of first batches is pending
(``actors.delivery._lane_free``), and at once when none is, or when Redis cannot say."""

from __future__ import annotations

import threading
import time

import redis

from actors import delivery
from zapx.campaigns import priority
from zapx.redis import get_redis


def test_the_claim_waits_for_the_burst_and_no_longer(redis_url):
    client = get_redis(redis_url)
    began = time.monotonic()
    delivery._lane_free(client)
    assert time.monotonic() - began < 0.05  # nothing pending: no wait
    priority.firsts_enqueued(client, delivery._keys, 150)
    try:
        done = threading.Timer(0.5, priority.firsts_done, (client, delivery._keys, 150))
        done.start()
        began = time.monotonic()
        delivery._lane_free(client)
        waited = time.monotonic() - began
        assert 0.5 <= waited < 0.5 + priority.POLL_S + 0.2
    finally:
        client.delete(priority.key(delivery._keys))


def test_a_burst_never_taken_off_holds_the_claim_hold_max_s_at_most(redis_url, monkeypatch):
    client = get_redis(redis_url)
    monkeypatch.setattr(priority, "HOLD_MAX_S", 0.4)
    priority.firsts_enqueued(client, delivery._keys, 150)
    try:
        began = time.monotonic()
        delivery._lane_free(client)
        assert 0.4 <= time.monotonic() - began < 0.4 + priority.POLL_S + 0.2
    finally:
        client.delete(priority.key(delivery._keys))


class Down:
    calls = 0

    def get(self, key):
        self.calls += 1
        raise redis.ConnectionError("Redis is down")


def test_redis_down_does_not_hold_the_claim():
    down = Down()
    delivery._lane_free(down)
    assert down.calls == 1  # asked once, then the claim goes on (it meets Redis itself)
