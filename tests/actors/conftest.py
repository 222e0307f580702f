"""The process stack campaign tests run against."""

from __future__ import annotations

import time

import peewee
import pytest

from tests.processes import ZAPX, Process, free_port, wait_http
from zapx.db import MODELS, db

#: What a stack runs by default, in start order (``api``, gunicorn, only when asked for).
NAMES = ("sandbox", "engine", "worker")


class Stack:
    """sandbox + engine + worker processes (and the api, if asked); each can be killed and
    started again. With ``record``, the sandbox keeps its record in a file too, so that it
    survives the sandbox's own ``kill -9``."""

    def __init__(self, env: dict, tmp, worker_processes: int = 1, record: bool = False):
        self.env, self.tmp = env, tmp
        self.worker_processes = worker_processes
        port, api_port = free_port(), free_port()
        self.env = env | {
            "SANDBOX_BIND": f"127.0.0.1:{port}",
            "GUNICORN_BIND": f"127.0.0.1:{api_port}",
        }
        self.sandbox = f"http://127.0.0.1:{port}"
        self.api = f"http://127.0.0.1:{api_port}"
        self.record = [] if not record else ["--record", str(tmp / "sandbox-record.jsonl")]
        self.procs: dict[str, Process] = {}
        self.starts = 0

    def start(self, name: str) -> Process:
        self.starts += 1
        argv = {
            "sandbox": [ZAPX, "sandbox", *self.record],
            "engine": [ZAPX, "engine"],
            "worker": [
                *(ZAPX, "worker", "--processes", str(self.worker_processes), "--threads", "8")
            ],
            "api": [ZAPX, "api"],
        }[name]
        proc = Process(argv, self.env, self.tmp, f"{name}-{self.starts}")
        self.procs[name] = proc
        if name == "sandbox":
            wait_http(self.sandbox + "/health", proc=proc)
        if name == "api":
            wait_http(self.api + "/health", proc=proc, timeout_s=60)
        return proc

    def stop(self) -> None:
        """Stops every process, even when one of them fails to stop (then raises its error)."""
        errors = []
        for name in ("api", "worker", "engine", "sandbox"):
            if name in self.procs:
                try:
                    self.procs[name].stop(timeout_s=60)
                except AssertionError as exc:
                    errors.append(exc)
        if errors:
            raise errors[0]


def make_stack(
    process_env, tmp, worker_processes: int = 1, names=NAMES, record: bool = False, **env
) -> Stack:
    stack = Stack(process_env | env, tmp, worker_processes, record)
    try:
        for name in names:
            stack.start(name)
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def stack(process_env, tmp_path_factory, broker):
    """One stack shared by a module's tests (their companies never see each other)."""
    started = make_stack(process_env, tmp_path_factory.mktemp("stack"))
    yield started
    started.stop()


@pytest.fixture
def clean_db(database_url):
    """Like the global one, but ids keep growing: the long-lived engine and worker processes
    cache per-company and per-campaign state by id, as they may in production, where an id is
    never reused."""
    yield
    tables = ", ".join(m._meta.table_name for m in MODELS)
    # The engine and workers keep running between tests: their statements lock tables in their
    # own order, and PostgreSQL may pick this TRUNCATE as a deadlock's victim. Try again.
    for attempt in range(5):
        try:
            with db.connection_context():
                db.execute_sql(f"TRUNCATE {tables} CASCADE")
            return
        except peewee.OperationalError as exc:
            if "deadlock" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)
