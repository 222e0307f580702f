"""Each process's own gauges (memory, CPU, its pool, its postgres/redis breakers), sampled by a
daemon thread, and the multiprocess directory's bookkeeping (a dead process's live gauges).

Why a thread in every process rather than psutil reads at scrape time: the API serving
``/metrics`` sees only its own process; every other one (gunicorn workers, the engine, each
Dramatiq worker process, realtime) writes its values into its own file, and the live gauges
(``livesum``/``livemax``) of a process leave with it (:func:`mark_process_dead`).
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
import time

import psutil
from prometheus_client import multiprocess

from zapx import dependencies
from zapx.db import db
from zapx.metrics import _definitions as d

log = logging.getLogger("zapx.metrics")

#: The process kinds (``kind`` label).
KINDS = ("api", "engine", "worker", "realtime")
#: Seconds between two samples of a process's gauges.
SAMPLE_S = 5.0
#: Breaker states (``state`` label of ``zapx_breakers``).
STATES = ("closed", "open", "half_open")
#: ``zapx.dependencies`` breaker names -> the ``kind`` label.
DEPENDENCY_KINDS = {"database": "postgres", "redis": "redis"}

_lock = threading.Lock()
_sampler: Sampler | None = None


def multiprocess_dir() -> str | None:
    """The directory processes share their values in (None: single-process mode)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Sampler(threading.Thread):
    """Sets this process's gauges every ``interval_s`` seconds, labelled ``kind``."""

    def __init__(self, kind: str, interval_s: float = SAMPLE_S):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        super().__init__(name="zapx-metrics", daemon=True)
        self.kind, self.interval_s = kind, interval_s
        self.pid = os.getpid()
        self.proc = psutil.Process(self.pid)
        self.cpu_counted = 0.0
        self.stopping = threading.Event()
        self.running = False
        self.lock = threading.Lock()  # the thread and a scrape may sample at once

    def sample(self) -> None:
        """One sample: RSS, CPU since the last sample, pool use, dependency breakers."""
        with self.lock:
            self._sample()

    def _sample(self) -> None:
        kind = self.kind
        d.processes.labels(kind).set(1)
        d.resident_memory.labels(kind).set(self.proc.memory_info().rss)
        times = self.proc.cpu_times()
        cpu = times.user + times.system
        if cpu > self.cpu_counted:
            d.cpu_seconds.labels(kind).inc(cpu - self.cpu_counted)
            self.cpu_counted = cpu
        in_use, idle = pool_use()
        d.db_pool.labels("in_use").set(in_use)
        d.db_pool.labels("idle").set(idle)
        sample_dependency_breakers()

    def run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a failed sample must not end the thread; the next may work
                log.exception("metrics sample failed")
            if self.stopping.wait(self.interval_s):
                return


def pool_use() -> tuple[int, int]:
    """(in use, idle) connections of this process's PostgreSQL pool (peewee's pool keeps the
    held ones in ``_in_use`` and the idle ones in ``_connections``)."""
    return len(getattr(db, "_in_use", ()) or ()), len(getattr(db, "_connections", ()) or ())


def sample_dependency_breakers() -> None:
    """This process's postgres and redis breakers: 1 in their state, 0 in the others; how long
    the breaker has been away from closed (seconds, 0 when closed)."""
    now = time.time()
    for breaker in dependencies.BREAKERS:
        kind = DEPENDENCY_KINDS.get(breaker.name, breaker.name)
        state = str(breaker.state)
        for s in STATES:
            d.breakers.labels(kind, s).set(1 if s == state else 0)
        since = breaker.snapshot().since
        d.breaker_open_max.labels(kind).set(0 if state == "closed" else max(0.0, now - since))


def _current(kind: str) -> Sampler:
    """This process's sampler (a forked child makes its own); under ``_lock``."""
    global _sampler
    if _sampler is None or _sampler.pid != os.getpid():
        _sampler = Sampler(kind)
    return _sampler


def start_process_metrics(kind: str) -> Sampler:
    """Start (once per process) the thread that samples this process's gauges as ``kind``
    (api|engine|worker|realtime); a forked child starts its own. A process that started it
    already keeps its kind (the engine's consumer boots as a Dramatiq worker)."""
    with _lock:
        sampler = _current(kind)
        if not sampler.running:
            sampler.running = True
            sampler.sample()  # at once: a scrape right after start sees the process
            sampler.start()
        return sampler


def sample_process(kind: str) -> None:
    """Sample this process's gauges now (the API, before it serves the page: its own figures
    fresh, and a process without the thread, such as a test's, still shows them)."""
    with _lock:
        sampler = _current(kind)
    sampler.sample()


def stop_process_metrics() -> None:
    """Stop this process's sampler (its values stay until :func:`mark_process_dead`)."""
    global _sampler
    with _lock:
        sampler, _sampler = _sampler, None
    if sampler is not None and sampler.pid == os.getpid():
        sampler.stopping.set()
        # A sample in progress would write the gauges again after mark_process_dead.
        sampler.join(timeout=2.0)


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of process ``pid`` (it exited): its memory, its ``zapx_processes``
    count, its pool and breakers leave the sums; its counters and histograms stay (a total
    does not go back when a process ends). No-op in single-process mode."""
    path = multiprocess_dir()
    if path is None or not os.path.isdir(path):
        return
    multiprocess.mark_process_dead(pid, path)


_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def prune_dead() -> list[int]:
    """Mark dead the processes whose live gauge files remain though they are gone (killed with
    ``kill -9``: no exit hook ran). Returns their PIDs. The directory is one host's (a PID
    means a process of this host)."""
    path = multiprocess_dir()
    if path is None:
        return []
    dead = set()
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _LIVE_FILE.fullmatch(os.path.basename(name))
        if match and not psutil.pid_exists(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in sorted(dead):
        mark_process_dead(pid)
    return sorted(dead)
