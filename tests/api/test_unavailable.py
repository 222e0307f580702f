"""The API while PostgreSQL or Redis is down: 503 ``ERR_UNAVAILABLE`` with a ``Retry-After``,
within 2 s, never a 500 nor a hang, and back to 200 once the dependency is back.

The real ``zapx api`` (gunicorn, one sync worker) against a PostgreSQL and a Redis of the test's
own (``tests/services.py``), which it stops, hangs (SIGSTOP: connections accepted, nothing
answered) and starts again. Each test prints its figures (docs/RELIABILITY.md).
"""

from __future__ import annotations

import subprocess
import time

import pytest
import urllib3

from tests.processes import ZAPX, Process, free_port, wait_http
from tests.services import PostgresServer, RedisServer, wait_until

PASSWORD = "outage-password-1"
EMAIL = "admin@demo.zapx"  # zapx demo's admin
#: The most a request may take while a dependency is down.
LIMIT_S = 2.0


class Api:
    def __init__(self, base: str):
        self.base = base
        self.http = urllib3.PoolManager(timeout=10.0, retries=False)
        self.headers: dict = {}

    def call(self, method: str, path: str, **kwargs) -> tuple[urllib3.BaseHTTPResponse, float]:
        started = time.perf_counter()
        resp = self.http.request(method, self.base + path, headers=self.headers, **kwargs)
        return resp, time.perf_counter() - started

    def login(self) -> urllib3.BaseHTTPResponse:
        resp, _ = self.call("POST", "/auth/login", json={"email": EMAIL, "password": PASSWORD})
        if resp.status == 200:
            self.headers = {"Authorization": "Bearer " + resp.json()["token"]}
        return resp


#: What the frontend calls most: logins (Redis: the login limits), lists (PostgreSQL; the
#: contacts page through the query cache), a command (PostgreSQL, then Redis), the health check.
ROUTES = [
    ("POST", "/auth/login", {"json": {"email": EMAIL, "password": PASSWORD}}),
    ("GET", "/contacts", {}),
    ("GET", "/campaigns", {}),
    ("GET", "/whatsapps", {}),
    ("POST", "/campaigns/999999/pause", {}),
    ("GET", "/health", {}),
]


@pytest.fixture(scope="module")
def services(tmp_path_factory, process_env):
    tmp = tmp_path_factory.mktemp("outage")
    pg = PostgresServer(tmp).init().start()
    cache = RedisServer(tmp, name="outage-redis").start()
    env = process_env | {
        "DATABASE_URL": pg.url("zapx_outage"),
        "REDIS_URL": cache.url,
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "API_WORKERS": "1",
    }
    for argv in ([ZAPX, "migrate"], [ZAPX, "demo", "--password", PASSWORD]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    api = Process([ZAPX, "api"], env, tmp, "api")
    base = "http://" + env["GUNICORN_BIND"]
    try:
        wait_http(base + "/health", proc=api)
        yield pg, cache, Api(base), api
    finally:
        api.stop()
        cache.stop()
        pg.remove()


def sweep(api: Api, rounds: int) -> list[tuple[str, int, float]]:
    """Every route ``rounds`` times: (route, status, seconds); asserts the outage's rules."""
    seen = []
    for _ in range(rounds):
        for method, path, kwargs in ROUTES:
            resp, took = api.call(method, path, **kwargs)
            where = f"{method} {path}: {resp.status} in {took:.3f} s: {resp.data[:300]!r}"
            assert resp.status != 500, where
            assert took < LIMIT_S, where
            if resp.status == 503 and path == "/health":  # it says which one is down
                assert resp.json()["status"] == "unavailable", where
            elif resp.status == 503:
                assert resp.json()["error"] == "ERR_UNAVAILABLE", where
                assert int(resp.headers["Retry-After"]) >= 1, where
            else:
                assert resp.status < 500, where
            seen.append((f"{method} {path}", resp.status, took))
    return seen


def report(fault: str, seen, recovered_s: float) -> None:
    unavailable = [took for _, status, took in seen if status == 503]
    print(
        f"\n{fault}: {len(seen)} requests, {len(unavailable)} answered 503, slowest "
        f"{max(took for *_, took in seen):.3f} s, slowest 503 {max(unavailable):.3f} s, "
        f"median 503 {sorted(unavailable)[len(unavailable) // 2] * 1000:.1f} ms; "
        f"200 again {recovered_s:.2f} s after the restart"
    )


def up(api: Api) -> bool:
    return api.login().status == 200


def test_redis_stopped(services):
    pg, cache, api, _ = services
    wait_until(lambda: up(api), 20, "the API up")
    cache.stop()
    try:
        seen = sweep(api, 5)
    finally:
        cache.start()
    statuses = {route: status for route, status, _ in seen}
    assert statuses["POST /auth/login"] == 503  # the login limits are in Redis
    assert statuses["GET /contacts"] == 200  # the query cache steps aside: PostgreSQL answers
    report("redis stopped", seen, wait_until(lambda: up(api), 20, "the API back"))


def test_redis_hung(services):
    pg, cache, api, _ = services
    wait_until(lambda: up(api), 20, "the API up")
    cache.pause()
    try:
        seen = sweep(api, 5)
    finally:
        cache.resume()
    assert any(status == 503 for _, status, _ in seen)
    # The first calls wait for the API client's timeouts (0.5 s, one retry); once the breaker
    # is open, only its probes do (one call's timeout each time it half-opens).
    later = [took for _, status, took in seen[len(ROUTES) :] if status == 503]
    assert later and max(later) < 0.6, later
    assert sum(took < 0.1 for took in later) >= 0.8 * len(later), later
    report("redis hung (SIGSTOP)", seen, wait_until(lambda: up(api), 20, "the API back"))


def test_postgres_stopped(services):
    pg, cache, api, proc = services
    wait_until(lambda: up(api), 20, "the API up")
    pg.stop()
    try:
        seen = sweep(api, 5)
    finally:
        pg.start()
    statuses = {route: status for route, status, _ in seen}
    assert statuses["POST /auth/login"] == statuses["GET /contacts"] == 503
    report("postgres stopped", seen, wait_until(lambda: up(api), 30, "the API back"))
    # One line when the breaker opened, one when it closed: not one per failed request.
    log = proc.output()
    assert log.count('"breaker opened"') >= 1 and log.count('"breaker closed"') >= 1
    assert log.count('"breaker opened"') <= 6  # three outages here, one worker
