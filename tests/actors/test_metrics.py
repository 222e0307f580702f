"""``/metrics`` over the real processes in prometheus_client's multiprocess mode: a campaign
sent by two Dramatiq worker processes is counted once per message on the API's page, whichever
process sent it and whichever gunicorn worker serves the page; processes that exit (cleanly or
with ``kill -9``) leave the live gauges and keep their counts; the ``METRICS_BIND`` listener
serves the page without a token and nothing else; the page passes ``promtool check metrics``.
Every process kind shows up (api, engine, worker, realtime).
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import urllib3
from prometheus_client.mmap_dict import MmapedDict

from tests.actors.campaigns import (
    make_list,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.actors.conftest import make_stack
from tests.processes import ZAPX, Process, free_port, wait_for
from tests.realtime import start_server
from zapx import metrics
from zapx.db import CampaignBatch, CampaignShipping, db

TOKEN = "t" * 40
CONTACTS = 200
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def _total(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        v for k, v in samples.items() if k.split("{")[0] == name and all(w in k for w in wanted)
    )


def _scrape(http, base: str, headers=AUTH) -> tuple[str, dict[str, float]]:
    resp = http.request("GET", base + "/metrics", headers=headers)
    assert resp.status == 200, resp.data[:500]
    text = resp.data.decode()
    return text, _samples(text)


def _sent_by_pid(directory: Path) -> dict[int, float]:
    """Messages counted as sent in each process's counter file."""
    out = {}
    for path in glob.glob(str(directory / "counter_*.db")):
        pid = int(Path(path).stem.split("_")[1])
        for key, value, *_ in MmapedDict.read_all_values_from_file(path):
            metric, _, labels, _ = json.loads(key)
            if metric == "zapx_messages" and labels.get("outcome") == "sent":
                out[pid] = out.get(pid, 0) + value
    return out


def _children(proc, count: int) -> list:
    """The ``count`` processes ``proc``'s main forked (Dramatiq's or gunicorn's workers)."""
    found: list = []

    def forked() -> bool:
        found[:] = [p for p in proc.group() if p.pid != proc.proc.pid]
        return len(found) == count

    wait_for(forked, what=f"{count} forked processes")
    return list(found)


def _live_files(directory: Path, pid: int) -> list[str]:
    return glob.glob(str(directory / f"gauge_live*_{pid}.db"))


def _by_status(campaign_id: int) -> dict[str, int]:
    with db.connection_context():
        rows = (
            CampaignShipping.select(CampaignShipping.status, CampaignShipping.id)
            .where(CampaignShipping.campaign == campaign_id)
            .tuples()
        )
        out: dict[str, int] = {}
        for status, _ in rows:
            out[status] = out.get(status, 0) + 1
    return out


