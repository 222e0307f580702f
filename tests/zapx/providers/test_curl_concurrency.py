"""The transport under concurrency: perform() from many threads (a handle each, answers never
crossed), Concurrent's requests really in flight together, and its connections kept between
batches."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from tests.zapx.providers.rawhttp import RawServer, keep_answering
from zapx.outbound import Outbound, parse_allowed
from zapx.providers import Concurrent, HttpRequest, HttpResponse, concurrent, perform

OUTBOUND = Outbound(allowed=parse_allowed("127.0.0.1"))
HEADERS = ("Content-Type: application/json",)


@pytest.fixture
def server():
    made = RawServer(keep_answering())
    yield made
    made.close()


@pytest.fixture
def slow_server():
    """Answers each request 200 ms after reading it."""
    made = RawServer(keep_answering(delay_s=0.2))
    yield made
    made.close()


def _id(response: HttpResponse) -> str:
    return response.body.decode().split('"id":"')[1].split('"')[0]


def test_perform_from_16_threads_answers_each_its_own(server):
    errors: list = []

    def run(thread: int) -> None:
        try:
            for i in range(20):
                body = b'{"thread":%d,"i":%d}' % (thread, i)
                response = perform(OUTBOUND, HttpRequest(server.url, body, HEADERS))
                assert _id(response) == hashlib.sha1(body).hexdigest()
        except Exception as exc:  # reported below with the thread's number
            errors.append((thread, exc))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    bodies = server.bodies()
    assert len(bodies) == 320 and len(set(bodies)) == 320
    assert server.connections == 16  # one keep-alive connection per thread


def _batch(multi: Concurrent, url: str, tags: range) -> dict:
    for tag in tags:
        multi.add(tag, HttpRequest(url, b'{"n":%d}' % tag, HEADERS))
    done: dict = {}
    while multi.in_flight:
        done.update(multi.wait(5))
    return done


def test_concurrent_has_its_requests_in_flight_together(slow_server):
    multi = Concurrent(OUTBOUND, max_in_flight=8)
    try:
        started = time.monotonic()
        done = _batch(multi, slow_server.url, range(8))
        elapsed = time.monotonic() - started
        assert sorted(done) == list(range(8))
        assert all(_id(done[n]) == hashlib.sha1(b'{"n":%d}' % n).hexdigest() for n in done)
        # 8 requests of 0.2 s each: about 0.2 s together, 1.6 s one after the other.
        assert elapsed < 0.6, elapsed
        # The next batch goes out on the same 8 connections, as fast.
        started = time.monotonic()
        assert sorted(_batch(multi, slow_server.url, range(8, 16))) == list(range(8, 16))
        assert time.monotonic() - started < 0.6
        assert slow_server.connections == 8
    finally:
        multi.close()


def test_concurrent_bounds_and_waits(slow_server):
    multi = Concurrent(OUTBOUND, max_in_flight=2)
    try:
        assert multi.wait(0.01) == []  # nothing in flight: at once
        multi.add("a", HttpRequest(slow_server.url, b"a", HEADERS))
        multi.add("b", HttpRequest(slow_server.url, b"b", HEADERS))
        assert multi.in_flight == 2
        with pytest.raises(ValueError):
            multi.add("c", HttpRequest(slow_server.url, b"c", HEADERS))
        started = time.monotonic()
        assert multi.wait(0.05) == []  # none completes within 50 ms
        assert 0.04 < time.monotonic() - started < 0.15
        assert multi.in_flight == 2
        done = dict(multi.wait(5))
        if len(done) < 2:
            done.update(multi.wait(5))
        assert sorted(done) == ["a", "b"] and multi.in_flight == 0
        # Added while earlier answers wait to be collected: a free handle again.
        multi.add("c", HttpRequest(slow_server.url, b"c", HEADERS))
        assert [tag for tag, _ in multi.wait(5)] == ["c"]
    finally:
        multi.close()


def test_concurrent_is_one_per_thread_and_runs_in_several(slow_server):
    mine = concurrent(OUTBOUND)
    assert concurrent(OUTBOUND) is mine
    found: dict = {}

    def run(name: str) -> None:
        multi = concurrent(OUTBOUND)
        found[name] = (multi, _batch(multi, slow_server.url, range(8)))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("x", "y")]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert time.monotonic() - started < 1.0
    assert found["x"][0] is not found["y"][0] and mine not in (found["x"][0], found["y"][0])
    assert all(sorted(done) == list(range(8)) for _, done in found.values())
    assert len(slow_server.bodies()) == 16
