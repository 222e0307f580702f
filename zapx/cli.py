"""The ``zapx`` command: one entry point for every process and for operations.

``zapx api|engine|worker|realtime|sandbox`` start the processes supervisord runs (replacing this
process, so signals reach them directly); ``migrate``, ``demo``, ``check`` and ``config`` are
operations.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import peewee
import psycopg2

from zapx import queue_stats, sandbox
from zapx.config import Config, load_config, shown
from zapx.db import Company, ContactList, Tenant, db, ensure_database, init_db, migrate
from zapx.db.database import UP, connect_params, probe
from zapx.db.migrate import database_exists, status
from zapx.demo import ensure_demo
from zapx.errors import ConfigError, ZapxError
from zapx.imports import create_import, get_import, run_import
from zapx.imports.progress import progress_of
from zapx.imports.service import invalidator
from zapx.logs import setup_logging
from zapx.outbound import Outbound
from zapx.people import LIST_FIELDS
from zapx.redis import get_redis
from zapx.startup import policy_problem, require_noeviction
from zapx.status import ImportState
from zapx.validation import parse, positive_id

ROOT = Path(__file__).resolve().parents[1]
#: Queues the workers consume; ``engine`` is the engine process's alone (``actors.worker``).
WORKER_QUEUES = queue_stats.WORKER_QUEUES
#: Longest idle poll interval of the Dramatiq consumers, ms: of a worker that takes only first
#: batches (the ``worker_first`` program), and of every other worker.
POLL_MS = 50
IDLE_POLL_MS = 250


def _exec(argv: list[str]) -> int:
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 127  # not reached


def _bin(name: str) -> str:
    """A console script of this environment (next to the running interpreter)."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def cmd_config(config: Config, args) -> int:
    print(json.dumps(shown(config), indent=2))
    return 0


def cmd_check(config: Config, args) -> int:
    """Print whether PostgreSQL and Redis answer; exit 1 when one does not.

    PostgreSQL is ``ok``, ``authentication failed`` (it answers but refuses the login: a
    password asked for, no pg_hba.conf rule, an unknown role) or ``down`` (nothing answers)."""

    down = []
    state, reason = probe(config.database_url)
    print("postgres ok" if state == UP else f"postgres {state}: {reason}")
    if state != UP:
        down.append("postgres")
    try:
        client = get_redis(config.redis_url)
        client.ping()
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
        problem = policy_problem(policy)
        print(f"redis ok (maxmemory-policy {policy})" if problem is None else f"redis {problem}")
        if problem is not None:
            down.append("redis")
    except Exception as exc:  # noqa: BLE001 - any failure means down
        print(f"redis down: {exc}")
        down.append("redis")
    return 1 if down else 0


