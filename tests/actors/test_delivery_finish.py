"""A worker whose batch is sent while PostgreSQL is down records it itself once PostgreSQL is
back (within the lease), instead of leaving it to the engine after the lease."""

from __future__ import annotations

import time

import pytest

from actors import delivery
from zapx.dependencies import DatabaseUnavailable


@pytest.fixture
def finishes(monkeypatch, database_url):
    """``batches.finish_batch`` failing as with PostgreSQL down ``down`` times, then working."""
    calls = {"down": 2, "tries": 0, "slept": []}

    def finish_batch(batch_id, outcomes):
        calls["tries"] += 1
        if calls["tries"] <= calls["down"]:
            raise DatabaseUnavailable("database", 1.0)
        return len(outcomes)

    monkeypatch.setattr(delivery.batches, "finish_batch", finish_batch)
    monkeypatch.setattr(delivery.time, "sleep", calls["slept"].append)
    return calls


def test_the_batch_is_recorded_once_postgresql_is_back(finishes):
    delivery._finish(7, [], time.monotonic() + 60)
    assert finishes["tries"] == 3
    assert finishes["slept"] and all(s >= 1 for s in finishes["slept"])


def test_past_the_lease_the_batch_is_left_to_the_engine(finishes):
    with pytest.raises(DatabaseUnavailable):
        delivery._finish(7, [], time.monotonic() + 0.5)
    assert finishes["tries"] == 1 and finishes["slept"] == []


def test_any_other_error_is_raised_at_once(monkeypatch, database_url):
    def finish_batch(batch_id, outcomes):
        raise ValueError("a bug")

    monkeypatch.setattr(delivery.batches, "finish_batch", finish_batch)
    with pytest.raises(ValueError):
        delivery._finish(7, [], time.monotonic() + 60)
