"""What every zapx process checks before it starts: a Redis that cannot evict keys.

The queues (Dramatiq's), the send schedules, the run flags and the batches' progress live in
Redis; a key evicted under memory pressure is a message lost or a gap broken. Only
``maxmemory-policy noeviction`` keeps them: ``volatile-*`` policies evict every key with a TTL
(progress, flags, schedules have one), ``allkeys-*`` any key. So ``api`` (gunicorn's
``on_starting``), ``engine``, ``worker`` and ``realtime`` refuse to start on any other policy:
one line on stderr saying which policy was found, and exit status 2 (as for a bad variable).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

import redis

from zapx.config import mask_url
from zapx.redis import maxmemory_policy

NOEVICTION = "noeviction"
#: The exit status of a process refused by its start-up checks.
EXIT_REFUSED = 2
#: Seconds between tries while Redis does not answer at start.
RETRY_S = 1.0


def policy_problem(policy: str) -> str | None:
    """Why ``policy`` is refused (None: ``noeviction``, the one accepted)."""
    if policy == NOEVICTION:
        return None
    return (
        f"has maxmemory-policy {policy}, which can evict keys; zapx needs noeviction "
        "(queues and send schedules must never be evicted; volatile-* policies evict keys "
        "with a TTL). Set maxmemory-policy noeviction in redis.conf, or CONFIG SET "
        "maxmemory-policy noeviction"
    )


def require_noeviction(
    url: str,
    process: str,
    *,
    wait: bool = True,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return when the Redis at ``url`` runs with ``noeviction``; otherwise print why on
    stderr and exit with status 2.

    While Redis does not answer, wait for it (one line says so), retrying every RETRY_S
    seconds; with ``wait`` False, return at once instead (a Dramatiq worker process whose
    ``zapx worker`` has already checked: it must not hang in its import).
    """
    err = err or sys.stderr
    # Its own client, outside the process's breaker: a start-up wait is not an outage.
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, retry=None)
    waiting = False
    try:
        while True:
            try:
                policy = maxmemory_policy(client)
                break
            except redis.ResponseError as exc:
                _refuse(
                    process,
                    f"does not tell its maxmemory-policy ({exc}); zapx needs noeviction",
                    url,
                    err,
                )
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if not wait:
                    return
                if not waiting:
                    print(
                        f"zapx {process}: Redis at {mask_url(url)} does not answer ({exc}); "
                        "waiting for it to check its maxmemory-policy",
                        file=err,
                        flush=True,
                    )
                    waiting = True
                sleep(RETRY_S)
    finally:
        client.close()
    problem = policy_problem(policy)
    if problem is not None:
        _refuse(process, problem, url, err)


def _refuse(process: str, problem: str, url: str, err: TextIO) -> None:
    print(f"zapx {process}: Redis at {mask_url(url)} {problem}", file=err, flush=True)
    sys.exit(EXIT_REFUSED)
