"""Faults survived (issue 14, point 4), each on the real processes: the sandbox answering 5xx
for a while, the sandbox answering 5 s late, Redis stopped and started again empty, PostgreSQL
stopped and started again, and ``kill -9`` of every process kind at random moments.

The stack (sandbox, engine, a worker, the api under gunicorn) runs on a PostgreSQL
cluster and a Redis of this module's own (``tests/services.py``), which it stops and starts; the
machine's shared ones are never touched. This test process's database object points at that
cluster for the module's duration. The sandbox keeps its record in a file, so that the record
outlives the sandbox's own ``kill -9``.

Every time: the campaign ends ``FINALIZADA``; no number got the message twice (the sandbox's
record); every row has a final status; the gap of a paced connection holds between every two
consecutive arrivals at the sandbox; while PostgreSQL or Redis is down the API answers every
route within 2 s and never 500. Each test prints its figures (docs/RELIABILITY.md); the short
ones run in the default suite, the long ones under ``-m slow``.
"""

from __future__ import annotations

import collections
import dataclasses
import random
import time

import pytest
import urllib3

from tests.actors.campaigns import (
    arrival_stamps,
    assert_kill_unknowns_honest,
    assert_min_gap,
    check_exactly_once,
    make_list,
    sandbox_count,
    sandbox_messages,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.actors.conftest import NAMES, make_stack
from tests.actors.faults import (
    KINDS,
    WORKER_EXIT_S,
    HttpApi,
    Kill,
    Sweep,
    account_factory,
    api_back_s,
    kill_kind,
    lost_unknowns,
    sweep_for,
    unknown_figures,
)
from tests.processes import wait_for
from tests.services import PostgresServer, RedisServer
from zapx import dependencies
from zapx.db import db, ensure_database, init_db, migrate

#: A worker's batch lease, s: longer than a request under the 5 s latency fault plus the
#: worker's margin (it starts no send in the last half of a short lease), short enough that a
#: killed worker's batch comes back soon.
LEASE_S = 12
#: Seconds a connection's open breaker plans nothing before its probe batch (30 by default):
#: the 5xx fault opens it, and the short run must not wait 30 s for the probe.
BREAKER_OPEN_S = 3


@dataclasses.dataclass
class Own:
    pg: PostgresServer
    cache: RedisServer
    url: str


def _point_db_at(url: str, name: str, pool_size: int) -> None:
    db.close_all()
    for breaker in dependencies.BREAKERS:  # this process's view of the last outage
        breaker.reset()
    init_db(url, pool_size, application_name=name)


@pytest.fixture(scope="module")
def own(tmp_path_factory, database_url):
    tmp = tmp_path_factory.mktemp("faults")
    pg = PostgresServer(tmp).init().start()
    cache = RedisServer(tmp, name="faults-redis").start()
    url = pg.url("zapx_faults")
    try:
        ensure_database(url)
        _point_db_at(url, "zapx-test-faults", 8)
        migrate()
        yield Own(pg, cache, url)
    finally:
        _point_db_at(database_url, "zapx-test", 16)
        cache.stop()
        pg.remove()


@pytest.fixture(scope="module")
def stack(own, process_env, tmp_path_factory):
    env = {"DATABASE_URL": own.url, "REDIS_URL": own.cache.url, "API_WORKERS": "2"}
    started = make_stack(
        process_env,
        tmp_path_factory.mktemp("faults-stack"),
        # One forked process: killing it alone makes Dramatiq's main exit at once; with two,
        # the main first waits for the other to finish its batch, and a paced batch waits for
        # the dead one's send token (30 s): every kill after it would come 30 s late.
        worker_processes=1,
        names=(*NAMES, "api"),
        record=True,
        BATCH_LEASE_S=str(LEASE_S),
        WHATSAPP_BREAKER_OPEN_S=str(BREAKER_OPEN_S),
        **env,
    )
    yield started
    started.stop()


@pytest.fixture(scope="module")
def api(stack):
    return HttpApi(stack.api)


@dataclasses.dataclass
class Run:
    acct: object
    campaign_id: int
    contacts: int
    interval_s: float


def _start(api, stack, name: str, contacts: int, interval_s: float) -> Run:
    sandbox_reset(stack.sandbox)
    setup = setup_company(
        api, account_factory(api), stack.sandbox, name, messageInterval=interval_s, jitter=0
    )
    acct = setup["account"]
    # Numbers of this company's own: a campaign a failed test left running cannot pass for a
    # second message to one of this one's contacts.
    list_id = make_list(acct.company_id, contacts, prefix=f"55{acct.company_id:03d}")
    return Run(acct, start_campaign(api, acct, list_id, setup["whatsapp_id"]), contacts, interval_s)


def _finish(api, stack, run: Run, statuses: set, timeout_s: float = 180) -> dict:
    """The campaign's end and what every fault must leave: returns ``{status: [rows]}``."""
    report = wait_status(api, run.acct, run.campaign_id, "FINALIZADA", timeout_s=timeout_s)
    by_status = check_exactly_once(stack.sandbox, run.campaign_id, run.contacts, statuses)
    assert report["counts"]["sent"] == len(by_status.get("sent", []))
    assert_min_gap(arrival_stamps(stack.sandbox), run.interval_s)
    return by_status


def _configure(base: str, **faults) -> None:
    """The sandbox's faults now, its record kept (``sandbox_reset`` would forget it)."""
    resp = urllib3.PoolManager().request("POST", base + "/_sandbox/config", json=faults)
    assert resp.status == 200, resp.data


def _injected(base: str) -> dict:
    """The faults the sandbox injected so far, by kind."""
    return urllib3.PoolManager().request("GET", base + "/_sandbox/stats").json()["injected"]


def _first_after(base: str, moment: float) -> float:
    """Seconds from ``moment`` (epoch) to the first message that arrived after it (NaN: none)."""
    later = [m["ts"] for m in sandbox_messages(base) if m["ts"] > moment]
    return min(later) - moment if later else float("nan")


def _counts(by_status: dict) -> dict:
    return {status: len(rows) for status, rows in by_status.items()}


# -- the sandbox answering 5xx, then healthy ------------------------------------------------


def _sandbox_5xx(api, stack, contacts: int, window_s: float) -> None:
    run = _start(api, stack, f"err{int(window_s)}", contacts, 0.01)
    wait_for(lambda: sandbox_count(stack.sandbox) >= 20, 60, "20 sends")
    _configure(stack.sandbox, rate5xx=1.0)
    at_fault = sandbox_count(stack.sandbox)
    sweep = Sweep()
    sweep_for(api, run.acct, run.campaign_id, window_s, sweep)
    wait_for(lambda: _injected(stack.sandbox)["5xx"] > 0, 15, "a request answered 503")
    at_heal, healed = sandbox_count(stack.sandbox), time.time()
    _configure(stack.sandbox, rate5xx=0.0)
    by_status = _finish(api, stack, run, {"sent"})
    # Nothing was accepted while every answer was a 503 (one request may have been answered
    # between the count and the switch), and every refused row was sent after it.
    assert at_heal - at_fault <= 1
    refused = _injected(stack.sandbox)["5xx"]
    print(
        f"\nsandbox 5xx for {window_s:.0f} s: {contacts} contacts, {refused} requests answered 503,"
        f" {_counts(by_status)}, duplicates 0; first message "
        f"{_first_after(stack.sandbox, healed):.2f} s after it healed; {sweep.figures()}"
    )


def test_sandbox_5xx_for_a_while(api, stack):
    _sandbox_5xx(api, stack, 100, 3.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sandbox_5xx_for_30_s(api, stack):
    _sandbox_5xx(api, stack, 1000, 30.0)


# -- the sandbox answering 5 s late ---------------------------------------------------------


def _sandbox_slow(api, stack, contacts: int, window_s: float) -> None:
    run = _start(api, stack, f"slow{int(window_s)}", contacts, 0.01)
    wait_for(lambda: sandbox_count(stack.sandbox) >= 20, 60, "20 sends")
    _configure(stack.sandbox, latencyMs=5000)
    at_fault, started = sandbox_count(stack.sandbox), time.time()
    sweep = Sweep()
    sweep_for(api, run.acct, run.campaign_id, window_s, sweep)
    # At least one request under it (a window may fall between two batches).
    wait_for(lambda: sandbox_count(stack.sandbox) > at_fault, 15, "a request in the window")
    healed = time.time()
    _configure(stack.sandbox, latencyMs=0)
    by_status = _finish(api, stack, run, {"sent"})
    during = [m for m in sandbox_messages(stack.sandbox) if started <= m["ts"] < healed]
    slow = [m for m in during if (m["answeredTs"] or m["ts"]) - m["ts"] >= 4.9]
    assert slow, "no request was answered late"  # the fault did happen
    print(
        f"\nsandbox 5 s late for {window_s:.0f} s: {contacts} contacts, {len(during)} arrived "
        f"in the window ({len(slow)} answered 5 s late; {at_fault} before it), "
        f"{_counts(by_status)}, duplicates 0; first message "
        f"{_first_after(stack.sandbox, healed):.2f} s after it healed; {sweep.figures()}"
    )


def test_sandbox_5_s_late_for_a_while(api, stack):
    _sandbox_slow(api, stack, 100, 2.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sandbox_5_s_late_for_30_s(api, stack):
    _sandbox_slow(api, stack, 400, 30.0)


# -- Redis and PostgreSQL stopped and started again -----------------------------------------


def _dependency_down(api, stack, own, which: str, contacts: int, down_s: float) -> None:
    run = _start(api, stack, f"{which}{int(down_s)}", contacts, 0.01)
    wait_for(lambda: sandbox_count(stack.sandbox) >= 50, 60, "50 sends")
    server = own.cache if which == "redis" else own.pg
    stopped = time.time()
    server.stop()
    sweep = Sweep()
    sweep_for(api, run.acct, run.campaign_id, down_s, sweep)
    at_restart = time.time()
    server.start()
    if which == "postgres":
        db.close_all()  # this process's pooled connections died with the server
    back_s = api_back_s(api, run.acct)
    by_status = _finish(api, stack, run, {"sent", "unknown"})
    assert any(status == 503 for _, status, _ in sweep.seen), sweep.seen  # it was down
    unknown = by_status.get("unknown", [])
    # Only what was on the wire when it went: one request (the connection's send token).
    assert len(unknown) <= 1, [(r.number, r.error) for r in unknown]
    print(
        f"\n{which} stopped for {at_restart - stopped:.1f} s mid-campaign: {contacts} contacts, "
        f"{_counts(by_status)}, duplicates 0, {unknown_figures(stack.sandbox, by_status)}; "
        f"after the restart: API 200 in {back_s:.2f} s, first message in "
        f"{_first_after(stack.sandbox, at_restart):.2f} s; {sweep.figures()}"
    )


def test_redis_stopped_and_started_empty_mid_campaign(api, stack, own):
    _dependency_down(api, stack, own, "redis", 200, 2.0)


def test_redis_restarted_empty_at_once_mid_campaign(api, stack, own):
    # Too quick for the engine to see it down: it learns that Redis lost its data from the
    # missing mark (before, the campaign never ended: no run flag, every batch stopped).
    _dependency_down(api, stack, own, "redis", 200, 0.0)


def test_postgres_stopped_and_started_mid_campaign(api, stack, own):
    _dependency_down(api, stack, own, "postgres", 200, 2.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("which", ["redis", "postgres"])
def test_a_dependency_down_for_30_s(api, stack, own, which):
    _dependency_down(api, stack, own, which, 2000, 30.0)


# -- kill -9 of every process kind ----------------------------------------------------------


def _kill_rounds(api, stack, contacts: int, rounds: int, seed: int, spread: bool) -> None:
    """``rounds`` rounds, each a ``kill -9`` of every process kind in a random order, a random
    0.1-1 s apart; with ``spread``, each round once the campaign has gone on since the last
    (else back to back: a kill of the paced connection's sender holds it 30 s, the send
    token's lease, and one hold for all the rounds keeps the default suite short)."""
    rng = random.Random(seed)
    run = _start(api, stack, f"kill{contacts}", contacts, 0.005)
    wait_for(lambda: sandbox_count(stack.sandbox) >= 50, 60, "50 sends")
    kills: list[Kill] = []
    retired: list = []
    step = contacts // (rounds + 1)
    for number in range(rounds):
        floor = min(contacts - 100, (number + 1) * step) if number and spread else 0
        wait_for(lambda f=floor: sandbox_count(stack.sandbox) >= f, 600, "the campaign going on")
        for kind in rng.sample(KINDS, len(KINDS)):
            time.sleep(rng.uniform(0.1, 1.0))  # a random moment
            kills.append(kill_kind(stack, kind, retired))
    by_status = _finish(api, stack, run, {"sent", "unknown"}, timeout_s=600)
    # Orphaned worker processes finished what they held and exited by themselves.
    for proc in retired:
        wait_for(lambda p=proc: not p.group(), WORKER_EXIT_S, f"{proc.name} gone")
        proc.stop()
    unknown = by_status.get("unknown", [])
    # At most the one request on the wire per kill that can cut one: a paced connection has
    # one send token. A worker's main alone, the engine and the api cut none.
    cutting = sum(k.kind in ("worker", "worker-child", "sandbox") for k in kills)
    assert len(unknown) <= cutting, collections.Counter(r.error for r in unknown)
    found, answered_by = lost_unknowns(stack.sandbox, by_status, kills)
    assert_kill_unknowns_honest(found)
    mid = sum(k.sent_before < contacts for k in kills)
    next_s = {}
    for kill in kills:
        next_s.setdefault(kill.kind, []).append(_first_after(stack.sandbox, kill.at))
    print(
        f"\nkill -9: {rounds} rounds of {len(KINDS)} kinds, {len(kills)} kills ({mid} "
        f"mid-campaign), {contacts} contacts, {_counts(by_status)}, duplicates 0; "
        f"{unknown_figures(stack.sandbox, by_status)}; {found} {answered_by}; first message "
        "after the kill, "
        "s (max): "
        + ", ".join(f"{kind} {max(v):.2f}" for kind, v in next_s.items())
        + "; restart, s (max): "
        + ", ".join(
            f"{kind} {max(k.restart_s for k in kills if k.kind == kind):.2f}" for kind in next_s
        )
    )


def test_kill_9_of_every_process_kind(api, stack):
    _kill_rounds(api, stack, 1000, 1, seed=14, spread=False)  # every kind once: the suite's time


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_of_every_process_kind_ten_rounds_of_20000(api, stack):
    _kill_rounds(api, stack, 20_000, 10, seed=1414, spread=True)