def cmd_migrate(config: Config, args) -> int:
    """Create the database when missing and apply pending migrations; with ``--status``, list
    the migrations and change nothing (exit 1 when the database does not exist)."""

    name = connect_params(config.database_url)["database"]
    try:
        if args.status and not database_exists(config.database_url):
            print(
                f"zapx migrate: database {name} does not exist "
                "(zapx migrate without --status creates it and applies every migration)",
                file=sys.stderr,
            )
            return 1
        if not args.status and ensure_database(config.database_url):
            print(f"created database {name}")
        init_db(config.database_url, 2, application_name="zapx-migrate")
        if args.status:
            for migration, applied in status():
                print(f"{'applied' if applied else 'pending'}  {migration}")
            return 0
        applied = migrate()
    except (psycopg2.OperationalError, peewee.OperationalError) as exc:
        print(f"zapx migrate: PostgreSQL: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    print("applied: " + ", ".join(applied) if applied else "up to date; nothing to apply")
    return 0


def cmd_demo(config: Config, args) -> int:
    init_db(config.database_url, 2, application_name="zapx-demo")
    outbound = Outbound.from_config(config)
    result = ensure_demo(args.password or os.environ.get("DEMO_PASSWORD"), outbound)
    host = config.api_bind
    print(f"demo company {result['companyId']}; log in at http://{host}/auth/login with")
    print(f"  email:    {result['email']}")
    if result["password"]:
        print(f"  password: {result['password']}")
    else:
        print("  password: unchanged (set DEMO_PASSWORD or pass --password to reset it)")
    print(
        f"  curl -s http://{host}/auth/login -H 'Content-Type: application/json' "
        f'-d \'{{"email":"{result["email"]}","password":"..."}}\''
    )
    return 0


def cmd_api(config: Config, args) -> int:
    return _exec([_bin("gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")])


def cmd_engine(config: Config, args) -> int:
    return _exec([sys.executable, "-m", "actors.engine"])


def cmd_worker(config: Config, args) -> int:
    # An idle Dramatiq consumer backs off up to this many ms between polls (default 1,000): how
    # late a message is picked up after a quiet spell, and what each idle queue costs a busy
    # worker (one Redis script call a poll: at 50 ms, 8% of a dispatching worker's CPU). Short
    # for the worker of first batches, where the wait is a company's first message.
    require_noeviction(config.redis_url, "worker")  # before it forks its processes
    queues = args.queues or WORKER_QUEUES
    poll_ms = POLL_MS if set(queues) == {"delivery_first"} else IDLE_POLL_MS
    os.environ.setdefault("dramatiq_worker_timeout", str(poll_ms))
    argv = [_bin("dramatiq"), "actors.worker", "--processes", str(args.processes)]
    argv += ["--threads", str(args.threads), "--queues", *queues]
    return _exec(argv)


def _import_problem(message: str) -> int:
    print(f"zapx import: {message}", file=sys.stderr)
    return 1


def cmd_import(config: Config, args) -> int:
    """Import a CSV or XLSX file into a company's contacts (or one of its lists), in process.

    Whatever stops it (no such file, company or database, a bad list name or file) is one line
    on stderr and exit status 1, never a traceback.
    """

    if not os.path.isfile(args.file):
        what = "is not a file" if os.path.exists(args.file) else "does not exist"
        return _import_problem(f"{args.file} {what}")
    if not os.access(args.file, os.R_OK):
        return _import_problem(f"{args.file} cannot be read (permission denied)")
    try:
        positive_id(args.company, "--company")
        list_name = None if args.list is None else parse({"name": args.list}, LIST_FIELDS)["name"]
    except ZapxError as exc:
        if exc.field == "--company":
            return _import_problem(f"{exc.message}, got {args.company}")
        return _import_problem(f"the list name (--list) {exc.message.removeprefix('name ')}")
    init_db(config.database_url, 4, application_name="zapx-import")
    started, shown = time.monotonic(), []

    def bar(rows: int, fraction: float) -> None:
        now = progress_of(rows, fraction, time.monotonic() - started)
        filled = int(now.percent * 30 / 100)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {now.percent:3.0f}% {rows:,} rows "
            f"{now.rows_per_s:,.0f}/s"
        )
        sys.stderr.flush()
        shown.append(True)

    try:
        with db.connection_context():
            tenant = Tenant(args.company)
            if Company.get_or_none(Company.id == args.company) is None:
                return _import_problem(f"no company with id {args.company}")
            list_id = None
            if list_name is not None:
                with db.atomic():
                    row, _ = ContactList.get_or_create(company=args.company, name=list_name)
                list_id = row.id
            imp = create_import(
                tenant, args.file, os.path.basename(args.file), list_id=list_id,
                sheet=args.sheet, owned=False,
            )  # fmt: skip
            run_import(
                imp.id,
                config.phone_region,
                progress=bar,
                chunk_rows=config.import_chunk_rows,
                after_chunk=invalidator(get_redis(config.redis_url), config.redis_prefix),
            )
            result = get_import(tenant, imp.id)
    except (ZapxError, ValueError) as exc:
        if shown:
            sys.stderr.write("\n")
        return _import_problem(getattr(exc, "message", None) or str(exc))
    except OSError as exc:  # the file went away or became unreadable while being read
        return _import_problem(f"{args.file}: {exc.strerror or exc}")
    except peewee.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _import_problem(f"PostgreSQL does not answer or refused: {first}")
    except Exception as exc:  # noqa: BLE001 - a command line prints one line, not a traceback
        return _import_problem(f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
    elapsed = time.monotonic() - started
    if shown:
        sys.stderr.write("\n")
    print(
        f"import {result['id']} {result['state']} in {elapsed:.1f} s: {result['rowsRead']:,} rows "
        f"read ({result['rowsRead'] / max(elapsed, 1e-6):,.0f}/s), {result['inserted']:,} "
        f"inserted, {result['updated']:,} updated, {result['unchanged']:,} unchanged, "
        f"{result['merged']:,} merged duplicates, {result['rejected']:,} rejected"
    )
    if result["rejected"]:
        print(f"rejected rows: GET {result['rejectedUrl']}")
    if result["error"]:
        return _import_problem(result["error"])
    return 0 if result["state"] == ImportState.DONE else 1


def cmd_realtime(config: Config, args) -> int:
    # Its own module: the socket.io stack it loads would cost every other command 0.8 s.
    return _exec([sys.executable, "-m", "zapx.realtime_server"])


def cmd_sandbox(config: Config, args) -> int:
    setup_logging("sandbox", config.log_level, config.log_format)
    return sandbox.serve(args.bind or config.sandbox_bind, args.record)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zapx", description="zapx campaign dispatch backend")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("config", help="print the effective configuration (secrets masked)")
    sub.add_parser("check", help="check that PostgreSQL and Redis answer")
    m = sub.add_parser("migrate", help="create the database if needed and apply migrations")
    m.add_argument(
        "--status",
        action="store_true",
        help="list migrations and whether applied; creates nothing (exit 1 without a database)",
    )
    d = sub.add_parser("demo", help="create the demo company, its admin and a sandbox connection")
    d.add_argument("--password", help="set the demo admin's password")
    sub.add_parser("api", help="run the HTTP API (gunicorn)")
    sub.add_parser("engine", help="run the engine (Pykka actors + engine queue)")
    w = sub.add_parser("worker", help="run Dramatiq delivery workers")
    w.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    w.add_argument("--threads", type=int, default=8, help="threads per process (default 8)")
    w.add_argument(
        "--queues",
        nargs="+",
        choices=WORKER_QUEUES,
        metavar="QUEUE",
        help=f"consume only these queues (default all: {' '.join(WORKER_QUEUES)}); "
        "deploy/supervisord.conf reserves a worker for delivery_first this way",
    )
    sub.add_parser("realtime", help="run the socket.io server (live updates, REALTIME_BIND)")
    i = sub.add_parser("import", help="import a CSV or XLSX file of contacts")
    i.add_argument("file", help="CSV or XLSX file")
    i.add_argument("--company", type=int, required=True, help="company id")
    i.add_argument("--list", help="import into this contact list (created when missing)")
    i.add_argument("--sheet", help="XLSX sheet (default: the first)")
    s = sub.add_parser("sandbox", help="run the WhatsApp Cloud API sandbox")
    s.add_argument("--bind", help="host:port (default SANDBOX_BIND)")
    s.add_argument(
        "--record", metavar="FILE", help="also keep the record in FILE, read back at start"
    )
    return p


COMMANDS = {
    "config": cmd_config,
    "check": cmd_check,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "api": cmd_api,
    "engine": cmd_engine,
    "worker": cmd_worker,
    "sandbox": cmd_sandbox,
    "realtime": cmd_realtime,
    "import": cmd_import,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"zapx: {exc.message}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](config, args)


if __name__ == "__main__":
    sys.exit(main())
