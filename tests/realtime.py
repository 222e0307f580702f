"""Helpers for realtime tests: a real ``zapx realtime`` process and socket.io clients of it."""

from __future__ import annotations

import threading
import time

import socketio

from tests.processes import ZAPX, Process, free_port, wait_http

#: The frontend's origin in these tests (FRONTEND_URL of the server, Origin of the clients).
FRONT = "http://front.test:3000"


def start_server(env: dict, tmp, **extra) -> tuple[Process, str]:
    """``zapx realtime`` on a free port (FRONTEND_URL=FRONT); returns (process, its base URL)."""
    port = free_port()
    env = env | {"REALTIME_BIND": f"127.0.0.1:{port}", "FRONTEND_URL": FRONT} | extra
    proc = Process([ZAPX, "realtime"], env, tmp, f"realtime-{port}")
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/health", proc=proc)
    return proc, base


class Listener:
    """A socket.io client like the frontend's (websocket only, ``?token=``, from ``origin``)
    that records every event it receives as ``(name, payload)``."""

    def __init__(self, base: str, token: str, namespace: str = "/", origin: str = FRONT):
        self.namespace = namespace
        self.events: list[tuple[str, object]] = []
        self.times: list[float] = []  # monotonic seconds each event arrived
        self.ready = threading.Event()
        self.refused: object = None
        self.disconnected = threading.Event()
        self._lock = threading.Lock()
        # websocket-client sends the Origin (its own default is the server's URL)
        self.client = socketio.Client(
            reconnection=False, websocket_extra_options={"origin": origin}
        )
        self.client.on("*", self._any, namespace=namespace)
        self.client.on("connect_error", self._refused, namespace=namespace)
        self.client.on("disconnect", lambda *_: self.disconnected.set(), namespace=namespace)
        self.url = f"{base}/?token={token}"

    def connect(self, wait_ready: bool = True) -> Listener:
        self.client.connect(
            self.url,
            transports=["websocket"],
            namespaces=[self.namespace],
            wait_timeout=10,
        )
        if wait_ready:
            assert self.ready.wait(10), "no 'ready' event after connecting"
        return self

    def refusal(self) -> object:
        """Try to connect; returns what the server said (the connect_error data)."""
        try:
            self.connect(wait_ready=False)
        except socketio.exceptions.ConnectionError as exc:
            return self.refused if self.refused is not None else str(exc)
        finally:
            self.client.disconnect()
        raise AssertionError("the server accepted the connection")

    def _any(self, event, data=None):
        if event == "ready":
            self.ready.set()
        with self._lock:
            self.events.append((event, data))
            self.times.append(time.monotonic())

    def _refused(self, data=None):
        self.refused = data

    def named(self, name: str) -> list:
        with self._lock:
            return [data for event, data in self.events if event == name]

    def timed(self, name: str) -> list[tuple[float, object]]:
        """``(arrival time, payload)`` of each event ``name``."""
        with self._lock:
            return [(t, d) for t, (e, d) in zip(self.times, self.events, strict=True) if e == name]

    def names(self) -> set[str]:
        with self._lock:
            return {event for event, _ in self.events}

    def wait(self, name: str, match=lambda data: True, timeout_s: float = 10.0):
        """The first payload of event ``name`` that ``match`` accepts (waits for it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for data in self.named(name):
                if match(data):
                    return data
            time.sleep(0.02)
        raise AssertionError(f"no {name} event matching in {timeout_s} s; got {self.events}")

    def close(self) -> None:
        self.client.disconnect()
