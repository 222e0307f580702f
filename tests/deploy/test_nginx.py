"""deploy/nginx/zapx.conf on a real nginx: the frontend, the API, socket.io and media on one origin.

nginx runs in the foreground in the test's own folder, in front of a real ``zapx api`` (one sync
worker) and a stand-in for the realtime process that records what reaches it and answers the
websocket handshake. When nginx is missing, the fixture installs Debian's package with apt-get
(CI runs as root on a Debian machine): the test never skips.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import threading

import pytest
import urllib3

from tests.deploy.nginx import ROOT, Nginx, check_config, ensure_nginx, write_config
from tests.processes import ZAPX, Process, free_port, wait_http

pytestmark = pytest.mark.usefixtures("clean_db")

INDEX = b"<!doctype html><html><body><div id='root'></div><!-- the built frontend --></body></html>"
BUNDLE = b"console.log('bundle');"
LOGO = b"\x89PNG\r\n\x1a\nnot really"
NAVIGATE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
XHR = {"Accept": "application/json, text/plain, */*"}  # what the frontend's axios sends
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RealtimeStandIn:
    """Answers the websocket handshake (101) and keeps every request's head it received."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[tuple[str, dict]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                self.requests.append((lines[0], headers))
                key = headers.get("sec-websocket-key", "")
                accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest())
                conn.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def nginx_bin():
    return ensure_nginx()


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    (root / "index.html").write_bytes(INDEX)
    (root / "static" / "js").mkdir(parents=True)
    (root / "static" / "js" / "main.1a2b3c.js").write_bytes(BUNDLE)
    (root / "logo.png").write_bytes(LOGO)
    return root


@pytest.fixture(scope="module")
def api_port(process_env, tmp_path_factory):
    port = free_port()
    env = process_env | {
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "API_WORKERS": "1",
        "TRUSTED_PROXIES": "127.0.0.1",
        # Two failed logins from one client address, then 429: tells whether zapx sees the
        # client's address (nginx forwarded it) or nginx's own.
        "LOGIN_MAX_FAILURES": "1",
        "LOGIN_MAX_FAILURES_PER_ADDRESS": "2",
    }
    proc = Process([ZAPX, "api"], env, tmp_path_factory.mktemp("api"), "api")
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
        yield port
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def realtime():
    stand_in = RealtimeStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def origin(nginx_bin, build_root, api_port, realtime, tmp_path_factory):
    port = free_port()
    main = write_config(
        tmp_path_factory.mktemp("nginx"),
        nginx=nginx_bin,
        listen_port=port,
        build_root=build_root,
        api=f"127.0.0.1:{api_port}",
        realtime=f"127.0.0.1:{realtime.port}",
    )
    server = Nginx(nginx_bin, main)
    try:
        server.wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def http():
    return urllib3.PoolManager(retries=False, timeout=10.0)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def _port(origin: str) -> int:
    return int(origin.rsplit(":", 1)[1])


def test_the_shipped_files_pass_nginx_t(nginx_bin, tmp_path):
    # The production layout: zapx.conf in the http block, deploy/nginx/zapx/ beside nginx.conf.
    shutil.copytree(ROOT / "deploy" / "nginx" / "zapx", tmp_path / "zapx")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    include {ROOT / 'deploy' / 'nginx' / 'zapx.conf'};\n}}\n"
    )
    checked = check_config(nginx_bin, main)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_a_navigation_gets_the_frontend_on_any_route(origin, http):
    for path in ("/", "/campaigns", "/campaign/7/report", "/contact-lists/3/contacts", "/login"):
        resp = http.request("GET", origin + path, headers=NAVIGATE)
        assert resp.status == 200, path
        assert resp.data == INDEX, path
        assert resp.headers["Cache-Control"] == "no-cache", path
    # A reload of a page whose path zapx also serves must not show the API's JSON.
    assert http.request("GET", origin + "/contacts", headers=NAVIGATE).data == INDEX


def test_the_frontend_calls_reach_the_api(origin, http):
    # The same path as the page above, asked for by the frontend's axios: zapx answers.
    resp = http.request("GET", origin + "/campaigns", headers=XHR)
    assert resp.status == 401
    assert resp.json()["error"].startswith("ERR_")
    assert len(resp.headers["X-Request-Id"]) == 32  # nginx's $request_id, echoed by zapx
    login = http.request(
        "POST",
        origin + "/auth/login",
        headers=XHR | {"Content-Type": "application/json", "X-Forwarded-For": "192.0.2.50"},
        body=json.dumps({"email": "nobody@nginx.test", "password": "wrong-password"}),
    )
    assert login.status == 401
    assert set(login.json()) >= {"error", "message", "field"}
    # A path of the original backend zapx does not have: its 404 JSON, not index.html (a 200
    # that would blank the frontend's page).
    tickets = http.request("GET", origin + "/tickets?withUnreadMessages=true", headers=XHR)
    assert tickets.status == 404
    assert tickets.headers["Content-Type"].startswith("application/json")
    assert tickets.json()["error"] == "ERR_NOT_FOUND"


