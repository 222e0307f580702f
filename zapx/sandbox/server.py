"""An asyncio HTTP/1.1 server speaking the Cloud API's ``POST /{version}/{phone_id}/messages``.

It is a load target as much as a test double, so it avoids frameworks: an ``asyncio.Protocol``
with keep-alive and a minimal parser. Control routes live under ``/_sandbox/``:

- ``GET /_sandbox/messages?after=SEQ&limit=N`` — recorded messages after sequence ``SEQ``
- ``GET /_sandbox/stats`` — counts; ``POST /_sandbox/reset`` — forget everything
- ``GET /health``
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import signal
import time
import uuid
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("zapx.sandbox")

MAX_BODY_BYTES = 1024 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}


class Recorder:
    """Every accepted message, in arrival order, with a sequence number and a timestamp (s)."""

    def __init__(self):
        self.messages: list[dict] = []
        self._seq = itertools.count(1)

    def record(self, phone_id: str, payload: dict) -> dict:
        entry = {
            "seq": next(self._seq),
            "ts": time.time(),
            "phoneNumberId": phone_id,
            "to": str(payload.get("to", "")),
            "type": payload.get("type", "text"),
            "id": f"wamid.{uuid.uuid4().hex}",
            "payload": payload,
        }
        self.messages.append(entry)
        return entry

    def after(self, seq: int, limit: int) -> list[dict]:
        # Sequence numbers are dense from 1, so the index of seq N is N - 1.
        start = max(seq, 0)
        return self.messages[start : start + limit]

    def reset(self) -> None:
        self.messages.clear()
        self._seq = itertools.count(1)


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
            self._send(status, payload, keep_alive)
            if not keep_alive:
                return

    def _send(self, status: int, payload: dict, keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(_response(status, payload, keep_alive))
        if not keep_alive:
            self.transport.close()


class SandboxServer:
    """The routes of the sandbox; ``handle`` is synchronous and never blocks."""

    def __init__(self):
        self.recorder = Recorder()
        self.requests = 0

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, dict]:
        self.requests += 1
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        segments = path.split("/")
        if method == "POST" and len(segments) == 4 and segments[3] == "messages":
            return self._message(segments[2], body)
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
            return 200, {"messages": len(self.recorder.messages), "requests": self.requests}
        if path == "/_sandbox/reset" and method == "POST":
            self.recorder.reset()
            return 200, {"ok": True}
        return _error(404, f"unknown route {method} {path}")

    def _message(self, phone_id: str, body: bytes) -> tuple[int, dict]:
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


async def _serve(host: str, port: int, stopping: asyncio.Event) -> None:
    app = SandboxServer()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SandboxProtocol(app), host, port, backlog=4096)
    log.info("sandbox listening", extra={"host": host, "port": port})
    async with server:
        await stopping.wait()
    log.info("sandbox stopped", extra={"messages": len(app.recorder.messages)})


def serve(bind: str) -> int:
    """Serve on ``host:port`` until SIGTERM or SIGINT; returns the exit code."""
    host, _, port = bind.rpartition(":")

    async def main():
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await _serve(host.strip("[]"), int(port), stopping)

    asyncio.run(main())
    return 0
