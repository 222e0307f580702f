"""A local webhook receiver on 127.0.0.1 for the alert tests: it verifies each POST's Standard
Webhooks signature and answers ``fail_first`` POSTs with 503 before it takes them."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading

from zapx.alerts.webhook import verify


@dataclasses.dataclass
class Received:
    headers: dict
    body: bytes
    valid: bool
    status: int

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """``url`` to POST to; ``secret`` set by the test once the webhook is made; ``received``
    every POST in order, with whether its signature verified and what it was answered."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.secret = ""
        self.received: list[Received] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with owner.lock:
                    valid = bool(owner.secret) and verify(owner.secret, headers, body)
                    failing = len(owner.received) < owner.fail_first
                    status = 503 if failing else (200 if valid else 401)
                    owner.received.append(Received(headers, body, valid, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/zapx"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def taken(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
