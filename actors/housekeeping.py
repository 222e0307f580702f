"""Dramatiq actors every worker runs whatever the campaigns are doing."""

from __future__ import annotations

import time

import dramatiq

from actors.broker import broker  # noqa: F401 - configures the broker before the actors below
from zapx.config import load_config
from zapx.redis import Keys, get_redis


@dramatiq.actor(queue_name="housekeeping", max_retries=0, time_limit=10_000, throws=())
def ping(token: str) -> None:
    """Answer a liveness probe: store ``token`` with the time it was seen (``zapx check``).

    Safe to run twice: it only overwrites the same key. The key expires after 300 s.
    """
    config = load_config()
    key = Keys(config.redis_prefix).of("worker", "ping", token)
    get_redis(config.redis_url).set(key, f"{time.time():.3f}", ex=300)
