"""At most once on keep-alive connections: libcurl resends a request by itself when a reused
connection gives no byte of answer (``Curl_retry_request``), even after the server read it.
The transport must never let a POST reach the server twice (docs/HTTP_CLIENT.md), measured on
what a raw server received."""

from __future__ import annotations

import time

import pycurl
import pytest

from tests.zapx.providers.rawhttp import RawServer, answer, keep_answering, reset
from zapx.outbound import Outbound, parse_allowed
from zapx.providers import (
    AMBIGUOUS,
    SENT,
    CloudProvider,
    Concurrent,
    HttpRequest,
    OutMessage,
    TransportError,
    perform,
)
from zapx.providers.curl import exchange

OUTBOUND = Outbound(allowed=parse_allowed("127.0.0.1"))
HEADERS = ("Authorization: Bearer t", "Content-Type: application/json")


@pytest.fixture
def servers():
    made: list[RawServer] = []

    def make(script, **kwargs) -> RawServer:
        made.append(RawServer(script, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def _post(server: RawServer, body: bytes):
    return exchange(OUTBOUND, HttpRequest(server.url, body, HEADERS))


def _reads_then_closes(server, conn, index):
    """Connection 0: answers request 1, reads request 2 in full and closes without a word."""
    if index == 0:
        server.read_request(conn, index)
        conn.sendall(answer())
        server.read_request(conn, index)
        return
    keep_answering()(server, conn, index)


def _settled(server: RawServer) -> list[bytes]:
    """The bodies received, half a second later: a resend would be in by then."""
    time.sleep(0.5)
    return server.bodies()


def test_a_request_read_then_dropped_is_ambiguous_and_never_resent(servers):
    server = servers(_reads_then_closes)
    assert _post(server, b"one").status == 200
    second = _post(server, b"two")
    assert isinstance(second, TransportError), second
    assert (second.outcome, second.code) == (AMBIGUOUS, "broken")
    assert second.reason.startswith("connection broken")
    bodies = _settled(server)
    assert bodies.count(b"two") == 1, bodies
    # The refused resend did not even connect again.
    assert server.connections == 1
    # The thread's handle goes on working, on a new connection.
    assert _post(server, b"three").status == 200
    assert server.bodies().count(b"three") == 1


def test_concurrent_never_resends_either(servers):
    server = servers(_reads_then_closes)
    multi = Concurrent(OUTBOUND, max_in_flight=2)
    try:
        multi.add("one", HttpRequest(server.url, b"one", HEADERS))
        assert [(tag, answer.status) for tag, answer in multi.wait(5)] == [("one", 200)]
        multi.add("two", HttpRequest(server.url, b"two", HEADERS))
        [(tag, second)] = multi.wait(5)
        assert tag == "two" and isinstance(second, TransportError), second
        assert (second.outcome, second.code) == (AMBIGUOUS, "broken")
        assert _settled(server).count(b"two") == 1
    finally:
        multi.close()


def test_libcurl_alone_would_resend_it(servers):
    """The hazard is real: with libcurl's own body buffer (POSTFIELDS), the same exchange gives
    the server the request twice and the caller a 200."""
    server = servers(_reads_then_closes)
    handle = pycurl.Curl()
    handle.setopt(pycurl.URL, server.url)
    handle.setopt(pycurl.WRITEFUNCTION, lambda data: None)
    for body in (b"one", b"two"):
        handle.setopt(pycurl.POSTFIELDS, body)
        handle.perform()
        assert handle.getinfo(pycurl.RESPONSE_CODE) == 200
    handle.close()
    assert _settled(server).count(b"two") == 2


def _closes_idle(how):
    def script(server, conn, index):
        if index == 0:
            server.read_request(conn, index)
            conn.sendall(answer())
            time.sleep(0.1)
            how(conn)  # the server's idle keep-alive timeout
            return
        keep_answering()(server, conn, index)

    return script


@pytest.mark.parametrize("how", [lambda conn: conn.close(), reset], ids=["fin", "rst"])
def test_a_connection_closed_while_idle_is_replaced(servers, how):
    """libcurl checks a cached connection before reusing it (at most once a second, from its
    last check): one the server closed while idle is not used, the next send goes out once on
    a new connection."""
    server = servers(_closes_idle(how))
    assert _post(server, b"one").status == 200
    time.sleep(1.2)
    second = _post(server, b"two")
    assert not isinstance(second, TransportError), second
    assert second.status == 200
    assert server.bodies() == [b"one", b"two"]
    assert server.connections == 2


def test_a_connection_closed_within_a_second_costs_an_ambiguous_send(servers):
    """Within a second of its last check libcurl reuses a cached connection unchecked; if the
    server closed it, no answer comes on it and libcurl wants to resend, which the transport
    refuses: AMBIGUOUS, sent at most once (here: never)."""
    server = servers(_closes_idle(lambda conn: conn.close()))
    assert _post(server, b"one").status == 200
    time.sleep(0.3)
    second = _post(server, b"two")
    assert isinstance(second, TransportError) and second.outcome == AMBIGUOUS, second
    assert _settled(server) == [b"one"]


def test_a_provider_send_after_a_drop_is_ambiguous_once(servers):
    """Through CloudProvider.send, the path the batch loop uses."""
    server = servers(_reads_then_closes)
    base = server.url.removesuffix("/v21.0/raw/messages")
    provider = CloudProvider(
        {"baseUrl": base, "phoneNumberId": "raw", "accessToken": "t"}, OUTBOUND
    )
    assert provider.send(OutMessage("5511999990001", "one")).outcome == SENT
    result = provider.send(OutMessage("5511999990002", "two"))
    assert (result.outcome, result.error_code) == (AMBIGUOUS, "broken")
    assert len(_settled(server)) == 2


def test_perform_raises_the_transport_error(servers):
    server = servers(_reads_then_closes)
    request = HttpRequest(server.url, b"one", HEADERS)
    assert perform(OUTBOUND, request).status == 200
    with pytest.raises(TransportError) as caught:
        perform(OUTBOUND, HttpRequest(server.url, b"two", HEADERS))
    assert caught.value.outcome == AMBIGUOUS
