"""Each process's sampler, and the multiprocess directory's bookkeeping for processes that
exited (``mark_process_dead``) or were killed (``prune_dead``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY

from zapx import metrics
from zapx.metrics._process import Sampler


def test_a_sample_sets_the_process_gauges_by_kind():
    sampler = Sampler("realtime")
    sampler.sample()
    cpu = REGISTRY.get_sample_value("zapx_process_cpu_seconds_total", {"kind": "realtime"})
    assert REGISTRY.get_sample_value("zapx_processes", {"kind": "realtime"}) == 1
    assert (
        REGISTRY.get_sample_value("zapx_process_resident_memory_bytes", {"kind": "realtime"})
        > 1_000_000
    )
    assert cpu > 0
    sum(i * i for i in range(300_000))  # some CPU
    sampler.sample()
    later = REGISTRY.get_sample_value("zapx_process_cpu_seconds_total", {"kind": "realtime"})
    assert later > cpu  # counted once: the delta since the last sample
    assert later < cpu + 5


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        Sampler("cron")


def test_dead_processes_leave_the_live_gauges(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    names = [
        f"gauge_livesum_{dead_pid}.db",
        f"gauge_livemax_{dead_pid}.db",
        f"counter_{dead_pid}.db",  # a total stays
        f"gauge_livesum_{os.getpid()}.db",  # alive
        f"histogram_{os.getpid()}.db",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert metrics.prune_dead() == [dead_pid]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead_pid}.db", f"gauge_livesum_{os.getpid()}.db", f"histogram_{os.getpid()}.db"]
    )
    metrics.mark_process_dead(os.getpid())  # what the exit hooks do
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead_pid}.db", f"histogram_{os.getpid()}.db"]
    )


def test_without_the_directory_nothing_is_touched(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert metrics.multiprocess_dir() is None
    assert metrics.prune_dead() == []
    metrics.mark_process_dead(os.getpid())  # no error, no directory needed
