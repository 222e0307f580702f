"""The transport's answers and failures against raw servers that stall, close, reset, garble:
each failure classified by whether the request may have reached the server (as urllib3's
classification did: TRANSIENT before a byte could have, AMBIGUOUS after)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.processes import free_port
from tests.zapx.providers.rawhttp import RawServer, answer, keep_answering, reset
from zapx.outbound import Outbound, parse_allowed
from zapx.providers import (
    AMBIGUOUS,
    AUTH,
    THROTTLE,
    TRANSIENT,
    CloudProvider,
    Concurrent,
    HttpRequest,
    HttpResponse,
    TransportError,
    curl,
)
from zapx.providers.curl import exchange

OUTBOUND = Outbound(allowed=parse_allowed("127.0.0.1, nonexistent.invalid"))
HEADERS = ("Authorization: Bearer t", "Content-Type: application/json")


@pytest.fixture
def servers():
    made: list[RawServer] = []

    def make(script) -> RawServer:
        made.append(RawServer(script))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def short_timeouts(monkeypatch):
    """Handles made from now on time out after 0.3 s to connect and 0.3 s more to answer."""
    monkeypatch.setattr(curl, "CONNECT_TIMEOUT_S", 0.3)
    monkeypatch.setattr(curl, "READ_TIMEOUT_S", 0.3)


def _fresh(url: str, *bodies: bytes, outbound: Outbound = OUTBOUND) -> list:
    """Each body POSTed in turn to ``url`` from a new thread (so a new handle, made under the
    current timeouts): the answers or TransportErrors."""
    answers: list = []
    thread = threading.Thread(
        target=lambda: answers.extend(
            exchange(outbound, HttpRequest(url, body, HEADERS)) for body in bodies
        )
    )
    thread.start()
    thread.join(30)
    return answers


def _failure(answer) -> tuple[str, str]:
    assert isinstance(answer, TransportError), answer
    return answer.outcome, answer.code


def test_nothing_listening_is_a_connect_failure():
    [failed] = _fresh(f"http://127.0.0.1:{free_port()}/x", b"{}")
    assert _failure(failed) == (TRANSIENT, "connect")
    assert failed.reason.startswith("connect failed")


def test_a_name_that_does_not_resolve_is_a_connect_failure():
    [failed] = _fresh("http://nonexistent.invalid/x", b"{}")
    assert _failure(failed) == (TRANSIENT, "connect")


def test_a_connect_timeout_is_transient(short_timeouts):
    # A listener whose accept queue is full drops new SYNs: the connect never completes.
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.1)
        started = time.monotonic()
        [failed] = _fresh(f"http://127.0.0.1:{port}/x", b"{}")
        assert _failure(failed) == (TRANSIENT, "connect"), failed.reason
        assert time.monotonic() - started < 2
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _stalls_on(number: int):
    def script(server, conn, index):
        for _ in range(number - 1):
            server.read_request(conn, index)
            conn.sendall(answer())
        server.read_request(conn, index)
        time.sleep(2)

    return script


@pytest.mark.parametrize("number", [1, 2], ids=["new-connection", "reused-connection"])
def test_no_answer_in_time_is_ambiguous(servers, short_timeouts, number):
    server = servers(_stalls_on(number))
    answers = _fresh(server.url, *[b"%d" % i for i in range(number)])
    assert [a.status for a in answers[:-1]] == [200] * (number - 1)
    assert _failure(answers[-1]) == (AMBIGUOUS, "timeout")
    assert answers[-1].reason == "no answer before the read timeout"
    assert len(server.bodies()) == number


def _reads_then(action):
    def script(server, conn, index):
        server.read_request(conn, index)
        action(conn)

    return script


@pytest.mark.parametrize(
    "action",
    [
        lambda conn: None,  # closed without a word: empty reply
        reset,
        lambda conn: conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"messa'),
        lambda conn: conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Len"),
        lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
    ],
    ids=["empty-reply", "reset", "body-cut-short", "head-cut-short", "not-http"],
)
def test_a_request_read_and_not_answered_is_ambiguous(servers, action):
    server = servers(_reads_then(action))
    [failed] = _fresh(server.url, b"{}")
    assert _failure(failed) == (AMBIGUOUS, "broken")
    assert failed.reason.startswith("connection broken")
    assert server.bodies() == [b"{}"]


def test_a_tls_handshake_that_fails_is_transient(servers):
    server = servers(lambda server, conn, index: conn.recv(4096))
    [failed] = _fresh(f"https://127.0.0.1:{server.port}/x", b"{}")
    assert _failure(failed) == (TRANSIENT, "transport")
    assert server.bodies() == []


def test_a_refused_peer_is_never_connected(servers):
    server = servers(keep_answering())
    for outbound in (Outbound(), Outbound(allowed=parse_allowed(f"127.0.0.1:{server.port + 1}"))):
        [failed] = _fresh(server.url, b"{}", outbound=outbound)
        assert _failure(failed) == (AUTH, "refused")
        assert failed.reason == (
            "127.0.0.1 is at an address that is not public and not in "
            "CONNECTION_ALLOWED_HOSTS: nothing sent"
        )
        multi = Concurrent(outbound, max_in_flight=1)
        multi.add(1, HttpRequest(server.url, b"{}", HEADERS))
        [(_, failed)] = multi.wait(5)
        multi.close()
        assert _failure(failed) == (AUTH, "refused")
    time.sleep(0.1)
    assert server.connections == 0


def test_any_status_is_an_answer_with_its_retry_after(servers):
    answers = iter(
        [
            answer(429, b'{"error":{"code":130429}}', "Retry-After: 7\r\n"),
            answer(503, b"", "retry-after: Wed, 21 Oct 2026 07:28:00 GMT\r\n"),
            answer(302, b"", "Location: http://169.254.169.254/\r\n"),
        ]
    )

    def script(server, conn, index):
        while server.read_request(conn, index) is not None:
            conn.sendall(next(answers))

    server = servers(script)
    got = _fresh(server.url, b"1", b"2", b"3")
    assert got == [
        HttpResponse(429, b'{"error":{"code":130429}}', 7.0),
        HttpResponse(503, b"", None),
        HttpResponse(302, b"", None),  # never followed
    ]
    result = CloudProvider({"baseUrl": "http://x"}).result(got[0])
    assert (result.outcome, result.retry_after_s, result.error_code) == (THROTTLE, 7.0, "130429")


def test_the_request_goes_direct_as_given(servers, monkeypatch):
    server = servers(keep_answering())
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    [got] = _fresh(server.url, b'{"to":"5511"}')
    assert got.status == 200
    [(_, head, body)] = server.requests
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v21.0/raw/messages HTTP/1.1"
    assert "Authorization: Bearer t" in lines and "Content-Type: application/json" in lines
    assert "Content-Length: 13" in lines
    assert not any(line.lower().startswith("expect") for line in lines)
    assert body == b'{"to":"5511"}'
