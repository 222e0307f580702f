"""Helpers to run zapx's real processes (``zapx api|engine|worker|sandbox``) from tests.

No process outlives the test run, however it ends:

- every :class:`Process` is registered until it is stopped; :func:`stop_all` stops the ones a
  failed or timed-out test left running (the session fixture ``stray_processes`` calls it, and
  ``atexit`` does when the session ends without its teardown);
- each one leads its own process group, and stopping it takes the whole group: what its main
  process forked, even if it outlived that main process;
- each one is killed by the kernel when the test process dies (``PR_SET_PDEATHSIG``), a
  ``kill -9`` of pytest included; what those processes forked then stops by itself
  (``zapx.parent_watch``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import urllib3

ZAPX = str(Path(sys.executable).parent / "zapx")

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_prctl = ctypes.CDLL(None, use_errno=True).prctl
#: Started and not yet stopped, by PID.
_running: dict[int, Process] = {}


def _die_with_parent(parent_pid: int, user: str | None = None) -> None:
    """Runs in the child between fork and exec: SIGKILL when the thread that started it dies
    (processes are started from pytest's main thread, so: when pytest dies). With ``user``,
    first become that user (a change of credentials clears the setting: after it, not before)."""
    if user is not None:
        entry = pwd.getpwnam(user)
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # it died before the line above
        os._exit(1)


def dies_with_pytest() -> functools.partial:
    """A ``preexec_fn`` for a child that other code starts (selenium's chromedriver): killed
    when pytest dies, as the processes started here are."""
    return functools.partial(_die_with_parent, os.getpid())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose output is captured to a file, stopped with SIGTERM."""

    def __init__(
        self, args: list[str], env: dict, tmp_path: Path, name: str, user: str | None = None
    ):
        self.name = name
        self.log_path = tmp_path / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.time()
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=functools.partial(_die_with_parent, os.getpid(), user),
        )
        _running[self.proc.pid] = self

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 20.0, sig: int = signal.SIGTERM) -> int:
        """``sig`` (SIGTERM), then wait; returns the exit code (kills the group after
        ``timeout_s``).

        Whatever is left of the process group afterwards is killed too."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
                    raise AssertionError(
                        f"did not stop in {timeout_s} s:\n{self.output()}"
                    ) from None
            return self.proc.returncode
        finally:
            self.kill_group()
            self._log.close()
            _running.pop(self.proc.pid, None)

    def group(self) -> list[psutil.Process]:
        """The live processes of this one's group (its own included), however they were
        re-parented; started no earlier than it, so a reused PID is never taken for one."""
        found = []
        for candidate in psutil.process_iter(["create_time", "status"]):
            try:
                if (
                    candidate.info["status"] != psutil.STATUS_ZOMBIE
                    and candidate.info["create_time"] >= self.started - 1
                    and os.getpgid(candidate.pid) == self.proc.pid
                ):
                    found.append(candidate)
            except (ProcessLookupError, psutil.Error):
                continue
        return found

    def kill_group(self, timeout_s: float = 5.0) -> None:
        """SIGKILL every live member of the group, until none is left (at most ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while (members := self.group()) and time.monotonic() < deadline:
            for member in members:
                with contextlib.suppress(psutil.Error):
                    member.kill()
            time.sleep(0.05)


def running() -> list[Process]:
    """The processes started and not stopped yet."""
    return list(_running.values())


def stop_all(timeout_s: float = 10.0) -> list[str]:
    """Stop every process still running (a test that failed or timed out before its clean-up)
    and everything in their process groups; returns their names."""
    names = []
    for proc in running():
        if proc.proc.poll() is None or proc.group():
            names.append(proc.name)
        # AssertionError: killed instead; all that counts here is that it is gone.
        with contextlib.suppress(AssertionError):
            proc.stop(timeout_s)
    return names


atexit.register(stop_all)


def wait_http(url: str, timeout_s: float = 20.0, proc: Process | None = None) -> None:
    http = urllib3.PoolManager(retries=False, timeout=2.0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"process exited early:\n{proc.output()}")
        try:
            if http.request("GET", url).status < 500:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout_s} s")


def wait_for(predicate, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in {timeout_s} s")


@contextlib.contextmanager
def sandbox_on_a_port(env: dict, directory: Path, host: str = "127.0.0.1"):
    """A ``zapx sandbox`` at ``host`` on a free port, answering, for the ``with`` block's
    duration: yields the port."""
    port = free_port()
    proc = Process([ZAPX, "sandbox", "--bind", f"{host}:{port}"], env, directory, "sandbox")
    try:
        wait_http(f"http://{host}:{port}/health", proc=proc)
        yield port
    finally:
        proc.stop()
