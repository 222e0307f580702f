"""The programs supervisord runs start, do their work, log JSON and stop cleanly on SIGTERM."""

from __future__ import annotations

import json
import socket
import uuid

import pytest
import urllib3

from tests.processes import ZAPX, Process, free_port, wait_for, wait_http
from zapx.redis import Keys, get_redis

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
    finally:
        code = proc.stop()
    assert code == 0, proc.output()
    events = [e["event"] for e in _json_lines(proc.output())]
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
