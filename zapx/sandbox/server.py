"""An asyncio HTTP/1.1 server speaking the Cloud API's ``POST /{version}/{phone_id}/messages``.

It is a load target as much as a test double, so it avoids frameworks: an ``asyncio.Protocol``
with keep-alive and a minimal parser. Control routes live under ``/_sandbox/``:

- ``GET /_sandbox/messages?after=SEQ&limit=N`` — recorded messages after sequence ``SEQ``, each
  with ``ts`` (arrival, epoch seconds) and ``answeredTs`` (when its answer was written to the
  socket; ``null`` while the answer waits, e.g. under ``latencyMs``)
- ``GET /_sandbox/stats`` — counts; ``POST /_sandbox/reset`` — forget everything
- ``GET|POST /_sandbox/config`` — faults: ``latencyMs`` (added to each message request's
  answer; the other routes answer at once), ``rate429``, ``rate130429``, ``rate5xx``,
  ``rateTimeout``, ``rateAuth`` (a 401 "token expired"), ``rate131048`` (Meta's spam rate
  limit); ``spamAfter``: once that many messages are recorded, the next message request is
  answered 131048, once (then it is 0 again). Rates are fractions 0..1 of message requests; a
  timed-out request is not recorded and never answered, and its connection closes after
  ``timeoutS``
- ``GET /health``

With a record file (``zapx sandbox --record FILE``) every recorded message and answer is also
appended to that file as a JSON line, and read back at start: the record survives a restart of
the sandbox, ``kill -9`` included, which the fault tests inflict on it
(``tests/actors/test_faults.py``). A reset empties the file too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import os
import random
import signal
import time
import uuid
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("zapx.sandbox")

MAX_BODY_BYTES = 1024 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}


@dataclasses.dataclass
class Faults:
    """What the sandbox does wrong, on purpose. Rates are fractions of message requests."""

    latency_ms: float = 0.0
    rate429: float = 0.0
    rate130429: float = 0.0
    rate5xx: float = 0.0
    rate_timeout: float = 0.0
    rate_auth: float = 0.0
    rate131048: float = 0.0
    spam_after: float = 0.0
    timeout_s: float = 30.0

    NAMES = {
        "latencyMs": "latency_ms",
        "rate429": "rate429",
        "rate130429": "rate130429",
        "rate5xx": "rate5xx",
        "rateTimeout": "rate_timeout",
        "rateAuth": "rate_auth",
        "rate131048": "rate131048",
        "spamAfter": "spam_after",
        "timeoutS": "timeout_s",
    }

    def as_dict(self) -> dict:
        return {k: getattr(self, v) for k, v in self.NAMES.items()}


class Recorder:
    """Every accepted message, in arrival order, with a sequence number and its arrival and
    answer times (epoch seconds); with ``journal``, a file of JSON lines it appends each event
    to and replays at start."""

    def __init__(self, journal: str | None = None):
        self.messages: list[dict] = []
        self._by_id: dict[str, dict] = {}
        self._seq = itertools.count(1)
        self._journal: int | None = None
        if journal is not None:
            self._replay(journal)
            # One write(2) a line, appended: a kill -9 cannot leave half of one behind it.
            self._journal = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _replay(self, path: str) -> None:
        try:
            with open(path, "rb") as journal:
                data = journal.read()
        except FileNotFoundError:
            return
        for line in data.splitlines():
            try:
                event = json.loads(line)
            except ValueError:  # a line cut short by a full disk: skip it, keep the rest
                continue
            if "answered" in event:
                entry = self._by_id.get(event["answered"])
                if entry is not None:
                    entry["answeredTs"] = event["ts"]
            else:
                event["seq"] = next(self._seq)  # dense, as after() needs
                self.messages.append(event)
                self._by_id[event["id"]] = event
        if data and not data.endswith(b"\n"):
            with open(path, "ab") as journal:
                journal.write(b"\n")

    def _append(self, event: dict) -> None:
        if self._journal is not None:
            os.write(self._journal, json.dumps(event, separators=(",", ":")).encode() + b"\n")

    def record(self, phone_id: str, payload: dict) -> dict:
        entry = {
            "seq": next(self._seq),
            "ts": time.time(),
            "phoneNumberId": phone_id,
            "to": str(payload.get("to", "")),
            "type": payload.get("type", "text"),
            "id": f"wamid.{uuid.uuid4().hex}",
            "answeredTs": None,
            "payload": payload,
        }
        self.messages.append(entry)
        self._by_id[entry["id"]] = entry
        self._append(entry)
        return entry

    def answered(self, message_id: str) -> None:
        """The message's answer has been written to its socket (so a client that died after
        this moment had been told; one that died before could not know)."""
        entry = self._by_id.get(message_id)
        if entry is not None:
            entry["answeredTs"] = time.time()
            self._append({"answered": message_id, "ts": entry["answeredTs"]})

    def after(self, seq: int, limit: int) -> list[dict]:
        # Sequence numbers are dense from 1, so the index of seq N is N - 1.
        start = max(seq, 0)
        return self.messages[start : start + limit]

    def reset(self) -> None:
        self.messages.clear()
        self._by_id.clear()
        self._seq = itertools.count(1)
        if self._journal is not None:
            os.ftruncate(self._journal, 0)


def _response(status: int, body: dict, keep_alive: bool) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode() + data


def _error(status: int, message: str, code: int = 100) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": "OAuthException", "code": code}}


def _spam() -> tuple[int, dict]:
    """Meta's answer when the number's messages were blocked or reported too often."""
    return _error(400, "(#131048) Spam rate limit hit", 131048)


def _message_phone(method: str, target: str) -> str | None:
    """The phone number id of a ``POST /{version}/{phone_id}/messages``; None: another route."""
    segments = urlsplit(target).path.rstrip("/").split("/")
    if method == "POST" and len(segments) == 4 and segments[3] == "messages":
        return segments[2]
    return None


class SandboxProtocol(asyncio.Protocol):
    def __init__(self, app: SandboxServer):
        self.app = app
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self._send(*_error(400, "headers too large"), keep_alive=False)
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                self._send(*_error(400, "bad request line"), keep_alive=False)
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._send(*_error(400, "bad Content-Length"), keep_alive=False)
                return
            if length > MAX_BODY_BYTES:
                self._send(*_error(413, "body too large"), keep_alive=False)
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
            status, payload = self.app.handle(method, target, body)
            if status == 0:  # an injected timeout: never answer, drop the connection later
                loop = asyncio.get_running_loop()
                loop.call_later(self.app.faults.timeout_s, self._drop)
                return
            # Latency is a fault of message requests: the control routes answer at once, so
            # that a test can turn the latency off while it lasts.
            message = status != 404 and _message_phone(method, target) is not None
            delay = self.app.faults.latency_ms / 1000 if message else 0
            if delay > 0:
                loop = asyncio.get_running_loop()
                loop.call_later(delay, self._send, status, payload, keep_alive, message)
            else:
                self._send(status, payload, keep_alive, message)
            if not keep_alive:
                return

    def _drop(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def _send(self, status: int, payload: dict, keep_alive: bool, message: bool = False) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(_response(status, payload, keep_alive))
        # A message's answer only: GET /_sandbox/messages has "messages" too (a page of the
        # record, whose first entry was stamped answered again at every read), and so has
        # /_sandbox/stats (a count: the protocol raised after answering, closing the socket).
        if message and status == 200:
            self.app.recorder.answered(payload["messages"][0]["id"])
        if not keep_alive:
            self.transport.close()


class SandboxServer:
    """The routes of the sandbox; ``handle`` is synchronous and never blocks."""

    def __init__(self, journal: str | None = None):
        self.recorder = Recorder(journal)
        self.faults = Faults()
        self.requests = 0
        self.injected: dict[str, int] = {
            "429": 0,
            "130429": 0,
            "5xx": 0,
            "timeout": 0,
            "auth": 0,
            "131048": 0,
        }
        self.rng = random.Random()

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, dict]:
        self.requests += 1
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        phone_id = _message_phone(method, target)
        if phone_id is not None:
            return self._message(phone_id, body)
        if path == "/health" and method == "GET":
            return 200, {"status": "ok"}
        if path == "/_sandbox/messages" and method == "GET":
            query = parse_qs(parts.query)
            try:
                after = int(query.get("after", ["0"])[0])
                limit = min(int(query.get("limit", ["1000"])[0]), 100_000)
            except ValueError:
                return _error(400, "after and limit must be integers")
            messages = self.recorder.after(after, limit)
            return 200, {"messages": messages, "count": len(self.recorder.messages)}
        if path == "/_sandbox/stats" and method == "GET":
            return 200, {
                "messages": len(self.recorder.messages),
                "requests": self.requests,
                "injected": self.injected,
            }
        if path == "/_sandbox/reset" and method == "POST":
            self.recorder.reset()
            self.faults = Faults()
            self.injected = dict.fromkeys(self.injected, 0)
            return 200, {"ok": True}
        if path == "/_sandbox/config":
            if method == "POST":
                return self._configure(body)
            return 200, self.faults.as_dict()
        return _error(404, f"unknown route {method} {path}")

    def _configure(self, body: bytes) -> tuple[int, dict]:
        try:
            given = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(given, dict):
            return _error(400, "body must be a JSON object")
        unknown = sorted(set(given) - set(Faults.NAMES))
        if unknown:
            return _error(400, f"unknown settings {unknown}; known: {sorted(Faults.NAMES)}")
        for key, value in given.items():
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if not is_number or value < 0 or (key.startswith("rate") and value > 1):
                return _error(400, f"{key} must be a number (a rate between 0 and 1)")
            setattr(self.faults, Faults.NAMES[key], float(value))
        return 200, self.faults.as_dict()

    def _fault(self) -> tuple[int, dict] | None:
        f, roll = self.faults, self.rng.random()
        if f.spam_after and len(self.recorder.messages) >= f.spam_after:
            f.spam_after = 0.0
            self.injected["131048"] += 1
            return _spam()
        for rate, name in (
            (f.rate_timeout, "timeout"),
            (f.rate429, "429"),
            (f.rate130429, "130429"),
            (f.rate5xx, "5xx"),
            (f.rate_auth, "auth"),
            (f.rate131048, "131048"),
        ):
            if roll < rate:
                self.injected[name] += 1
                if name == "timeout":
                    return 0, {}
                if name == "429":
                    return _error(429, "(#4) Application request limit reached", 4)
                if name == "auth":
                    return _error(401, "Error validating access token: Session has expired", 190)
                if name == "130429":
                    return _error(400, "(#130429) Rate limit hit", 130429)
                if name == "131048":
                    return _spam()
                return _error(503, "(#131016) Service unavailable", 131016)
            roll -= rate
        return None

    def _message(self, phone_id: str, body: bytes) -> tuple[int, dict]:
        fault = self._fault()
        if fault is not None:
            return fault
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(payload, dict) or not payload.get("to"):
            return _error(400, "(#100) The parameter to is required.")
        entry = self.recorder.record(phone_id, payload)
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": entry["to"], "wa_id": entry["to"]}],
            "messages": [{"id": entry["id"]}],
        }


async def _serve(host: str, port: int, stopping: asyncio.Event, journal: str | None) -> None:
    app = SandboxServer(journal)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SandboxProtocol(app), host, port, backlog=4096)
    log.info("sandbox listening", extra={"host": host, "port": port})
    async with server:
        await stopping.wait()
    log.info("sandbox stopped", extra={"messages": len(app.recorder.messages)})


def serve(bind: str, record: str | None = None) -> int:
    """Serve on ``host:port`` until SIGTERM or SIGINT, appending the record to the file
    ``record`` if given; returns the exit code."""
    host, _, port = bind.rpartition(":")

    async def main():
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await _serve(host.strip("[]"), int(port), stopping, record)

    asyncio.run(main())
    return 0
