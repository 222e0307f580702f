"""The metrics directory every program writes into is set by deploy/supervisord.conf and
emptied by scripts/run before supervisord starts (``reset_metrics_dir`` in scripts/lib.sh)."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

from zapx import metrics
from zapx.cli import WORKER_QUEUES

ROOT = Path(__file__).resolve().parents[2]


def _reset(directory: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f'source "{ROOT}/scripts/lib.sh"; reset_metrics_dir "$1"', "-", directory],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_directory_is_emptied_and_made(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    for name in ("counter_123.db", "gauge_livesum_123.db", "histogram_9.db"):
        (directory / name).write_bytes(b"\0" * 16)
    assert _reset(str(directory)).returncode == 0
    assert directory.is_dir() and list(directory.iterdir()) == []
    missing = tmp_path / "new" / "metrics"
    assert _reset(str(missing)).returncode == 0
    assert missing.is_dir()


def test_no_directory_is_refused_rather_than_wiping_something_else():
    for bad in ("", "/"):
        done = _reset(bad)
        assert done.returncode != 0 and "no directory given" in done.stderr


def test_supervisord_gives_every_program_the_directory_scripts_run_empties():
    conf = configparser.RawConfigParser()
    conf.read(ROOT / "deploy" / "supervisord.conf")
    env = conf["supervisord"]["environment"]
    assert env == 'PROMETHEUS_MULTIPROC_DIR="%(here)s/../var/metrics"'
    assert not any(conf[s].get("environment") for s in conf.sections() if s != "supervisord")
    run = (ROOT / "scripts" / "run").read_text()
    reset = run.index('reset_metrics_dir "$ROOT/var/metrics"')
    assert reset < run.index('exec "$VENV/bin/supervisord"')


def test_the_scrape_reads_every_queue_a_process_consumes():
    assert set(metrics.QUEUES) == {"engine", *WORKER_QUEUES}
