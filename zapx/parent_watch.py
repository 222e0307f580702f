"""A child process that outlives its parent stops by itself, after the work it holds.

The worker processes of ``zapx worker`` (forked by Dramatiq's main process) and of ``zapx api``
(forked by gunicorn's arbiter) run under a parent that supervises them. When that parent dies by
``kill -9`` nothing tells them: they go on taking work with parent PID 1, and supervisord, which
only knows the parent, never stops them. Linux's ``PR_SET_PDEATHSIG`` would end them at once, in
the middle of a batch; instead a thread polls the parent PID and, when it changed, stops the
process the graceful way: stop taking work, finish what it holds, exit.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

log = logging.getLogger("zapx.parent_watch")

#: Seconds between two looks at the parent PID: how late an orphan notices its parent's death.
POLL_S = 1.0


def watch_parent(
    parent_pid: int, on_orphaned: Callable[[], None], poll_s: float = POLL_S
) -> threading.Thread:
    """Start a daemon thread that calls ``on_orphaned`` (in that thread) once ``parent_pid`` is
    no longer this process's parent: it died, and the process was re-parented to PID 1 or to a
    subreaper. ``poll_s`` is the polling interval in seconds; a ``getppid()`` costs nothing.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        on_orphaned()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def log_orphaned(parent_pid: int) -> None:
    log.warning(
        "parent process gone; stopping after the work in hand",
        extra={"parent_pid": parent_pid, "pid": os.getpid()},
    )


def terminate_when_orphaned(parent_pid: int, poll_s: float = POLL_S) -> threading.Thread:
    """Send this process SIGTERM, the signal its parent forwards on a normal stop, once
    ``parent_pid`` is gone (for a process that takes SIGTERM as "finish, then exit")."""

    def terminate() -> None:
        log_orphaned(parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread

    return watch_parent(parent_pid, terminate, poll_s)
