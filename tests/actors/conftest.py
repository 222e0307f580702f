"""The process stack campaign tests run against."""

from __future__ import annotations

import time

import peewee
import pytest

from tests.processes import ZAPX, Process, free_port, wait_http
from zapx.db import MODELS, db


class Stack:
    """sandbox + engine + worker processes; each can be killed and started again."""

    def __init__(self, env: dict, tmp, worker_processes: int = 1):
        self.env, self.tmp = env, tmp
        self.worker_processes = worker_processes
        port = free_port()
        self.env = env | {"SANDBOX_BIND": f"127.0.0.1:{port}"}
        self.sandbox = f"http://127.0.0.1:{port}"
        self.procs: dict[str, Process] = {}
        self.starts = 0

    def start(self, name: str) -> Process:
        self.starts += 1
        argv = {
            "sandbox": [ZAPX, "sandbox"],
            "engine": [ZAPX, "engine"],
            "worker": [
                *(ZAPX, "worker", "--processes", str(self.worker_processes), "--threads", "8")
            ],
        }[name]
        proc = Process(argv, self.env, self.tmp, f"{name}-{self.starts}")
        self.procs[name] = proc
        if name == "sandbox":
            wait_http(self.sandbox + "/health", proc=proc)
        return proc

    def stop(self) -> None:
        """Stops every process, even when one of them fails to stop (then raises its error)."""
        errors = []
        for name in ("worker", "engine", "sandbox"):
            if name in self.procs:
                try:
                    self.procs[name].stop(timeout_s=60)
                except AssertionError as exc:
                    errors.append(exc)
        if errors:
            raise errors[0]


def make_stack(process_env, tmp, worker_processes: int = 1, **env) -> Stack:
    stack = Stack(process_env | env, tmp, worker_processes)
    try:
        for name in ("sandbox", "engine", "worker"):
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
