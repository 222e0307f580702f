"""Processes and meters of the dispatch benchmarks (``bench/dispatch.py``, ``bench/tenants.py``).

Importing it sets the environment the broker and the delivery module read at import time (a
database and a Redis prefix of the run's own), so it comes before any ``zapx`` import. CPU is in
seconds (user + system, from ``/proc`` through psutil), memory in MB (``VmHWM``, ``VmRSS``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil
import urllib3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUN = uuid.uuid4().hex[:8]
DB_URL = f"postgresql://postgres@127.0.0.1:5432/zapx_bench_{RUN}"
PREFIX = f"zapx:bench:{RUN}:"
# The sandboxes listen on 127.0.0.1 at ports of their own, which connections may reach only when
# allowed (docs/CONFIG.md).
os.environ.update(
    {
        "DATABASE_URL": DB_URL,
        "REDIS_PREFIX": PREFIX,
        "ZAPX_ENV": "test",
        "CONNECTION_ALLOWED_HOSTS": "127.0.0.1",
    }
)

from zapx.db import (  # noqa: E402
    Company,
    ContactList,
    WhatsappConnection,
    db,
    drop_database,
)
from zapx.redis import get_redis  # noqa: E402

ZAPX = str(Path(sys.executable).parent / "zapx")
PY_SPY = str(Path(sys.executable).parent / "py-spy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float = 20) -> None:
    http = urllib3.PoolManager(retries=False, timeout=1.0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if http.request("GET", url).status == 200:
                return
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def cpu_s(processes) -> float:
    """User + system CPU seconds of ``processes`` (those gone meanwhile count for nothing)."""
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (``VmHWM``: peak RSS; ``VmRSS``: now); 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Proc:
    """A child process; CPU (children included) and peak RSS read from /proc."""

    def __init__(self, kind: str, argv: list[str], env: dict, logdir: str):
        self.kind = kind
        self.log = open(os.path.join(logdir, f"{kind}.log"), "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.ps = psutil.Process(self.popen.pid)

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_s(self) -> float:
        return cpu_s(self.tree())

    def peak_rss_mb(self) -> float:
        """Largest VmHWM among the process and its children, MB."""
        return max((status_kb(p.pid, "VmHWM") for p in self.tree()), default=0) / 1024

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait(10)
        self.log.close()


def postgres_backends() -> list[psutil.Process]:
    """The PostgreSQL backends serving this run's database (their process title names it)."""
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if any(f"zapx_bench_{RUN}" in part for part in p.info["cmdline"] or ())
    ]


def postgres_cpu_s() -> float:
    """CPU of this run's backends; pooled connections live through a run, so their counters
    cover it."""
    return cpu_s(postgres_backends())


def postgres_peak_rss_mb() -> float:
    """Largest VmHWM of one of this run's backends, MB (shared buffers it touched included)."""
    return max((status_kb(p.pid, "VmHWM") for p in postgres_backends()), default=0) / 1024


class RedisServer:
    """The redis-server answering on ``port`` (found by its listening socket): CPU from
    ``/proc/<pid>/stat`` through psutil, and its RSS sampled every 0.25 s while :meth:`watch`
    runs (its VmHWM covers its whole life, not the run). It is shared: whatever else uses it
    meanwhile counts too (the benchmark runs under the heavy lock to keep that small)."""

    def __init__(self, port: int = 6379):
        pids = {
            c.pid
            for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid
        }
        if len(pids) != 1:
            raise RuntimeError(f"no single process listens on port {port}: {pids}")
        self.ps = psutil.Process(pids.pop())
        self.peak_kb = 0
        self._stop = threading.Event()

    def cpu_s(self) -> float:
        return cpu_s([self.ps])

    def watch(self) -> RedisServer:
        """Start sampling RSS afresh (until :meth:`done`)."""
        self.peak_kb = status_kb(self.ps.pid, "VmRSS")
        self._stop.clear()
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_kb = max(self.peak_kb, status_kb(self.ps.pid, "VmRSS"))

    def done(self) -> float:
        """Stop sampling; the largest RSS seen, MB."""
        self._stop.set()
        return self.peak_kb / 1024


