"""Senders for the gate tests: threads (in this process or a spawned one) sending on one
connection through :class:`~zapx.schedule.SendGate`, each request "arriving" at the server after
a random delay, as a worker's HTTP request would."""

from __future__ import annotations

import random
import threading
import time

from zapx.campaigns.pacing import PacingSettings
from zapx.redis import Keys, get_redis
from zapx.schedule import Grant, SendGate

#: (departure right after the grant, arrival, holder, grant's Redis time), seconds.
Record = tuple[float, float, str, float]


def send_loop(
    gate: SendGate,
    company_id: int,
    whatsapp_id: int,
    settings: PacingSettings,
    holder: str,
    start_at: float,
    stop_at: float,
    max_delay_s: float,
    seed: int,
    limits=(),
) -> list[Record]:
    """Sends until ``stop_at`` (epoch s), each to a recipient of its own; a Wait is slept."""
    rng = random.Random(seed)
    out: list[Record] = []
    done_mono = None
    time.sleep(max(0.0, start_at - time.time()))
    i = 0
    while time.time() < stop_at:
        ago = time.monotonic() - done_mono if done_mono is not None else 0.0
        i += 1
        r = gate.acquire(whatsapp_id, company_id, 1, f"{holder}-{i}", settings, limits, holder, ago)
        if isinstance(r, Grant):
            departed = time.time()
            time.sleep(rng.uniform(0, max_delay_s))  # the request on its way to the server
            arrived = time.time()
            done_mono = time.monotonic()  # its answer came back
            out.append((departed, arrived, holder, r.at_s))
        else:
            time.sleep(min(r.wait_s, 0.05))
    if done_mono is not None:
        gate.release(whatsapp_id, company_id, holder, time.monotonic() - done_mono)
    return out


def run_threads(
    redis_url: str,
    prefix: str,
    company_id: int,
    whatsapp_id: int,
    settings: PacingSettings,
    name: str,
    threads: int,
    start_at: float,
    stop_at: float,
    max_delay_s: float = 0.03,
    limits=(),
) -> list[Record]:
    """``threads`` senders in this process (a spawned child's entry point too)."""
    gate = SendGate(get_redis(redis_url), Keys(prefix))
    results: list[list[Record]] = [[] for _ in range(threads)]

    def one(k: int) -> None:
        results[k] = send_loop(
            gate,
            company_id,
            whatsapp_id,
            settings,
            f"{name}t{k}",
            start_at,
            stop_at,
            max_delay_s,
            hash((name, k)),
            limits,
        )

    pool = [threading.Thread(target=one, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return [rec for res in results for rec in res]


def child(
    barrier, queue, redis_url, prefix, company_id, whatsapp_id, settings, name, threads, duration_s
):
    """A spawned process's senders: they start when every process is ready (``barrier``) and
    send for ``duration_s``; the records go to ``queue`` as ``(name, records)``."""
    barrier.wait(timeout=60)
    start_at = time.time()
    records = run_threads(
        redis_url,
        prefix,
        company_id,
        whatsapp_id,
        settings,
        name,
        threads,
        start_at,
        start_at + duration_s,
    )
    queue.put((name, records))
