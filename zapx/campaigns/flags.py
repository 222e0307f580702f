"""The per-campaign "running" flag in Redis that workers check before every send (DESIGN rule 4).

A Redis ``GET`` costs about 50 µs, a query several times that; the flag lets a pause or a cancel
stop sending within one message. PostgreSQL stays the truth: the engine re-sets the flags of every
running campaign when it starts, so a flushed Redis cannot leave a running campaign stopped for
longer than an engine restart.
"""

from __future__ import annotations

import redis

from zapx.redis import Keys


def run_key(keys: Keys, campaign_id: int) -> str:
    return keys.of("campaign", campaign_id, "run")


def set_running(client: redis.Redis, keys: Keys, campaign_id: int, generation: int) -> None:
    """Mark the campaign running in ``generation`` (batches of other generations stop)."""
    client.set(run_key(keys, campaign_id), generation)


def clear_running(client: redis.Redis, keys: Keys, campaign_id: int) -> None:
    client.delete(run_key(keys, campaign_id))


def running_generation(client: redis.Redis, keys: Keys, campaign_id: int) -> int | None:
    raw = client.get(run_key(keys, campaign_id))
    return int(raw) if raw is not None else None
