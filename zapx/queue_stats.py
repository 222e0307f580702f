"""What waits in the Dramatiq broker's Redis queues, and which workers are alive, read straight
from the broker's keys (the governor, ``/metrics``, the alerts and ``/ops`` read it).

The Redis broker keeps, under its namespace ``ns`` (``REDIS_PREFIX`` + ``dramatiq``)::

    ns:q            list of the ids of messages waiting in queue q (the head is the oldest)
    ns:q.msgs       hash id -> message body: the waiting ones and those a worker holds
    ns:q.DQ.msgs    hash of the delayed messages (retries with backoff, ``delay=``)
    ns:q.XQ         sorted set of dead-lettered ids, scored by the time they died (ms)
    ns:__heartbeats__   sorted set worker id -> its last fetch (ms): one id per worker process

Bodies are Dramatiq's JSON encoding; ``message_timestamp`` is when the message was first sent
(ms since the epoch). Nothing here imports Dramatiq: the core reads the keys as they are.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence

import redis

#: The queues ``zapx worker`` consumes by default (the engine consumes ``engine``).
WORKER_QUEUES = ("delivery_first", "delivery", "housekeeping", "imports", "alerts")
#: Every Dramatiq queue zapx uses: what ``/metrics``, the alerts and ``/ops`` report.
QUEUES = ("engine", *WORKER_QUEUES)
#: Messages read at the head of each queue for the oldest one: a message given back by a dead
#: worker is pushed to the tail again, so the head's first is nearly, not always, the oldest.
HEAD = 10
#: A worker whose last fetch is older than this is not counted alive (seconds). Each consumer
#: fetches at least once a second while idle (``zapx worker``'s poll), so 10 s is several misses.
ALIVE_S = 10.0


@dataclasses.dataclass(frozen=True)
class QueueStat:
    """One queue's figures: waiting messages, delayed ones, dead-lettered ones, and the age of
    the oldest waiting message (seconds; 0 when none waits)."""

    name: str
    depth: int
    delayed: int
    dead: int
    oldest_age_s: float


def _timestamp_ms(body: bytes | str) -> float | None:
    try:
        return float(json.loads(body)["message_timestamp"])
    except (ValueError, KeyError, TypeError):
        return None


def queue_stats(
    client: redis.Redis,
    namespace: str,
    queues: Sequence[str],
    now: Callable[[], float] = time.time,
) -> list[QueueStat]:
    """The figures of each of ``queues`` (in that order), in two round trips.

    ``now`` is epoch seconds, the clock the message timestamps are read against.
    Raises ``redis.RedisError`` when Redis does not answer.
    """
    keys = [f"{namespace}:{queue}" for queue in queues]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
        pipe.hlen(key + ".DQ.msgs")
        pipe.zcard(key + ".XQ")
        pipe.lrange(key, 0, HEAD - 1)
    replies = pipe.execute()
    heads = replies[3::4]
    pipe = client.pipeline(transaction=False)
    for key, ids in zip(keys, heads, strict=True):
        if ids:
            pipe.hmget(key + ".msgs", ids)
    bodies = iter(pipe.execute())
    at = now()
    out = []
    for i, (queue, ids) in enumerate(zip(queues, heads, strict=True)):
        oldest_age_s = 0.0
        if ids:
            stamps = [_timestamp_ms(b) for b in next(bodies) if b is not None]
            stamps = [s for s in stamps if s is not None]
            if stamps:
                oldest_age_s = max(0.0, at - min(stamps) / 1000)
        depth, delayed, dead = replies[4 * i : 4 * i + 3]
        out.append(QueueStat(queue, int(depth), int(delayed), int(dead), oldest_age_s))
    return out


def workers_alive(
    client: redis.Redis,
    namespace: str,
    within_s: float = ALIVE_S,
    now: Callable[[], float] = time.time,
) -> int:
    """Worker processes (the engine's consumer included) that fetched within ``within_s``
    seconds. Raises ``redis.RedisError`` when Redis does not answer."""
    since_ms = (now() - within_s) * 1000
    return int(client.zcount(f"{namespace}:__heartbeats__", since_ms, "+inf"))
