"""Start a throwaway zapx behind nginx with the built frontend, run the browser walk, clean up.

Run through ``scripts/frontend-walk`` (which makes sure of the venv, PostgreSQL, Redis, nginx,
Chromium and playwright-core first); docs/FRONTEND.md says what it does and what it found.

Everything it starts listens on 127.0.0.1 at free ports: a database ``zapx_walk_<random>``
(dropped at the end), a Redis key prefix of its own (deleted at the end), ``zapx api``,
``engine``, ``worker``, ``sandbox``, ``realtime`` when this checkout has that command, and nginx
with ``deploy/nginx/zapx.conf`` serving a copy of the built frontend. The build has its
``REACT_APP_BACKEND_URL`` baked in; the copy gets the walk's origin in its place, so one build
serves any port. Output (screenshots, the report, every process's log) goes to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.deploy.nginx import Nginx, ensure_nginx, write_config  # noqa: E402
from tests.processes import Process, free_port, wait_http  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ZAPX = str(VENV_BIN / "zapx")
WALK = Path(__file__).resolve().parent / "walk.mjs"
DEFAULT_BUILD = "/tmp/zx-frontend/frontend/build"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/frontend-walk", description=__doc__.split("\n")[0])
    p.add_argument(
        "--build",
        default=os.environ.get("FRONTEND_BUILD", DEFAULT_BUILD),
        help=f"the frontend's build/ folder (default $FRONTEND_BUILD or {DEFAULT_BUILD})",
    )
    p.add_argument(
        "--baked-url",
        default="http://localhost:8080",
        help="the REACT_APP_BACKEND_URL the build was made with (default http://localhost:8080)",
    )
    p.add_argument("--out", help="output folder (default var/frontend-walk/<UTC time>)")
    p.add_argument(
        "--timezone",
        default="America/Sao_Paulo",
        help="the browser's time zone (default America/Sao_Paulo, the frontend's users')",
    )
    p.add_argument(
        "--cross-origin",
        action="store_true",
        help="load the pages from http://127.0.0.1:PORT and call the API at http://127.0.0.1:PORT2 "
        "(the same nginx on a second port): every call is cross-origin in one site, as with the "
        "API on a host of its own (app.example.com, api.example.com)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="do not patch the login's answer when the frontend would refuse it (harness.mjs): "
        "the walk then stops being useful at the login, as a user would",
    )
    p.add_argument("--headed", action="store_true", help="show the browser (needs a display)")
    p.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the database, Redis keys and the temporary folder (the processes still stop)",
    )
    return p.parse_args(argv)


def copy_build(build: Path, dest: Path, baked: str, api_origin: str) -> int:
    """Copy ``build`` to ``dest`` with ``baked`` replaced by ``api_origin``; returns how often."""
    shutil.copytree(build, dest)
    replaced = 0
    for path in [dest / "index.html", *sorted((dest / "static" / "js").glob("*.js"))]:
        text = path.read_text(encoding="utf-8")
        if baked in text:
            replaced += text.count(baked)
            path.write_text(text.replace(baked, api_origin), encoding="utf-8")
    return replaced


def sample_sheet(build: Path) -> Path | None:
    """The frontend's own sample import sheet (src/assets/planilha.xlsx, hashed in the build)."""
    found = sorted((build / "static" / "media").glob("planilha*.xlsx"))
    return found[0] if found else None


def calls_table() -> list[dict]:
    """The frontend's calls (tests/api/frontend_calls.py) for the walk to name each request."""
    from tests.api.frontend_calls import CALLS

    return [
        {"name": c.name, "method": c.method, "path": c.path, "scope": c.scope, "page": c.page}
        for c in CALLS
    ]


def has_command(name: str, env: dict) -> bool:
    """Whether this checkout's ``zapx`` has the subcommand (argparse exits 2 on an unknown one)."""
    return subprocess.run([ZAPX, name, "--help"], env=env, capture_output=True).returncode == 0


