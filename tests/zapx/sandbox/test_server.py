"""The sandbox's record: each message's arrival and the moment its answer was written."""

from __future__ import annotations

import asyncio
import json
import time

from zapx.sandbox.server import SandboxProtocol, SandboxServer


class _Transport:
    def __init__(self):
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def _post(protocol: SandboxProtocol, to: str) -> None:
    body = json.dumps({"messaging_product": "whatsapp", "to": to, "type": "text"}).encode()
    protocol.data_received(
        b"POST /v19.0/123/messages HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def test_an_answered_message_records_when_its_answer_left():
    app = SandboxServer()
    protocol = SandboxProtocol(app)
    protocol.connection_made(_Transport())
    _post(protocol, "5511999990001")
    (entry,) = app.recorder.messages
    assert entry["answeredTs"] is not None and entry["answeredTs"] >= entry["ts"]
    assert entry["id"].encode() in protocol.transport.written[0]


def test_a_delayed_answer_is_not_recorded_as_answered_until_it_leaves():
    async def run():
        app = SandboxServer()
        app.faults.latency_ms = 50
        protocol = SandboxProtocol(app)
        protocol.connection_made(_Transport())
        _post(protocol, "5511999990002")
        (entry,) = app.recorder.messages
        assert entry["answeredTs"] is None and not protocol.transport.written
        await asyncio.sleep(0.2)
        assert entry["answeredTs"] - entry["ts"] >= 0.05
        app.recorder.reset()
        assert app.recorder.messages == []

    asyncio.run(run())


def test_a_record_file_survives_a_restart_and_a_reset_empties_it(tmp_path):
    journal = str(tmp_path / "record.jsonl")
    app = SandboxServer(journal)
    protocol = SandboxProtocol(app)
    protocol.connection_made(_Transport())
    _post(protocol, "5511999990003")
    _post(protocol, "5511999990004")
    first = [dict(m) for m in app.recorder.messages]
    with open(journal, "ab") as f:
        f.write(b'{"seq": 3, "to": "55119')  # a line cut short, as by a kill mid-write
    again = SandboxServer(journal)
    assert again.recorder.messages == first  # answers included, the cut line skipped
    _post(SandboxProtocol(again), "5511999990005")
    assert [m["seq"] for m in again.recorder.messages] == [1, 2, 3]
    assert [m["to"][-1] for m in SandboxServer(journal).recorder.messages] == ["3", "4", "5"]
    again.recorder.reset()
    assert SandboxServer(journal).recorder.messages == []


def test_latency_delays_message_requests_only():
    async def run():
        app = SandboxServer()
        app.faults.latency_ms = 5000
        protocol = SandboxProtocol(app)
        protocol.connection_made(_Transport())
        _post(protocol, "5511999990006")
        assert not protocol.transport.written  # the message's answer waits 5 s
        for route in (b"GET /_sandbox/stats", b"GET /_sandbox/messages", b"GET /health"):
            protocol.data_received(route + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        # The control routes answered at once: a test can read and heal while it lasts.
        assert len(protocol.transport.written) == 3

    asyncio.run(run())


def test_reading_the_record_stamps_no_answer():
    app = SandboxServer()
    protocol = SandboxProtocol(app)
    protocol.connection_made(_Transport())
    _post(protocol, "5511999990007")
    (entry,) = app.recorder.messages
    answered = entry["answeredTs"]
    time.sleep(0.01)
    protocol.data_received(b"GET /_sandbox/messages?after=0 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert entry["answeredTs"] == answered  # was: stamped again by the read


def test_spam_after_answers_131048_once_after_that_many_messages():
    app = SandboxServer()
    status, _ = app.handle("POST", "/_sandbox/config", json.dumps({"spamAfter": 2}).encode())
    assert status == 200
    body = json.dumps({"to": "5511999990003"}).encode()
    answers = [app.handle("POST", "/v21.0/123/messages", body) for _ in range(4)]
    assert [s for s, _ in answers] == [200, 200, 400, 200]
    assert answers[2][1]["error"]["code"] == 131048
    assert len(app.recorder.messages) == 3 and app.injected["131048"] == 1
    assert app.faults.spam_after == 0
