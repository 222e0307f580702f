"""The programs supervisord runs start, do their work, log JSON and stop cleanly on SIGTERM;
a ``kill -9`` of a process manager (Dramatiq's main process, gunicorn's arbiter, pytest) leaves
none of its children running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import urllib3

from tests.actors.campaigns import (
    check_exactly_once,
    make_list,
    sandbox_count,
    sandbox_messages,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.actors.conftest import Stack
from tests.processes import ZAPX, Process, free_port, running, wait_for, wait_http
from zapx.campaigns import inflight
from zapx.db import db
from zapx.redis import Keys, get_redis

ROOT = Path(__file__).resolve().parents[2]
#: Seconds an orphaned worker process may take, past the end of its work, to notice and exit:
#: the parent watch's 1 s poll plus the worker's own 1 s loop, with margin for a loaded machine.
ORPHAN_EXIT_S = 5.0

pytestmark = pytest.mark.usefixtures("clean_db")


def _json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_sandbox_records_messages_and_stops(process_env, tmp_path):
    port = free_port()
    proc = Process([ZAPX, "sandbox", "--bind", f"127.0.0.1:{port}"], process_env, tmp_path, "sb")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health", proc=proc)
        http = urllib3.PoolManager()
        body = {
            "messaging_product": "whatsapp",
            "to": "5511987654321",
            "type": "text",
            "text": {"body": "olá"},
        }
        resp = http.request("POST", base + "/v20.0/123/messages", json=body)
        assert resp.status == 200
        wamid = resp.json()["messages"][0]["id"]
        assert wamid.startswith("wamid.")
        bad = http.request("POST", base + "/v20.0/123/messages", json={"type": "text"})
        assert bad.status == 400
        recorded = http.request("GET", base + "/_sandbox/messages?after=0").json()
        assert recorded["count"] == 1
        assert recorded["messages"][0]["id"] == wamid
        assert recorded["messages"][0]["payload"]["text"]["body"] == "olá"
    finally:
        code = proc.stop()
    assert code == 0
    events = [e["event"] for e in _json_lines(proc.output())]
    assert "sandbox listening" in events and "sandbox stopped" in events


def test_engine_consumes_its_queue_and_stops(process_env, broker, tmp_path):
    from actors.inbox import engine_command

    proc = Process([ZAPX, "engine"], process_env, tmp_path, "engine")
    token = uuid.uuid4().hex
    key = Keys(process_env["REDIS_PREFIX"]).of("engine", "ping", token)
    client = get_redis(process_env["REDIS_URL"])
    try:
        engine_command.send({"kind": "ping", "token": token})
        wait_for(lambda: client.exists(key), what="engine ping", timeout_s=30)
        children = psutil.Process(proc.proc.pid).children(recursive=True)
    finally:
        code = proc.stop()
    assert code == 0, proc.output()
    events = [e["event"] for e in _json_lines(proc.output())]
    # Nothing to orphan: the engine is one process (its actors are threads).
    assert children == []
    assert events.index("engine started") < events.index("engine stopped")
    assert "directory stopped" in events


def test_worker_consumes_and_stops(process_env, broker, tmp_path):
    from actors.housekeeping import ping

    proc = Process(
        [ZAPX, "worker", "--processes", "1", "--threads", "1"], process_env, tmp_path, "worker"
    )
    token = uuid.uuid4().hex
    key = Keys(process_env["REDIS_PREFIX"]).of("worker", "ping", token)
    client = get_redis(process_env["REDIS_URL"])
    try:
        ping.send(token)
        wait_for(lambda: client.exists(key), what="worker ping", timeout_s=30)
    finally:
        code = proc.stop(timeout_s=30)
    assert code == 0, proc.output()
    assert any(e.get("process") == "worker" for e in _json_lines(proc.output()))


def test_gunicorn_serves_the_api(process_env, tmp_path):
    from tests.conftest import PASSWORD, make_company, make_user

    company = make_company("gunicorn-co")
    make_user(company, "admin@gunicorn.test")
    port = free_port()
    env = process_env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "API_WORKERS": "1"}
    proc = Process([ZAPX, "api"], env, tmp_path, "api")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health", proc=proc)
        # A connection that never sends must not hold the one sync worker (TCP_DEFER_ACCEPT).
        silent = socket.create_connection(("127.0.0.1", port))
        http = urllib3.PoolManager(timeout=5.0, retries=False)
        assert http.request("GET", base + "/health").json()["status"] == "ok"
        silent.close()
        login = http.request(
            "POST",
            base + "/auth/login",
            json={"email": "admin@gunicorn.test", "password": PASSWORD},
        )
        assert login.status == 200
        headers = {"Authorization": "Bearer " + login.json()["token"]}
        created = http.request(
            "POST",
            base + "/contacts",
            json={"name": "Ana", "number": "11 98765-4321"},
            headers=headers,
        )
        assert created.status == 201, created.data
        assert created.json()["number"] == "5511987654321"
        assert "X-Request-Id" in created.headers
        denied = http.request("GET", base + "/contacts")
        assert denied.status == 401
    finally:
        code = proc.stop()
    assert code == 0
    access = [e for e in _json_lines(proc.output()) if e.get("event") == "request"]
    assert any(e["path"] == "/contacts" and e["status"] == 201 for e in access)


def _statuses(campaign_id: int) -> dict[str, int]:
    """Rows by status as readers see it (``sending``: queued in a claimed batch)."""
    with db.connection_context():
        rows = db.execute_sql(
            f"SELECT {inflight.status_sql()}, count(*) FROM campaign_shipping "
            "WHERE campaign_id = %s GROUP BY 1",
            (campaign_id,),
        ).fetchall()
    return dict(rows)


def test_worker_processes_finish_their_batch_and_exit_when_the_main_is_killed(
    client, account, process_env, broker, tmp_path
):
    contacts = 40
    stack = Stack(process_env, tmp_path)
    stack.start("sandbox")
    stack.start("engine")
    worker = Process(
        [ZAPX, "worker", "--processes", "2", "--threads", "2"], stack.env, tmp_path, "worker"
    )
    try:
        # 0.1 s between messages: the batch in hand lasts seconds after the kill.
        setup = setup_company(client, account, stack.sandbox, "orphan", messageInterval=0.1)
        acct = setup["account"]
        list_id = make_list(acct.company_id, contacts)
        campaign_id = start_campaign(client, acct, list_id, setup["whatsapp_id"])
        wait_for(lambda: sandbox_count(stack.sandbox) >= 5, timeout_s=60, what="5 sends")
        children = psutil.Process(worker.proc.pid).children()
        assert len(children) == 2
        os.kill(worker.proc.pid, signal.SIGKILL)  # the main process alone, as a crash would
        worker.proc.wait(10)
        killed_at, at_kill = time.time(), sandbox_count(stack.sandbox)
        exits = []
        gone, alive = psutil.wait_procs(children, 30, callback=lambda _: exits.append(time.time()))
        assert not alive, f"worker processes still running 30 s after the main's death: {alive}"
        # What they held was finished, not cut: sending went on after the kill, every accepted
        # message is recorded sent, and no row was left on the wire ("sending").
        accepted = sandbox_messages(stack.sandbox)
        statuses = _statuses(campaign_id)
        assert len(accepted) > at_kill
        assert statuses.get("sent") == len(accepted), statuses
        assert "sending" not in statuses and "unknown" not in statuses, statuses
        # And they exited within a few seconds of their last message.
        done_at = max(killed_at, max(m["ts"] for m in accepted))
        assert max(exits) - done_at <= ORPHAN_EXIT_S, (max(exits) - done_at, worker.output())
        assert "parent process gone" in worker.output()

        # A new worker sends the rest: every contact exactly once, none unknown.
        stack.start("worker")
        wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
        check_exactly_once(stack.sandbox, campaign_id, contacts, {"sent"})
    finally:
        worker.stop()
        stack.stop()


def test_api_workers_exit_when_gunicorn_master_is_killed(process_env, tmp_path):
    port = free_port()
    env = process_env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "API_WORKERS": "2"}
    proc = Process([ZAPX, "api"], env, tmp_path, "api")
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
        wait_for(lambda: len(psutil.Process(proc.proc.pid).children()) == 2, what="2 workers")
        workers = psutil.Process(proc.proc.pid).children()
        os.kill(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(10)
        killed = time.monotonic()
        # An idle sync worker would otherwise notice only after timeout/2 (60 s) in select().
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, f"gunicorn workers still running 30 s after the arbiter's death: {alive}"
        assert time.monotonic() - killed <= ORPHAN_EXIT_S
    finally:
        proc.stop()


def test_a_killed_test_run_takes_its_processes_along(process_env, tmp_path):
    """pytest killed by -9 (a CI timeout): what it started dies, and what they forked too."""
    script = (
        "import os, sys, time, pathlib\n"
        "from tests.processes import ZAPX, Process\n"
        "argv, tmp = [ZAPX, 'worker', '--processes', '1'], pathlib.Path(sys.argv[1])\n"
        "proc = Process(argv, dict(os.environ), tmp, 'w')\n"
        "print(proc.proc.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        main = psutil.Process(int(runner.stdout.readline()))
        wait_for(lambda: len(main.children()) == 1, what="the worker process", timeout_s=30)
        family = [main, *main.children()]
        runner.kill()
        runner.wait(10)
        _, alive = psutil.wait_procs(family, timeout=15)
        assert not alive, f"still running after the test process died: {alive}"
    finally:
        runner.kill()
        runner.wait(10)
        for member in psutil.process_iter():
            try:
                if os.getpgid(member.pid) == main.pid:
                    member.kill()
            except (ProcessLookupError, psutil.Error, NameError):
                pass


def test_stopping_a_process_stops_what_it_left_behind(process_env, tmp_path):
    # A main process that exits and leaves a child running in its process group.
    proc = Process(["bash", "-c", "sleep 300 & echo $!"], process_env, tmp_path, "leaver")
    wait_for(lambda: proc.output().strip().isdigit(), what="the child's pid")
    child = psutil.Process(int(proc.output()))
    proc.proc.wait(10)
    assert child.is_running() and proc in running()
    proc.stop()
    child.wait(5)
    assert not child.is_running() and proc not in running()
