"""Concurrent's requests against a real ``zapx sandbox``, measured on its record: a refused
peer gets none of them, an allowed one gets each once."""

from __future__ import annotations

import json

import pytest
import urllib3

from tests.processes import sandbox_on_a_port
from zapx.outbound import Outbound, parse_allowed
from zapx.providers import AUTH, SENT, CloudProvider, Concurrent, OutMessage


@pytest.fixture(scope="module")
def sandbox(process_env, tmp_path_factory):
    with sandbox_on_a_port(process_env, tmp_path_factory.mktemp("sandbox")) as port:
        yield port


def _recorded(port: int) -> list[str]:
    resp = urllib3.PoolManager().request(
        "GET", f"http://127.0.0.1:{port}/_sandbox/messages?after=0&limit=1000"
    )
    return [m["to"] for m in json.loads(resp.data)["messages"]]


def _send_all(port: int, outbound: Outbound, numbers: list[str]) -> dict:
    settings = {"baseUrl": f"http://127.0.0.1:{port}", "phoneNumberId": "c", "accessToken": "x"}
    provider = CloudProvider(settings, outbound)
    multi = Concurrent(outbound, max_in_flight=8)
    results: dict = {}
    try:
        for number in numbers:
            if multi.in_flight == 8:
                results.update((tag, provider.result(a)) for tag, a in multi.wait(5))
            multi.add(number, provider.request(OutMessage(number, "hello")))
        while multi.in_flight:
            results.update((tag, provider.result(a)) for tag, a in multi.wait(5))
    finally:
        multi.close()
    return results


def test_concurrent_sends_each_once_and_nothing_to_a_refused_peer(sandbox):
    before = _recorded(sandbox)
    refused = _send_all(sandbox, Outbound(), [f"55119000{n:05d}" for n in range(8)])
    assert {r.outcome for r in refused.values()} == {AUTH}
    assert {r.error_code for r in refused.values()} == {"refused"}
    assert _recorded(sandbox) == before
    numbers = [f"55119100{n:05d}" for n in range(40)]
    sent = _send_all(sandbox, Outbound(allowed=parse_allowed(f"127.0.0.1:{sandbox}")), numbers)
    assert sorted(sent) == numbers and {r.outcome for r in sent.values()} == {SENT}
    assert len({r.message_id for r in sent.values()}) == 40
    assert sorted(_recorded(sandbox)[len(before) :]) == numbers