def test_a_campaign_over_two_worker_processes_is_counted_once_per_message(
    client, account, process_env, broker, tmp_path
):
    directory = tmp_path / "metrics"
    directory.mkdir()
    metrics_port = free_port()
    stack = make_stack(
        process_env,
        tmp_path,
        worker_processes=2,
        names=("sandbox", "engine", "api"),
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        METRICS_TOKEN=TOKEN,
        METRICS_BIND=f"127.0.0.1:{metrics_port}",
        API_WORKERS="2",
    )
    http = urllib3.PoolManager(timeout=30.0, retries=False)
    try:
        # Two processes of one thread each (a Dramatiq process prefetches twice its threads):
        # batches that take a while to send cannot all go to one process.
        stack.procs["worker"] = Process(
            [ZAPX, "worker", "--processes", "2", "--threads", "1"], stack.env, tmp_path, "worker"
        )
        workers = _children(stack.procs["worker"], 2)
        realtime, _ = start_server(stack.env, tmp_path)
        # 5% of the sends answer 503 (Cloud code 131016): retried, then sent. 10 ms each.
        sandbox_reset(stack.sandbox, rate5xx=0.05, latencyMs=10)
        setup = setup_company(client, account, stack.sandbox, "metrics")
        acct = setup["account"]
        campaign_id = start_campaign(
            client, acct, make_list(acct.company_id, CONTACTS), setup["whatsapp_id"]
        )
        wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=120)
        rows = _by_status(campaign_id)
        assert rows == {"sent": CONTACTS}, rows
        injected = http.request("GET", stack.sandbox + "/_sandbox/stats").json()["injected"]

        text, got = _scrape(http, stack.api)
        assert _total(got, "zapx_messages_total", outcome="sent") == CONTACTS == rows["sent"]
        assert _total(got, "zapx_messages_total", outcome="failed") == 0
        assert _total(got, "zapx_messages_total", outcome="unknown") == 0
        assert (
            _total(got, "zapx_messages_total", outcome="retried", error_code="131016")
            == _total(got, "zapx_messages_total", outcome="retried")
            == injected["5xx"]
        )
        calls = _total(got, "zapx_messages_total")
        assert _total(got, "zapx_send_latency_seconds_count", provider="sandbox") == calls
        assert _total(got, "zapx_batch_step_seconds_count", step="render") == calls
        with db.connection_context():
            batches = CampaignBatch.select().where(CampaignBatch.campaign == campaign_id).count()
        assert _total(got, "zapx_batch_step_seconds_count", step="claim") >= batches
        assert _total(got, "zapx_batch_duration_seconds_count") == batches
        ran = _total(got, "zapx_dramatiq_messages_total", queue="delivery", outcome="ok")
        ran += _total(got, "zapx_dramatiq_messages_total", queue="delivery_first", outcome="ok")
        assert ran >= batches
        assert _total(got, "zapx_dramatiq_messages_total", queue="engine", outcome="ok") > 0
        # Each sending process counted its own: together, every message once.
        by_pid = _sent_by_pid(directory)
        assert sum(by_pid.values()) == CONTACTS
        print(f"sent by worker process: {sorted(by_pid.values())}")
        assert len(by_pid) == 2 and min(by_pid.values()) > 0, by_pid
        assert set(by_pid) <= {w.pid for w in workers}
        # Every process shows up, by kind (the samplers run every 5 s; the first at start).
        assert got['zapx_processes{kind="worker"}'] == 2
        assert got['zapx_processes{kind="engine"}'] == 1
        assert got['zapx_processes{kind="api"}'] == 2
        assert got['zapx_processes{kind="realtime"}'] == 1
        assert got['zapx_process_resident_memory_bytes{kind="worker"}'] > 10_000_000
        assert got["zapx_workers_alive"] >= 3  # two worker processes and the engine's consumer

        # No label whose values grow with tenants, on a page of real traffic.
        assert set(re.findall(r"[{,]([a-z_]+)=", text)) <= metrics.LABELS
        assert f"{acct.company_id}" not in {v for v in re.findall(r'="([^"]*)"', text)}
        # The page is valid exposition text.
        checked = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

        # METRICS_BIND: no token needed there; nothing but /metrics; the API's bind needs it.
        bind = f"http://127.0.0.1:{metrics_port}"
        _, on_bind = _scrape(http, bind, headers={})
        assert _total(on_bind, "zapx_messages_total", outcome="sent") == CONTACTS
        assert http.request("GET", bind + "/health").status == 404
        assert http.request("GET", bind + "/openapi.json").status == 404
        assert http.request("GET", stack.api + "/metrics").status == 401

        # A gunicorn worker that exits: child_exit drops its live gauges at once.
        gone = _children(stack.procs["api"], 2)[0].pid
        wait_for(lambda: _live_files(directory, gone), what="the api worker's gauges")
        os.kill(gone, signal.SIGTERM)
        wait_for(lambda: not _live_files(directory, gone), what="child_exit to mark it dead")

        # The engine killed with -9: no hook runs; the next scrape drops its live gauges.
        engine = stack.procs["engine"]
        assert got['zapx_processes{kind="engine"}'] == 1
        engine.proc.kill()
        engine.proc.wait(10)
        _, after_kill = _scrape(http, stack.api)
        assert after_kill.get('zapx_processes{kind="engine"}', 0) == 0
        assert not _live_files(directory, engine.proc.pid)

        # The realtime server stops: its gauges leave with it.
        assert realtime.stop() == 0
        assert not _live_files(directory, realtime.proc.pid)

        # The workers stop cleanly: their gauges leave, their counts stay.
        stack.procs["worker"].stop(timeout_s=60)
        for w in workers:
            assert not _live_files(directory, w.pid), w.pid
        _, after = _scrape(http, stack.api)
        assert after.get('zapx_processes{kind="worker"}', 0) == 0
        assert _total(after, "zapx_messages_total", outcome="sent") == CONTACTS
    finally:
        stack.stop()
