"""A Redis and a PostgreSQL of a test's own, on ports of their own, that it may stop, hang
(SIGSTOP) and start again: the machine's shared ones are never touched.

Both run as :class:`tests.processes.Process` (stopped with their group at the end of the session
whatever happens, killed with pytest). PostgreSQL refuses to run as root: as root, its
``initdb`` and server run as the ``postgres`` user, in a directory made for them.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import redis

from tests.processes import Process, free_port, wait_for


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else (shutil.which(name) or name)


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port``, nothing on disk, the given ``maxmemory-policy``."""

    def __init__(
        self, tmp: Path, policy: str = "noeviction", name: str = "redis", extra: tuple = ()
    ):
        self.tmp, self.policy, self.name, self.extra = tmp, policy, name, extra
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Process | None = None
        self.starts = 0

    def start(self) -> RedisServer:
        self.starts += 1
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(self.port)]
        argv += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--maxmemory-policy", self.policy, *self.extra]
        self.proc = Process(argv, dict(os.environ), self.tmp, f"{self.name}-{self.starts}")
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: _answers(client), 10, f"redis-server on port {self.port}")
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout_s=10)
            self.proc = None

    def pause(self) -> None:
        """Hang it: connections are still accepted by the kernel, nothing is answered."""
        os.kill(self.proc.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.proc.pid, signal.SIGCONT)


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


class PostgresServer:
    """A PostgreSQL cluster of its own on 127.0.0.1:``port`` (trust logins, no fsync)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="zapx-pg-"))
        self.data = self.dir / "data"
        self.server_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            shutil.chown(self.dir, self.user)
        self.proc: Process | None = None
        self.starts = 0

    def url(self, database: str) -> str:
        return self.server_url.rsplit("/", 1)[0] + "/" + database

    def init(self) -> PostgresServer:
        runuser = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run(
            [*runuser, _pg_bin("initdb"), "-D", str(self.data), "-A", "trust"]
            + ["-U", "postgres", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        return self

    def start(self) -> PostgresServer:
        self.starts += 1
        argv = [_pg_bin("postgres"), "-D", str(self.data)]
        argv += ["-p", str(self.port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1"]
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.proc = Process(
            argv, dict(os.environ), self.tmp, f"postgres-{self.starts}", user=self.user
        )
        wait_for(self.answers, 20, f"postgres on port {self.port}")
        return self

    def answers(self) -> bool:
        try:
            psycopg2.connect(self.server_url, connect_timeout=2).close()
            return True
        except psycopg2.Error:
            return False

    def stop(self) -> None:
        """A fast shutdown (SIGINT): sessions are ended (57P01), new connections refused."""
        if self.proc is not None:
            self.proc.stop(timeout_s=20, sig=signal.SIGINT)
            self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_until(predicate, timeout_s: float, what: str) -> float:
    """Seconds until ``predicate()`` held (polled every 20 ms); fails after ``timeout_s``."""
    started = time.monotonic()
    wait_for(predicate, timeout_s, what)
    return time.monotonic() - started
