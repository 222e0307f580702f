"""zapx.dependencies and the clients behind its breakers: what counts as PostgreSQL or Redis
being down, and that the clients fail at once once the breaker is open, on real servers (the
session's, a closed port, and a Redis of the test's own that it hangs)."""

from __future__ import annotations

import logging
import time

import peewee
import psycopg2
import pytest
import redis

from tests.processes import free_port
from tests.services import RedisServer
from zapx import dependencies
from zapx.breakers import Breaker, BreakerOpen, Policy, State
from zapx.db import db
from zapx.db.database import GuardedDatabase
from zapx.dependencies import DatabaseUnavailable, RedisUnavailable
from zapx.redis import make_client

#: Opens at the third failure in a row, as the defaults do.
POLICY = Policy(consecutive=3, open_s=2)


def closed_port_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}/0"


@pytest.fixture
def dead_database():
    """A database like ``zapx.db.db`` (the same class) on a port nobody listens on, behind a
    breaker of its own."""
    dead = GuardedDatabase(
        "zapx", host="127.0.0.1", port=free_port(), user="postgres", autoconnect=False
    )
    dead.breaker = Breaker("database", POLICY, refuse=DatabaseUnavailable)
    yield dead
    dead.close_all()


def test_a_refused_connection_is_the_database_down_and_opens_its_breaker(dead_database):
    for _ in range(3):
        with pytest.raises(peewee.OperationalError) as failed:
            dead_database.connect()
        assert dependencies.database_down(failed.value)
        assert not isinstance(failed.value, BreakerOpen)
    assert dead_database.breaker.state is State.OPEN
    started = time.perf_counter()
    with pytest.raises(DatabaseUnavailable) as refused:
        dead_database.connect()
    assert time.perf_counter() - started < 0.005  # no network: refused at once
    # Code that handles the driver's error handles the refusal too.
    assert isinstance(refused.value, peewee.OperationalError)
    assert dependencies.database_down(refused.value)
    assert 1 <= dependencies.retry_after_s(refused.value) <= 2


def test_errors_the_server_answers_are_not_the_database_down(database_url):
    with db.connection_context():
        with pytest.raises(peewee.ProgrammingError) as syntax:
            db.execute_sql("SELEC 1")
        assert not dependencies.database_down(syntax.value)
    with db.connection_context(), db.atomic():
        db.execute_sql("SET LOCAL statement_timeout = 1")
        with pytest.raises(peewee.OperationalError) as timeout:
            db.execute_sql("SELECT pg_sleep(1)")
    assert timeout.value.orig.pgcode == "57014"
    assert not dependencies.database_down(timeout.value)
    assert dependencies.breaker_of(timeout.value) is None


def test_a_session_ended_by_the_server_is_the_database_down(database_url):
    conn = psycopg2.connect(**db.connect_params, database=db.database)
    killer = psycopg2.connect(**db.connect_params, database=db.database)
    killer.autocommit = True
    pid = conn.get_backend_pid()
    killer.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    killer.close()
    with pytest.raises(psycopg2.OperationalError) as ended:
        conn.cursor().execute("SELECT 1")
    assert dependencies.database_down(ended.value)  # 57P01, or the socket seen closed
    with pytest.raises(psycopg2.InterfaceError) as closed:
        conn.cursor()
    assert dependencies.database_down(closed.value)


def test_a_query_the_server_refused_counts_as_the_database_up(database_url, monkeypatch):
    own = Breaker("database", Policy(consecutive=1))
    monkeypatch.setattr(db, "breaker", own)
    with db.connection_context():
        for _ in range(3):
            with pytest.raises(peewee.ProgrammingError):
                db.execute_sql("SELEC 1")
    assert own.state is State.CLOSED and own.snapshot().calls >= 3


def test_a_refused_redis_opens_its_breaker_then_calls_fail_at_once():
    own = Breaker("redis", POLICY, refuse=RedisUnavailable)
    client = make_client(closed_port_url("redis"), timeout_s=0.5, retries=1, breaker=own)
    for _ in range(3):
        with pytest.raises(redis.ConnectionError) as failed:
            client.get("k")
        assert dependencies.redis_down(failed.value)
    assert own.state is State.OPEN
    started = time.perf_counter()
    with pytest.raises(RedisUnavailable):
        client.pipeline().get("a").get("b").execute()
    with pytest.raises(RedisUnavailable) as refused:
        client.get("k")
    assert time.perf_counter() - started < 0.005
    assert isinstance(refused.value, redis.ConnectionError)
    assert dependencies.breaker_of(refused.value) is dependencies.redis


def test_an_error_redis_answers_counts_as_redis_up(redis_url):
    own = Breaker("redis", Policy(consecutive=1))
    client = make_client(redis_url, breaker=own)
    for _ in range(3):
        with pytest.raises(redis.ResponseError):
            client.execute_command("NO-SUCH-COMMAND")
    assert own.state is State.CLOSED


def test_a_hung_redis_fails_within_its_timeouts_then_at_once(tmp_path):
    """A Redis that accepts connections and answers nothing (SIGSTOP): a call ends after
    (retries + 1) timeouts; once the breaker is open, at once."""
    server = RedisServer(tmp_path).start()
    own = Breaker("redis", POLICY, refuse=RedisUnavailable)
    client = make_client(server.url, timeout_s=0.3, retries=1, breaker=own)
    try:
        assert client.ping()
        client.connection_pool.disconnect()  # the next call connects anew, to a hung server
        server.pause()
        times = []
        while len(times) < 5:
            started = time.perf_counter()
            try:
                client.get("k")
            except RedisUnavailable:
                break
            except redis.TimeoutError:
                times.append(time.perf_counter() - started)
        started = time.perf_counter()
        with pytest.raises(RedisUnavailable):
            client.get("k")
        refused_s = time.perf_counter() - started
    finally:
        server.resume()
        server.stop()
    print(f"hung redis: calls took {[round(t, 3) for t in times]} s, then {refused_s:.4f} s")
    # 2 x 0.3 s and the 0.1 s backoff each (a call may count twice: its connect, its command)
    assert 1 <= len(times) <= 3 and all(0.55 <= t < 0.85 for t in times), times
    assert refused_s < 0.005


def test_one_line_when_a_breaker_opens_and_one_when_it_closes(caplog):
    clock = [100.0]
    b = Breaker(
        "database",
        Policy(consecutive=3, open_s=1),
        clock=lambda: clock[0],
        on_change=dependencies._log_change,
    )
    caplog.set_level(logging.INFO, logger="zapx.dependencies")
    for _ in range(50):
        b.failure("refused")
    for _ in range(3):  # three failed probes
        clock[0] += 60
        assert b.before() is True
        b.failure("refused", probe=True)
    clock[0] += 60
    assert b.before() is True
    b.success(probe=True)
    lines = [(r.levelname, r.getMessage(), r.breaker) for r in caplog.records]
    assert lines == [
        ("WARNING", "breaker opened", "database"),
        ("INFO", "breaker closed", "database"),
    ]
    assert caplog.records[1].down_s == pytest.approx(240.0)


def test_retry_after_is_whole_seconds_and_at_least_one():
    assert dependencies.retry_after_s(BreakerOpen("redis", 0.2)) == 1
    assert dependencies.retry_after_s(BreakerOpen("redis", 3.2)) == 4
    err = redis.ConnectionError("refused")
    assert dependencies.retry_after_s(err) >= 1
    assert dependencies.unavailable(err) and not dependencies.unavailable(ValueError("x"))