def cleanup(redis_url: str) -> None:
    """Drop the benchmark's database and delete its Redis keys (whatever happened in the run)."""
    db.close_all()
    drop_database(DB_URL)
    client = get_redis(redis_url)
    keys = list(client.scan_iter(match=PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)


# --- seeds -----------------------------------------------------------------------------------


def seed_company(name: str, settings: dict[str, float]) -> int:
    """A company with these campaign-settings (JSON text values); its id."""
    with db.connection_context(), db.atomic():
        company = Company.create(name=name, max_campaigns=1000)
        for key, value in settings.items():
            db.execute_sql(
                "INSERT INTO campaign_settings (created_at, updated_at, company_id, key, value) "
                "VALUES (now(), now(), %s, %s, %s)",
                (company.id, key, json.dumps(value)),
            )
    return company.id


def seed_campaign(company_id: int, n: int, base: str, phone_id: str, per_s: int) -> tuple:
    """A sandbox connection (``per_s``: its provider cap) and a list of ``n`` items (one
    INSERT ... SELECT, numbers of their own); ``(whatsapp id, list id, n)``."""
    with db.connection_context():
        with db.atomic():
            wa = WhatsappConnection.create(
                company=company_id,
                name=phone_id,
                provider="sandbox",
                status="CONNECTED",
                settings={
                    "baseUrl": base,
                    "phoneNumberId": phone_id,
                    "accessToken": "x",
                    "messagesPerSecond": per_s,
                },
            )
            cl = ContactList.create(company=company_id, name=phone_id)
        conn = db.connection()
        with conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO contact_list_items (created_at, updated_at, company_id,
                    contact_list_id, name, number, email, condominio, endereco, cargo,
                    extra_info, search)
                SELECT now(), now(), %s, %s, 'Pessoa ' || g,
                       '55' || (1100000000 + %s * 10000000 + g)::text,
                       '', 'Condomínio ' || (g %% 50), '', '', '[]', ''
                FROM generate_series(1, %s) g
                """,
                (company_id, cl.id, cl.id % 90, n),
            )
        conn.commit()
    return wa.id, cl.id, n


# --- the sandbox's record --------------------------------------------------------------------


def sandbox_record(base: str) -> list[dict]:
    """Every message the sandbox recorded, in arrival order (``ts`` epoch seconds)."""
    http = urllib3.PoolManager(retries=False, timeout=30.0)
    out: list[dict] = []
    while True:
        page = http.request("GET", f"{base}/_sandbox/messages?after={len(out)}&limit=5000").json()
        items = page["messages"] if isinstance(page, dict) else page
        if not items:
            return out
        out.extend(items)


def schedule_check(record: list[dict], interval_s: float, jitter: float) -> dict:
    """Per phone number id: every gap between consecutive arrivals against the configured
    interval and the floor the send gate holds (``interval * (1 - jitter)``), in ms."""
    floor_s = interval_s * (1 - jitter)
    by_phone: dict[str, list[float]] = {}
    for m in record:
        by_phone.setdefault(m["phoneNumberId"], []).append(m["ts"])
    out = {}
    for phone, ts in sorted(by_phone.items()):
        ts.sort()
        gaps = [b - a for a, b in zip(ts, ts[1:], strict=False)]
        out[phone] = {
            "msgs": len(ts),
            "pairs": len(gaps),
            "interval_ms": round(interval_s * 1000, 3),
            "floor_ms": round(floor_s * 1000, 3),
            "min_gap_ms": round(min(gaps) * 1000, 3) if gaps else None,
            "median_gap_ms": round(sorted(gaps)[len(gaps) // 2] * 1000, 3) if gaps else None,
            "pairs_below_floor": sum(g < floor_s for g in gaps),
            "pairs_below_interval": sum(g < interval_s for g in gaps),
        }
    return out


# --- profiles --------------------------------------------------------------------------------


class Profiler:
    """``py-spy record --format raw`` of each given process (CPU samples only: idle threads are
    left out), and a summary of the functions by own time (the leaf frame of a sample)."""

    def __init__(self, outdir: str | None):
        self.outdir = outdir
        self.spies: list[tuple[str, subprocess.Popen]] = []

    def start(self, label: str, processes: list[psutil.Process]) -> None:
        if not self.outdir:
            return
        os.makedirs(self.outdir, exist_ok=True)
        for p in processes:
            path = os.path.join(self.outdir, f"{label}-{p.pid}.raw.txt")
            argv = [PY_SPY, "record", "--pid", str(p.pid), "--format", "raw", "-o", path]
            # --gil: only the thread holding the GIL is sampled, so the samples are Python's
            # CPU (a thread waiting in select() or recv() for an answer is not counted).
            argv += ["--rate", "100", "--nonblocking", "--gil"]
            spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.spies.append((path, spy))

    def stop(self) -> dict[str, str]:
        """Stop recording (py-spy writes its file on SIGINT); returns ``{raw file: summary}``."""
        for _, spy in self.spies:
            spy.send_signal(signal.SIGINT)
        out = {}
        for path, spy in self.spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
            if os.path.exists(path):
                summary = top_own(path) + steps(path)
                with open(path.replace(".raw.txt", ".top.txt"), "w") as f:
                    f.write(summary)
                out[path] = summary
        self.spies = []
        return out


def _samples(path: str):
    """``(stack, samples)`` of each line of a py-spy raw file (``frame;frame;... count``)."""
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if stack and n.isdigit():
                yield stack, int(n)


def top_own(path: str, count: int = 25) -> str:
    """The ``count`` functions with the most own samples in a py-spy raw file, as text."""
    own: Counter[str] = Counter()
    total = 0
    for stack, n in _samples(path):
        leaf = stack.rsplit(";", 1)[-1]
        name, _, where = leaf.partition(" (")
        where = where.rstrip(")").rsplit(":", 1)[0]
        own[f"{name} ({where})"] += n
        total += n
    lines = [f"{total} samples; own time by function"]
    for name, n in own.most_common(count):
        lines.append(f"{100 * n / max(total, 1):6.1f}%  {n:>7}  {name}")
    return "\n".join(lines) + "\n"


#: The hot path's steps, by a frame's text: a sample goes to the step of the frame nearest its
#: leaf that names one (a send's JSON encoding inside the batch loop counts as "encode").
STEPS = (
    ("render", ("templates.py", "CampaignContext.render")),
    ("encode", ("CloudProvider.request", "CloudProvider.payload", "json/encoder")),
    ("answer", ("CloudProvider.result",)),
    ("http", ("zapx/providers/curl.py", "zapx/providers/curl_handle.py")),
    ("gate", ("zapx/schedule/",)),
    ("progress", ("campaigns/flags.py",)),
    ("claim", ("claim_batch",)),
    ("finish", ("finish_batch", "_finish (actors/delivery.py")),
    ("context", ("load_context",)),
    ("breakers", ("zapx/circuits.py",)),
    ("report", ("send_command",)),
    ("plan", ("plan_batch", "_pump_connection", "next_due_in_s")),
    ("batch loop", ("window.py", "sending.py")),
    ("dramatiq", ("dramatiq/",)),
)


def steps(path: str) -> str:
    """The samples of a py-spy raw file by hot-path step (:data:`STEPS`), as text."""
    by_step: Counter[str] = Counter()
    total = 0
    for stack, n in _samples(path):
        total += n
        step = ""
        for frame in reversed(stack.split(";")):
            step = next((name for name, marks in STEPS if any(m in frame for m in marks)), "")
            if step:
                break
        by_step[step or "other"] += n
    lines = [f"{total} samples by step"]
    for name, n in by_step.most_common():
        lines.append(f"{100 * n / max(total, 1):6.1f}%  {n:>7}  {name}")
    return "\n".join(lines) + "\n"
