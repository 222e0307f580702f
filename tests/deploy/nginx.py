"""Run nginx with ``deploy/nginx/zapx.conf`` in a folder of one's own, in the foreground.

The production file is used as it is; only the two per-host files it includes
(``deploy/nginx/zapx/upstreams.conf``, ``deploy/nginx/zapx/site.conf``) and a minimal main
configuration are written here, so a test or ``scripts/frontend-walk`` checks the very file an
install copies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ZAPX_CONF = ROOT / "deploy" / "nginx" / "zapx.conf"


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def ensure_nginx() -> str:
    """The nginx binary, installed with apt-get (Debian's ``nginx``) when missing."""
    found = find_nginx()
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"could not install nginx with apt-get:\n{done.stderr}")
    found = find_nginx()
    if not found:
        raise RuntimeError("apt-get installed nginx but no nginx binary was found")
    return found


def _mime_types(nginx: str) -> str:
    """The mime.types of this nginx build (beside its default nginx.conf)."""
    out = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    conf = next(
        (w.split("=", 1)[1] for w in out.split() if w.startswith("--conf-path=")),
        "/etc/nginx/nginx.conf",
    )
    return str(Path(conf).parent / "mime.types")


def write_config(
    folder: Path,
    *,
    nginx: str,
    listen_port: int | tuple[int, ...],
    build_root: Path,
    api: str,
    realtime: str,
) -> Path:
    """Write the main file and zapx's two per-host files into ``folder``; returns the main file.

    ``api`` and ``realtime`` are ``host:port`` of the upstreams; ``listen_port`` one port or
    several (one server on each: two origins of one site).
    """
    ports = (listen_port,) if isinstance(listen_port, int) else listen_port
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zapx").mkdir(exist_ok=True)
    (folder / "zapx" / "upstreams.conf").write_text(
        f"upstream zapx_api {{\n    server {api};\n    keepalive 4;\n}}\n"
        f"upstream zapx_realtime {{\n    server {realtime};\n}}\n"
    )
    (folder / "zapx" / "site.conf").write_text(
        "".join(f"listen 127.0.0.1:{p};\n" for p in ports) + f"server_name _;\nroot {build_root};\n"
    )
    temp = folder / "temp"
    temp.mkdir(exist_ok=True)
    # As root, nginx's workers would run as nobody and could not read a private temp folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = folder / "nginx.conf"
    main.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    include {_mime_types(nginx)};\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {folder}/access.log;\n"
        f"    client_body_temp_path {temp}/body;\n"
        f"    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n"
        f"    uwsgi_temp_path {temp}/uwsgi;\n"
        f"    scgi_temp_path {temp}/scgi;\n"
        f"    include {ZAPX_CONF};\n"
        "}\n"
    )
    return main


def check_config(nginx: str, main: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on the main file (relative includes resolve beside it)."""
    return subprocess.run(
        [nginx, "-t", "-p", str(main.parent), "-c", str(main)], capture_output=True, text=True
    )


class Nginx:
    """nginx in the foreground on ``folder``'s configuration; ``stop()`` ends it."""

    def __init__(self, nginx: str, main: Path):
        self.main = main
        self.log_path = main.parent / "nginx.out"
        self._out = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [nginx, "-p", str(main.parent), "-c", str(main)],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        error_log = self.main.parent / "error.log"
        text = self.log_path.read_text(errors="replace")
        return text + (error_log.read_text(errors="replace") if error_log.exists() else "")

    def wait_listening(self, port: int, timeout_s: float = 10.0) -> None:
        import socket

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {port} in {timeout_s} s:\n{self.output()}")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()
