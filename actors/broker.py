"""Dramatiq broker set-up. Import this module before any Dramatiq actor is defined.

The broker is a :class:`~dramatiq.brokers.redis.RedisBroker` (``actors.redis_broker``: a full
consumer refills as its messages are acked, and bulk enqueues) on ``REDIS_URL`` (through a
``zapx.redis`` client: timeouts, retries, the process's redis breaker) whose keys live
under ``REDIS_PREFIX`` + ``dramatiq`` so that several installs (and the tests) share one Redis
without seeing each other's queues.
"""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications
from dramatiq.middleware import TimeLimit as TimeLimitMiddleware

from actors.metrics import Metrics
from actors.redis_broker import Broker, FreeThreads
from zapx.config import Config, load_config
from zapx.redis import make_client


def make_broker(config: Config) -> Broker:
    """A Redis broker for ``config``, without Dramatiq's Prometheus middleware (it would open
    an HTTP exporter in every worker process): zapx's own (``actors.metrics``) instead."""
    middleware = [
        AgeLimit(),
        TimeLimitMiddleware(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        # Before Retries: "after" hooks run in reverse order, so Metrics' runs after Retries
        # decided (in the same hook) whether a failed message runs again.
        Metrics(),
        Retries(),
        # The main worker takes a first batch only with a thread free to send it at once.
        FreeThreads("delivery_first"),
    ]
    return Broker(
        # zapx's client: socket timeouts (Dramatiq's own has none, so a Redis that stops
        # answering held a consumer forever) and the process's redis breaker; no pool limit,
        # as Dramatiq's own (a consumer per queue and delay queue, and every sender).
        client=make_client(config.redis_url, max_connections=None),
        namespace=config.redis_prefix + "dramatiq",
        middleware=middleware,
        # Seconds a worker may hold unacked messages before another worker takes them back.
        heartbeat_timeout=60_000,
        dead_message_ttl=7 * 86_400_000,
    )


#: The process's broker, built from the environment when this module is first imported.
broker = make_broker(load_config())
dramatiq.set_broker(broker)
