"""A tiny raw-socket HTTP/1.1 server for the transport's tests: each connection runs a script
(a function of the server and the socket) that reads requests and answers, stalls or closes as
the test needs; every request it read is recorded, with the connection it came on."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
import threading
import time
from collections.abc import Callable


class RawServer:
    def __init__(self, script: Callable[[RawServer, socket.socket, int], None], backlog: int = 64):
        self.script = script
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v21.0/raw/messages"
        #: (connection number, request head, body) of every request read.
        self.requests: list[tuple[int, bytes, bytes]] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()

    def _run(self, conn: socket.socket, index: int) -> None:
        with contextlib.suppress(OSError):
            self.script(self, conn, index)
        with contextlib.suppress(OSError):
            conn.close()

    def read_request(self, conn: socket.socket, index: int) -> tuple[bytes, bytes] | None:
        """The next request on ``conn`` (head, body), recorded; None when the client closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        with self._lock:
            self.requests.append((index, head, body))
        return head, body

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [body for _, _, body in self.requests]

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()


def answer(
    status: int = 200, body: bytes = b'{"messages":[{"id":"w1"}]}', extra: str = ""
) -> bytes:
    """An HTTP/1.1 keep-alive answer; ``extra``: more header lines, each ending in CRLF."""
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def reset(conn: socket.socket) -> None:
    """Close ``conn`` with a TCP RST (SO_LINGER 0) instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def message_id(body: bytes) -> bytes:
    return hashlib.sha1(body).hexdigest().encode()


def keep_answering(delay_s: float = 0.0) -> Callable[[RawServer, socket.socket, int], None]:
    """A script that answers every request (after ``delay_s`` seconds) with the SHA-1 of its
    body as the message id (:func:`message_id`), until the client closes."""

    def script(server: RawServer, conn: socket.socket, index: int) -> None:
        while (request := server.read_request(conn, index)) is not None:
            if delay_s:
                time.sleep(delay_s)
            conn.sendall(answer(body=b'{"messages":[{"id":"%s"}]}' % message_id(request[1])))

    return script
