"""The burst's counter (``zapx.campaigns.priority``) on the real Redis: counted with its
lifetime, taken off to nothing and gone, never negative, read with the run flag."""

from __future__ import annotations

import pytest

from zapx.campaigns import flags, priority
from zapx.redis import Keys, get_redis


@pytest.fixture
def lane(redis_url, redis_prefix):
    client = get_redis(redis_url)
    keys = Keys(redis_prefix + "priority:")
    yield client, keys
    client.delete(priority.key(keys), flags.run_key(keys, 1, 2))


def test_only_a_burst_counts():
    assert not priority.counts(priority.BURST_MIN - 1)
    assert priority.counts(priority.BURST_MIN)


def test_a_burst_is_counted_with_a_lifetime_and_taken_off_to_nothing(lane):
    client, keys = lane
    assert priority.firsts_enqueued(client, keys, 250) == 250
    assert priority.firsts_enqueued(client, keys, 250) == 500
    ttl_ms = client.pttl(priority.key(keys))
    assert 0 < ttl_ms <= priority.HOLD_MAX_S * 1000
    assert priority.pending(client, keys) == 500
    assert priority.firsts_done(client, keys, 250) == 250
    assert priority.firsts_done(client, keys, 300) == 0  # more than left: gone, not -50
    assert client.exists(priority.key(keys)) == 0
    assert priority.pending(client, keys) == 0


def test_taking_off_an_expired_count_writes_nothing(lane):
    """A message run twice, or after the count expired, leaves no key (a negative one would
    have no lifetime and hold nothing, but would eat the next burst's count)."""
    client, keys = lane
    assert priority.firsts_done(client, keys, 10) == 0
    assert client.exists(priority.key(keys)) == 0


def test_yielding_reads_the_count_and_the_run_flag(lane):
    client, keys = lane
    flag = flags.run_key(keys, 1, 2)
    client.set(flag, 7)
    assert priority.yielding(client, keys, flag, 7) == (False, True)
    priority.firsts_enqueued(client, keys, 100)
    assert priority.yielding(client, keys, flag, 7) == (True, True)
    assert priority.yielding(client, keys, flag, 8) == (True, False)
    client.delete(flag)
    assert priority.yielding(client, keys, flag, 7) == (True, False)