@dataclasses.dataclass
class Stack:
    env: dict
    tmp: Path
    procs: dict[str, Process] = dataclasses.field(default_factory=dict)
    nginx: Nginx | None = None

    def start(self, name: str, args: list[str], health: str | None = None) -> None:
        proc = Process(args, self.env, self.tmp, name)
        self.procs[name] = proc
        if health:
            wait_http(health, timeout_s=60, proc=proc)

    def stop(self, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        if self.nginx is not None:
            self.nginx.stop()
            (logs / "nginx.log").write_text(self.nginx.output())
            access = self.nginx.main.parent / "access.log"
            if access.exists():
                shutil.copy(access, logs / "nginx-access.log")
        for name, proc in reversed(self.procs.items()):
            try:
                proc.stop(timeout_s=30)
            except AssertionError as exc:  # killed after the timeout; its output is kept
                print(f"walk: {name} {exc}", file=sys.stderr)
            (logs / f"{name}.log").write_text(proc.output())


def cleanup_data(env: dict) -> None:
    """Drop the walk's database and delete its Redis keys."""
    import redis

    from zapx.db import drop_database

    drop_database(env["DATABASE_URL"])
    client = redis.Redis.from_url(env["REDIS_URL"])
    keys = list(client.scan_iter(match=env["REDIS_PREFIX"] + "*", count=1000))
    if keys:
        client.delete(*keys)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    build = Path(args.build)
    if not (build / "index.html").is_file():
        print(
            f"walk: no built frontend at {build} (docs/FRONTEND.md, 'Building it')", file=sys.stderr
        )
        return 2
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out or ROOT / "var" / "frontend-walk" / stamp).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="zapx-walk-"))

    port = free_port()
    page_origin = f"http://127.0.0.1:{port}"
    # Cross-origin as with the API on a host of its own in one site (app.example.com and
    # api.example.com): another port is another origin of the same site, so the refresh cookie
    # (SameSite=Lax) still goes with the frontend's calls.
    api_port = free_port() if args.cross_origin else port
    api_origin = f"http://127.0.0.1:{api_port}"
    ports = {name: free_port() for name in ("api", "sandbox", "realtime")}
    run = secrets.token_hex(5)
    base_db = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/zapx")
    password = secrets.token_urlsafe(12)
    env = dict(os.environ)
    env.update(
        {
            "ZAPX_ENV": "development",
            "DATABASE_URL": base_db.rsplit("/", 1)[0] + f"/zapx_walk_{run}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "REDIS_PREFIX": f"zapx:walk:{run}:",
            "API_BIND": f"127.0.0.1:{ports['api']}",
            "GUNICORN_BIND": f"127.0.0.1:{ports['api']}",
            "API_WORKERS": "2",
            "SANDBOX_BIND": f"127.0.0.1:{ports['sandbox']}",
            "REALTIME_BIND": f"127.0.0.1:{ports['realtime']}",
            "FRONTEND_URL": page_origin,
            "PUBLIC_URL": api_origin,
            "TRUSTED_PROXIES": "127.0.0.1",
            "MEDIA_DIR": str(tmp / "media"),
            "IMPORT_DIR": str(tmp / "imports"),
            "DB_POOL_SIZE": "4",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    replaced = copy_build(build, tmp / "build", args.baked_url, api_origin)
    if replaced == 0:
        print(f"walk: {args.baked_url} is not in the build: pass --baked-url", file=sys.stderr)
        return 2
    sheet = sample_sheet(build)
    (tmp / "calls.json").write_text(json.dumps(calls_table()))

    stack = Stack(env=env, tmp=tmp)
    code = 1
    try:
        for step in (["migrate"], ["demo", "--password", password]):
            done = subprocess.run([ZAPX, *step], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"walk: zapx {step[0]} failed:\n{done.stdout}{done.stderr}", file=sys.stderr)
                return 2
        stack.start("sandbox", [ZAPX, "sandbox"], f"http://{env['SANDBOX_BIND']}/health")
        stack.start("engine", [ZAPX, "engine"])
        stack.start("worker", [ZAPX, "worker", "--processes", "1", "--threads", "4"])
        stack.start("api", [ZAPX, "api"], f"http://{env['API_BIND']}/health")
        realtime = has_command("realtime", env)
        if realtime:
            stack.start(
                "realtime",
                [ZAPX, "realtime"],
                f"http://{env['REALTIME_BIND']}/socket.io/?EIO=4&transport=polling",
            )
        nginx = ensure_nginx()
        main_conf = write_config(
            tmp / "nginx",
            nginx=nginx,
            listen_port=(port, api_port) if api_port != port else port,
            build_root=tmp / "build",
            api=env["API_BIND"],
            realtime=env["REALTIME_BIND"],
        )
        stack.nginx = Nginx(nginx, main_conf)
        stack.nginx.wait_listening(port)
        stack.nginx.wait_listening(api_port)
        walk_env = dict(
            os.environ,
            WALK_ORIGIN=page_origin,
            WALK_API_ORIGIN=api_origin,
            WALK_EMAIL="admin@demo.zapx",
            WALK_PASSWORD=password,
            WALK_OUT=str(out),
            WALK_TIMEZONE=args.timezone,
            WALK_SHEET=str(sheet or ""),
            WALK_CALLS=str(tmp / "calls.json"),
            WALK_REALTIME="1" if realtime else "0",
            WALK_HEADED="1" if args.headed else "0",
            WALK_STRICT="1" if args.strict else "0",
        )
        print(
            f"walk: zapx at {page_origin} (api {env['API_BIND']}, realtime "
            f"{env['REALTIME_BIND'] if realtime else 'not in this checkout'}), "
            f"output in {out}",
            file=sys.stderr,
        )
        code = subprocess.run(["node", str(WALK)], env=walk_env).returncode
    finally:
        stack.stop(out / "logs")
        if args.keep_data:
            print(f"walk: kept {env['DATABASE_URL']}, prefix {env['REDIS_PREFIX']}, {tmp}",
                  file=sys.stderr)  # fmt: skip
        else:
            cleanup_data(env)
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
