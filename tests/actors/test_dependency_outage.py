"""A worker and an engine while PostgreSQL or Redis is down: no hot loop, no log flood, and the
work picked up again when the dependency is back.

Real ``zapx worker`` and ``zapx engine`` processes; PostgreSQL is "down" as a port nobody
listens on, Redis is one of the test's own (``tests/services.py``) that it stops and starts.
Each test counts the attempts, the log lines and the CPU the processes used over a few seconds,
and prints them (docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import time
import uuid

import dramatiq
import psutil
import pytest

from actors import delivery
from actors.broker import make_broker
from tests.processes import ZAPX, Process, free_port, wait_for
from tests.services import RedisServer, wait_until
from zapx import dependencies
from zapx.breakers import Breaker, Policy
from zapx.config import load_config
from zapx.dependencies import RedisUnavailable
from zapx.redis import Keys, get_redis

#: Seconds each test watches the process while its dependency is down.
WATCH_S = 3.0


def lines(proc: Process) -> list[dict]:
    return [json.loads(x) for x in proc.output().splitlines() if x.startswith("{")]


def cpu_s(proc: Process) -> float:
    total = 0.0
    for member in proc.group():
        try:
            times = member.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def watch(proc: Process, seconds: float) -> tuple[list[dict], float]:
    """The log lines written and the CPU seconds used over ``seconds`` from now."""
    before_lines, before_cpu = len(lines(proc)), cpu_s(proc)
    time.sleep(seconds)  # the watch itself: what the process does meanwhile is measured
    return lines(proc)[before_lines:], cpu_s(proc) - before_cpu


def send(env: dict, actor_name: str, queue: str, *args) -> None:
    broker = make_broker(load_config(env))
    broker.declare_queue(queue)
    broker.enqueue(
        dramatiq.Message(queue_name=queue, actor_name=actor_name, args=args, kwargs={}, options={})
    )
    broker.close()


@pytest.fixture
def env(process_env):
    """This test's own Redis key prefix: its queues are seen by its processes only."""
    return process_env | {"REDIS_PREFIX": f"{process_env['REDIS_PREFIX']}{uuid.uuid4().hex[:6]}:"}


def test_a_worker_and_an_engine_with_postgres_down_back_off(env, tmp_path):
    env = env | {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/zapx"}
    worker = Process([ZAPX, "worker", "--processes", "1", "--threads", "4"], env, tmp_path, "w")
    engine = Process([ZAPX, "engine"], env, tmp_path, "engine")
    try:
        wait_for(lambda: any("ready" in e["event"] for e in lines(worker)), 20, "worker up")
        wait_for(lambda: any(e["event"] == "engine started" for e in lines(engine)), 20, "up")
        for batch_id in range(1, 6):
            send(env, "deliver_batch", "delivery", batch_id, 1)
        before = len(lines(engine)), cpu_s(engine)
        seen, cpu = watch(worker, WATCH_S)
        engine_seen, engine_cpu = lines(engine)[before[0] :], cpu_s(engine) - before[1]
        assert engine.proc.poll() is None, engine.output()  # it waits; it does not exit
    finally:
        worker.stop(timeout_s=30)
        engine.stop(timeout_s=30)
    retries = [e for e in seen if e["event"].startswith("Retrying message")]
    # Since the worker's start: the first claims may fail, and open it, before the watch began.
    opened = [e for e in lines(worker) if e["event"] == "breaker opened"]
    errors = [e for e in seen if e["level"] in ("error", "critical")]
    engine_opened = [e for e in lines(engine) if e["event"] == "breaker opened"]
    print(
        f"\nworker, postgres down, 5 batches, {WATCH_S:.0f} s: {len(retries)} attempts, "
        f"{len(seen)} log lines ({len(opened)} breaker opened), {cpu:.2f} CPU s"
        f"\nengine, postgres down, {WATCH_S:.0f} s: {len(engine_seen)} log lines "
        f"({len(engine_opened)} breaker opened since its start), {engine_cpu:.2f} CPU s"
    )
    # A hot loop would make hundreds: each batch comes back after the breaker's open time.
    assert 5 <= len(retries) <= 5 * 3, [e["event"] for e in seen]
    assert len(opened) == 1 and opened[0]["breaker"] == "database"
    assert errors == [], errors  # no "failed to process" per batch: the breaker said it once
    assert len(seen) <= 2 * len(retries) + 5
    assert cpu < 1.0
    # The engine: no tick while the breaker is open (a tick every 0.25 s, each logging its
    # failure, would be 12 lines here), and one line for the outage.
    assert len(engine_seen) <= 2, [e["event"] for e in engine_seen]
    assert len(engine_opened) == 1 and engine_opened[0]["breaker"] == "database"
    assert engine_cpu < 0.5


def test_a_worker_with_redis_down_backs_off_and_resumes(env, tmp_path):
    cache = RedisServer(tmp_path, name="worker-redis").start()
    env = env | {"REDIS_URL": cache.url}
    worker = Process([ZAPX, "worker", "--processes", "1", "--threads", "4"], env, tmp_path, "w")
    client = get_redis(cache.url)
    try:
        wait_for(lambda: any("ready" in e["event"] for e in lines(worker)), 20, "worker up")
        cache.stop()
        seen, cpu = watch(worker, WATCH_S)
        cache.start()
        token = uuid.uuid4().hex
        key = Keys(env["REDIS_PREFIX"]).of("worker", "ping", token)
        send(env, "ping", "housekeeping", token)
        back_s = wait_until(lambda: client.exists(key), 30, "the worker consuming again")
    finally:
        worker.stop(timeout_s=30)
        cache.stop()
    print(
        f"\nworker, redis down, {WATCH_S:.0f} s: {len(seen)} log lines, {cpu:.2f} CPU s; "
        f"a message sent after the restart done in {back_s:.2f} s"
    )
    assert cpu < 1.0
    assert len(seen) <= 40, [e["event"] for e in seen]


def test_no_claim_while_a_breaker_is_open_and_a_retry_after_its_probe(monkeypatch):
    down = Breaker("redis", Policy(consecutive=1, open_s=2), refuse=RedisUnavailable)
    monkeypatch.setattr(dependencies, "BREAKERS", (down,))
    down.failure("refused")
    # Nothing is touched: the batch and company do not exist, nor would Redis be asked.
    with pytest.raises(delivery.DependencyRetry) as later:
        delivery._deliver(10**9, 10**9)
    assert 2000 <= later.value.delay <= 3000  # the time to the probe, and up to half of jitter
    # Retried as long as the outage lasts; any other failure MAX_RETRIES times.
    assert delivery._retry_when(1000, later.value)
    assert delivery._retry_when(delivery.MAX_RETRIES - 1, ValueError("bug"))
    assert not delivery._retry_when(delivery.MAX_RETRIES, ValueError("bug"))
