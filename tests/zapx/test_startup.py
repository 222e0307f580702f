"""Every zapx process refuses to start on a Redis that can evict keys: the check alone, then
the real ``zapx api|engine|worker|realtime`` and ``dramatiq actors.worker`` against a Redis of
the test's own run with ``--maxmemory-policy allkeys-lru``."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time

import pytest

from tests.processes import ZAPX, Process, free_port
from tests.services import RedisServer
from zapx import startup
from zapx.startup import EXIT_REFUSED, policy_problem, require_noeviction

EVICTING = ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-ttl")


@pytest.fixture(scope="module")
def evicting(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("evicting"), "allkeys-lru", "evicting").start()
    yield server
    server.stop()


def test_only_noeviction_passes():
    assert policy_problem("noeviction") is None
    for policy in EVICTING:
        problem = policy_problem(policy)
        assert problem is not None and f"maxmemory-policy {policy}," in problem
        assert "needs noeviction" in problem


def test_the_check_passes_on_noeviction(redis_url):
    err = io.StringIO()
    require_noeviction(redis_url, "engine", err=err)
    assert err.getvalue() == ""


def test_the_check_refuses_an_evicting_redis_with_one_line(evicting):
    err = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        require_noeviction(evicting.url, "engine", err=err)
    assert stopped.value.code == EXIT_REFUSED
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"zapx engine: Redis at {evicting.url} has maxmemory-policy ")
    assert "allkeys-lru" in lines[0] and "needs noeviction" in lines[0]


def test_without_config_the_policy_is_read_from_info(tmp_path):
    server = RedisServer(tmp_path, "volatile-lru", extra=("--rename-command", "CONFIG", ""))
    server.start()
    try:
        err = io.StringIO()
        with pytest.raises(SystemExit):
            require_noeviction(server.url, "worker", err=err)
    finally:
        server.stop()
    assert "maxmemory-policy volatile-lru" in err.getvalue()


def test_a_redis_that_does_not_answer_is_waited_for_once_said(tmp_path):
    server = RedisServer(tmp_path)
    err, waits = io.StringIO(), []

    def sleep(seconds):  # the second wait finds it up
        waits.append(seconds)
        if len(waits) == 2:
            server.start()

    try:
        require_noeviction(server.url, "api", err=err, sleep=sleep)
    finally:
        server.stop()
    assert waits == [startup.RETRY_S, startup.RETRY_S]
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "does not answer" in lines[0] and "waiting" in lines[0]


def test_without_wait_a_redis_that_does_not_answer_is_left_to_the_caller():
    err = io.StringIO()
    require_noeviction(f"redis://127.0.0.1:{free_port()}/0", "worker", wait=False, err=err)
    assert err.getvalue() == ""


def test_every_process_refuses_to_start_on_an_evicting_redis(evicting, process_env, tmp_path):
    env = process_env | {
        "REDIS_URL": evicting.url,
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "REALTIME_BIND": f"127.0.0.1:{free_port()}",
        "API_WORKERS": "1",
    }
    commands = {
        "api": [ZAPX, "api"],
        "engine": [ZAPX, "engine"],
        "worker": [ZAPX, "worker", "--processes", "1", "--threads", "1"],
        "realtime": [ZAPX, "realtime"],
        # Dramatiq run by hand: its worker process checks (actors/worker.py) and exits 2.
        "dramatiq": [
            *(sys.executable, "-m", "dramatiq", "actors.worker", "--processes", "1"),
            *("--threads", "1"),
        ],
    }
    started = time.monotonic()
    procs = {name: Process(argv, env, tmp_path, name) for name, argv in commands.items()}
    outputs = {}
    for name, proc in procs.items():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.proc.wait(30)
        code = proc.proc.poll()
        proc.stop(timeout_s=5)  # no-op when it exited; else the group is stopped
        outputs[name] = (code, proc.output())
    elapsed = time.monotonic() - started
    print(f"five processes refused in {elapsed:.1f} s")
    for name, (code, text) in outputs.items():
        assert code == EXIT_REFUSED, f"{name} exited {code}:\n{text}"
        said = [line for line in text.splitlines() if "maxmemory-policy allkeys-lru" in line]
        assert len(said) == 1, f"{name}:\n{text}"
        assert "needs noeviction" in said[0]
        assert "Traceback" not in text, f"{name}:\n{text}"