def test_api_documents_and_media_are_the_apis_even_for_a_browser_tab(origin, http):
    health = http.request("GET", origin + "/health", headers=NAVIGATE)
    assert health.status == 200 and health.json()["status"] == "ok"
    spec = http.request("GET", origin + "/openapi.json", headers=NAVIGATE)
    assert spec.status == 200 and "paths" in spec.json()
    media = http.request("GET", origin + "/public/media/1/2/nothing/photo.png", headers=NAVIGATE)
    assert media.status == 404
    assert media.json()["error"] == "ERR_NOT_FOUND"  # zapx's answer, not the frontend
    ops = http.request("GET", origin + "/ops", headers=NAVIGATE)
    assert ops.status == 200 and b'src="/ops/ops.js"' in ops.data  # zapx's page, not the build
    script = http.request("GET", origin + "/ops/ops.js", headers=NAVIGATE)
    assert script.status == 200 and b"/ops/state" in script.data


def test_build_files_are_served_as_they_are(origin, http):
    bundle = http.request("GET", origin + "/static/js/main.1a2b3c.js", headers=XHR)
    assert bundle.status == 200 and bundle.data == BUNDLE
    assert bundle.headers["Content-Type"] == "application/javascript"
    assert "immutable" in bundle.headers["Cache-Control"]
    assert http.request("GET", origin + "/static/js/missing.js").status == 404
    # The logos the frontend asks the backend for come from the frontend's own files.
    logo = http.request("GET", origin + "/public/logotipos/logo.png")
    assert logo.status == 200 and logo.data == LOGO
    assert http.request("GET", origin + "/public/logotipos/none.png").status == 404


def test_socket_io_is_upgraded_to_the_realtime_process(origin, realtime):
    key = base64.b64encode(b"0123456789abcdef").decode()
    answer = _raw(
        _port(origin),
        (
            "GET /socket.io/?EIO=4&transport=websocket&token=abc HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{_port(origin)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n"
        ).encode(),
    )
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    line, headers = realtime.requests[-1]
    assert line == "GET /socket.io/?EIO=4&transport=websocket&token=abc HTTP/1.1"
    assert headers["upgrade"] == "websocket"
    assert headers["connection"].lower() == "upgrade"
    assert headers["origin"] == origin  # python-socketio checks it against its allowed origins
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["sec-websocket-key"] == key


def test_zapx_sees_the_clients_address_not_nginxs(origin, http):
    def login(address: str, n: int) -> int:
        return http.request(
            "POST",
            origin + "/auth/login",
            headers=XHR | {"Content-Type": "application/json", "X-Forwarded-For": address},
            body=json.dumps({"email": f"x{n}@{address}.test", "password": "wrong-password"}),
        ).status

    # Two failures from one address (different e-mails), then that address is refused...
    assert [login("203.0.113.9", n) for n in range(3)] == [401, 401, 429]
    # ...and another client behind the same nginx is not: zapx read X-Forwarded-For.
    assert login("198.51.100.7", 0) == 401


def test_a_body_over_the_upload_limit_is_refused_in_zapxs_shape(origin):
    answer = _raw(
        _port(origin),
        (
            "POST /contact-lists/1/upload HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {51 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
        ).encode(),
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"] == "ERR_CONTENT_TOO_LARGE"


def test_an_api_that_does_not_answer_is_a_503_in_zapxs_shape(
    nginx_bin, build_root, realtime, tmp_path, http
):
    port, closed = free_port(), free_port()
    main = write_config(
        tmp_path,
        nginx=nginx_bin,
        listen_port=port,
        build_root=build_root,
        api=f"127.0.0.1:{closed}",
        realtime=f"127.0.0.1:{realtime.port}",
    )
    server = Nginx(nginx_bin, main)
    try:
        server.wait_listening(port)
        resp = http.request("GET", f"http://127.0.0.1:{port}/campaigns", headers=XHR)
        assert resp.status == 503
        assert resp.json()["error"] == "ERR_UNAVAILABLE"
        # The frontend itself is still served.
        assert http.request("GET", f"http://127.0.0.1:{port}/", headers=NAVIGATE).data == INDEX
    finally:
        server.stop()
