"""The send-time guard: a provider's socket to an address the install does not allow sends
nothing, against a real ``zapx sandbox`` on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
import urllib3

from tests.processes import sandbox_on_a_port
from zapx.outbound import Outbound, parse_allowed
from zapx.providers import AUTH, SENT, CloudProvider, EvolutionProvider, OutMessage


@pytest.fixture(scope="module")
def sandbox(process_env, tmp_path_factory):
    with sandbox_on_a_port(process_env, tmp_path_factory.mktemp("sandbox")) as port:
        yield port


def _recorded(port: int) -> int:
    resp = urllib3.PoolManager().request("GET", f"http://127.0.0.1:{port}/_sandbox/stats")
    return json.loads(resp.data)["messages"]


def _cloud(base: str, outbound: Outbound) -> CloudProvider:
    return CloudProvider({"baseUrl": base, "phoneNumberId": "guard", "accessToken": "x"}, outbound)


def test_a_refused_peer_gets_nothing(sandbox):
    before = _recorded(sandbox)
    message = OutMessage("5511999990001", "hello")
    for base in (f"http://127.0.0.1:{sandbox}", f"http://localhost:{sandbox}"):
        # "localhost" stands for a name that resolved to a public address when the connection
        # was saved and to a private one now: the guard judges the address connected to.
        result = _cloud(base, Outbound()).send(message)
        assert result.outcome == AUTH, result
        assert "not public" in result.error and "nothing sent" in result.error
        assert "127.0.0.1" not in result.error.split(" is at ")[1]  # the address stays in the log
    evolution = EvolutionProvider(
        {"baseUrl": f"http://127.0.0.1:{sandbox}", "instance": "i", "apiKey": "k"}, Outbound()
    )
    assert evolution.send(message).outcome == AUTH
    # Another port of an allowed host is still refused.
    other = Outbound(allowed=parse_allowed(f"127.0.0.1:{sandbox + 1}"))
    assert _cloud(f"http://127.0.0.1:{sandbox}", other).send(message).outcome == AUTH
    assert _recorded(sandbox) == before


def test_the_sandbox_and_allowed_hosts_get_their_messages(sandbox):
    before = _recorded(sandbox)
    message = OutMessage("5511999990002", "hello")
    for outbound in (
        Outbound(sandbox=("127.0.0.1", sandbox)),
        Outbound(allowed=parse_allowed(f"127.0.0.1:{sandbox}")),
        Outbound(allowed=parse_allowed("127.0.0.0/8")),
        Outbound(allowed=parse_allowed("localhost")),
    ):
        base = "http://localhost" if outbound.allowed[:1] and outbound.allowed[0].name else None
        url = f"{base or 'http://127.0.0.1'}:{sandbox}"
        result = _cloud(url, outbound).send(message)
        assert result.outcome == SENT, (outbound, result)
    assert _recorded(sandbox) == before + 4
