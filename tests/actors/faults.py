"""Helpers of the fault tests (``tests/actors/test_faults.py``): the stack's API process driven
over HTTP, the API's sweep while a dependency is down, kills of each process kind, and what a
fault's run measured.

The API process is called the way the falcon test client is (``simulate_get`` ...), so the
helpers of ``tests/actors/campaigns.py`` drive it unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import time

import psutil
import urllib3

from tests.actors.campaigns import (
    ANSWER_MARGIN_S,
    KillUnknowns,
    kill9,
    sandbox_count,
    sandbox_messages,
)
from tests.conftest import PASSWORD, Account, login, make_company, make_user
from tests.processes import wait_for
from zapx.campaigns.batches import LOST_MID_SEND

#: The most an API request may take while a dependency is down, s (the issue: 503 within 2 s).
API_LIMIT_S = 2.0
#: Seconds an orphaned worker process may take to finish its batch and exit, or Dramatiq's main
#: process to stop the others after one of its processes died.
WORKER_EXIT_S = 60.0


@dataclasses.dataclass(frozen=True)
class Answer:
    status_code: int
    text: str
    took_s: float

    @functools.cached_property
    def json(self):
        return json.loads(self.text) if self.text else None


class HttpApi:
    """``simulate_*`` calls like falcon's test client, sent to a running ``zapx api``; every
    call waits at most ``timeout_s`` (a hang fails the sweep's time limit, not the test run).

    A 503 is asked again after its ``Retry-After``, for up to ``retry_503_s``, as a client
    would: after an outage, each gunicorn worker refuses until its own breaker's next probe.
    The sweep asks once (:meth:`once`): it records what the API answered."""

    def __init__(self, base: str, timeout_s: float = 10.0, retry_503_s: float = 15.0):
        self.base = base
        self.http = urllib3.PoolManager(timeout=timeout_s, retries=False)
        self.retry_503_s = retry_503_s

    def once(self, method: str, path: str, json=None, headers=None) -> Answer:
        started = time.perf_counter()
        resp = self.http.request(method, self.base + path, json=json, headers=headers)
        return Answer(resp.status, resp.data.decode(), time.perf_counter() - started)

    def simulate_request(self, method: str, path: str, json=None, headers=None) -> Answer:
        deadline = time.monotonic() + self.retry_503_s
        while True:
            answer = self.once(method, path, json=json, headers=headers)
            if answer.status_code != 503 or time.monotonic() > deadline:
                return answer
            time.sleep(0.2)

    def simulate_get(self, path: str, **kwargs) -> Answer:
        return self.simulate_request("GET", path, **kwargs)

    def simulate_post(self, path: str, **kwargs) -> Answer:
        return self.simulate_request("POST", path, **kwargs)


def account_factory(client: HttpApi):
    """``account(name)``: a company with its admin, logged in through the API process."""

    def make(name: str) -> Account:
        company_id = make_company(name)
        email = f"admin@{name}.test"
        user_id = make_user(company_id, email)
        return Account(company_id, user_id, email, login(client, email))

    return make


def api_back_s(client: HttpApi, acct: Account, timeout_s: float = 60) -> float:
    """Seconds until the API answers 200 to a route that reads PostgreSQL and to one that
    needs Redis (the login's limits)."""
    started = time.monotonic()

    def ok() -> bool:
        routes = (("GET", "/campaigns", None), ("POST", "/auth/login", {"email": acct.email}))
        for method, path, body in routes:
            body = body and body | {"password": PASSWORD}
            resp = client.once(method, path, json=body, headers=acct.headers)
            if resp.status_code != 200:
                return False
        return True

    wait_for(ok, timeout_s, "the API back")
    return time.monotonic() - started


@dataclasses.dataclass
class Sweep:
    """What the API answered while a dependency was down: ``(route, status, seconds)``."""

    seen: list = dataclasses.field(default_factory=list)
    #: What the campaign report's ``waitingBecause`` said meanwhile.
    waiting: set = dataclasses.field(default_factory=set)

    def figures(self) -> str:
        if not self.seen:
            return "API not swept"
        unavailable = [took for _, status, took in self.seen if status == 503]
        waiting = sorted(str(w) for w in self.waiting)
        return (
            f"API: {len(self.seen)} requests, {len(unavailable)} answered 503, slowest "
            f"{max(took for *_, took in self.seen):.3f} s; waitingBecause: {waiting}"
        )


def sweep_api(client: HttpApi, acct: Account, campaign_id: int, sweep: Sweep) -> None:
    """Each route the frontend polls during a campaign once: never a 500, never slower than
    ``API_LIMIT_S``; a 503 is ``ERR_UNAVAILABLE`` (or /health naming what is down)."""
    routes = [
        ("GET", "/health", None),
        ("GET", f"/campaigns/{campaign_id}/report", None),
        ("GET", "/campaigns", None),
        ("GET", "/contacts", None),
        ("POST", "/auth/login", {"email": acct.email, "password": PASSWORD}),
    ]
    for method, path, body in routes:
        resp = client.once(method, path, json=body, headers=acct.headers)
        where = f"{method} {path}: {resp.status_code} in {resp.took_s:.3f} s: {resp.text[:300]}"
        assert resp.status_code != 500, where
        assert resp.took_s < API_LIMIT_S, where
        if resp.status_code == 503 and path != "/health":
            assert resp.json["error"] == "ERR_UNAVAILABLE", where
        if resp.status_code == 200 and path.endswith("/report"):
            sweep.waiting.add(resp.json["waitingBecause"])
        sweep.seen.append((f"{method} {path}", resp.status_code, resp.took_s))


def sweep_for(client, acct, campaign_id: int, seconds: float, sweep: Sweep) -> None:
    """Sweep the API again and again for ``seconds`` (at least once)."""
    until = time.monotonic() + seconds
    sweep_api(client, acct, campaign_id, sweep)
    while time.monotonic() < until:
        time.sleep(0.1)
        sweep_api(client, acct, campaign_id, sweep)


def seconds_to_next_message(base: str, after: int, timeout_s: float = 180) -> float:
    """Seconds until the sandbox has recorded more than ``after`` messages."""
    started = time.monotonic()
    wait_for(lambda: sandbox_count(base) > after, timeout_s, "a message after the restart")
    return time.monotonic() - started


#: The process kinds a kill round takes: the api (gunicorn's arbiter and its workers), the
#: engine, the worker's whole process group, its main process alone (its processes finish what
#: they hold and exit), one of its forked processes alone (Dramatiq's main then stops the other
#: and exits, as supervisord would see it), and the sandbox.
KINDS = ("api", "engine", "worker", "worker-main", "worker-child", "sandbox")


@dataclasses.dataclass(frozen=True)
class Kill:
    kind: str
    at: float  # epoch s, the sandbox's clock (same host)
    sent_before: int  # messages the sandbox had recorded
    restart_s: float  # from the kill until the new process was started (and, api: answered)


def kill_kind(stack, kind: str, retired: list) -> Kill:
    """``kill -9`` one process of ``kind`` and start its replacement, as supervisord would;
    processes left to exit by themselves go to ``retired`` (stopped at the end)."""
    sent_before = sandbox_count(stack.sandbox)
    name = "worker" if kind.startswith("worker") else kind
    proc = stack.procs[name]
    if kind == "worker-main":
        at = time.time()
        os.kill(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(10)
        retired.append(proc)
    elif kind == "worker-child":
        # Once booted: a process killed during its boot keeps Dramatiq's main waiting 30 s for
        # its start-up handshake before it exits (seen here: the restart came 31 s late).
        wait_for(lambda: "ready for action" in proc.output(), 30, "the worker booted")
        children = psutil.Process(proc.proc.pid).children()
        at = time.time()
        children[0].kill()
        proc.proc.wait(WORKER_EXIT_S)  # Dramatiq's main stops the other process and exits
        retired.append(proc)
    else:
        at = kill9(proc)
    stack.start(name)
    return Kill(kind, at, sent_before, time.time() - at)


def lost_unknowns(base: str, by_status: dict, kills: list[Kill]) -> tuple[KillUnknowns, dict]:
    """``campaigns.kill_unknowns`` over several kills: each lost row's answer is compared with
    the first kill after its arrival. Also: that kill's kind for each of those answered."""
    by_number = {m["to"]: m for m in sandbox_messages(base)}
    lost = [r for r in by_status.get("unknown", []) if r.error == LOST_MID_SEND]
    received = [by_number[r.number] for r in lost if r.number in by_number]
    answered: dict[str, int] = {}
    for message in received:
        after = [k for k in kills if k.at >= message["ts"]]
        if not after:
            continue
        first = min(after, key=lambda k: k.at)
        answer = message["answeredTs"]
        if answer is not None and answer < first.at - ANSWER_MARGIN_S:
            answered[first.kind] = answered.get(first.kind, 0) + 1
    return KillUnknowns(len(lost), len(received), sum(answered.values())), answered


def unknown_figures(base: str, by_status: dict) -> str:
    """The unknown rows by reason, and how many of them the sandbox had accepted."""
    accepted = {m["to"] for m in sandbox_messages(base)}
    reasons: dict[str, list[int]] = {}
    for row in by_status.get("unknown", []):
        counts = reasons.setdefault(row.error or "?", [0, 0])
        counts[0] += 1
        counts[1] += row.number in accepted
    if not reasons:
        return "unknown rows: 0"
    return "unknown rows: " + "; ".join(
        f"{n} '{reason}' ({a} accepted by the sandbox)" for reason, (n, a) in reasons.items()
    )
