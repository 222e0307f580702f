"""The run-flag read before each send: shared by a process's threads only for unpaced bursts."""

import time

import pytest

from actors import delivery


@pytest.fixture
def reads(monkeypatch):
    seen = []

    def running_generation(redis, keys, campaign_id):
        seen.append(campaign_id)
        return 3

    monkeypatch.setattr(delivery.flags, "running_generation", running_generation)
    monkeypatch.setattr(delivery, "_flag_seen", {})
    monkeypatch.setattr(delivery, "_flag_reading", set())
    return seen


def test_a_fresh_shared_read_is_reused(reads):
    assert delivery._running(None, 7, shared=True) == 3
    assert delivery._running(None, 7, shared=True) == 3
    assert reads == [7]


def test_paced_sends_always_read(reads):
    delivery._running(None, 7, shared=True)
    assert delivery._running(None, 7, shared=False) == 3
    assert delivery._running(None, 7, shared=False) == 3
    assert reads == [7, 7, 7]


def test_a_stale_read_is_read_again(reads):
    delivery._flag_seen[7] = (time.monotonic() - delivery.FLAG_RECHECK_S * 2, 3)
    delivery._running(None, 7, shared=True)
    assert reads == [7]
    assert 7 not in delivery._flag_reading  # the marker goes when the read ends


def test_while_one_thread_reads_the_others_keep_the_last_value(reads):
    delivery._flag_seen[7] = (time.monotonic() - delivery.FLAG_RECHECK_S * 2, 2)
    delivery._flag_reading.add(7)  # another thread's GET is in flight
    assert delivery._running(None, 7, shared=True) == 2
    assert reads == []
    # ... but not for long: a reader that hangs does not freeze the flag.
    delivery._flag_seen[7] = (time.monotonic() - delivery.FLAG_WAIT_MAX_S * 2, 2)
    assert delivery._running(None, 7, shared=True) == 3
    assert reads == [7]
