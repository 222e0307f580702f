"""Dispatch benchmark: end-to-end messages/s of a campaign, CPU and memory per process kind.

    .venv/bin/python bench/dispatch.py                          # 100,000 contacts (the goal run)
    .venv/bin/python bench/dispatch.py --contacts 10000 --batch1-contacts 3000   # a quick run

Three runs against the same ``zapx sandbox`` (no added latency), side by side:

- ``ceiling``: a plain loop (``--processes`` x ``--threads``) sending the same requests with the
  same HTTP client (``zapx.providers.CloudProvider``) to the sandbox: no queue, no database;
- ``zapx``: a campaign of ``--contacts`` through the real engine and ``zapx worker`` processes,
  pacing off, from the start command until every row is final;
- ``batch1``: the same with ``BATCH_SIZE=1``, the original's one queue message per contact.

For each: messages/s, CPU seconds per 1,000 messages of each process kind (engine, worker,
sandbox, postgres, the loop) and peak RSS of each process (``VmHWM``). Ends with one JSON line.
It makes its own database and Redis prefix and removes both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUN = uuid.uuid4().hex[:8]
DB_URL = f"postgresql://postgres@127.0.0.1:5432/zapx_bench_{RUN}"
PREFIX = f"zapx:bench:{RUN}:"
# The broker and the delivery module read these when imported. The sandboxes listen on 127.0.0.1
# at ports of their own, which connections may reach only when allowed (docs/CONFIG.md).
os.environ.update(
    {
        "DATABASE_URL": DB_URL,
        "REDIS_PREFIX": PREFIX,
        "ZAPX_ENV": "test",
        "CONNECTION_ALLOWED_HOSTS": "127.0.0.1",
    }
)

from zapx.config import load_config  # noqa: E402
from zapx.db import (  # noqa: E402
    Campaign,
    Company,
    ContactList,
    WhatsappConnection,
    db,
    drop_database,
    ensure_database,
    init_db,
    migrate,
)
from zapx.outbound import Outbound  # noqa: E402
from zapx.providers import CloudProvider, OutMessage  # noqa: E402
from zapx.redis import get_redis  # noqa: E402

ZAPX = str(Path(sys.executable).parent / "zapx")
TEXT = "Olá {nome}, a oferta de Black Friday do {condominio} chegou!"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float = 20) -> None:
    import urllib3

    http = urllib3.PoolManager(retries=False, timeout=1.0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if http.request("GET", url).status == 200:
                return
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


class Proc:
    """A child process; CPU (user+system, children included) and peak RSS read from /proc."""

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
        peak = 0
        for p in self.tree():
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
        return peak / 1024

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait(10)
        self.log.close()


def postgres_cpu_s() -> float:
    """CPU of the PostgreSQL backends serving this benchmark's database (their process title
    names it); pooled connections live through a run, so their counters cover it."""
    return cpu_s(
        p
        for p in psutil.process_iter(["cmdline"])
        if any(f"zapx_bench_{RUN}" in part for part in p.info["cmdline"] or ())
    )


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


def cleanup(redis_url: str) -> None:
    """Drop the benchmark's database and delete its Redis keys (whatever happened in the run)."""
    db.close_all()
    drop_database(DB_URL)
    client = get_redis(redis_url)
    keys = list(client.scan_iter(match=PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)


# --- the ceiling ----------------------------------------------------------------------------


def _loop_worker(args) -> tuple[int, float]:
    base, count, threads = args
    provider = CloudProvider(
        {"baseUrl": base, "phoneNumberId": "bench", "accessToken": "x"},
        Outbound.from_config(load_config()),
    )
    per = count // threads
    sent = [0] * threads

    def run(i: int) -> None:
        for k in range(per):
            n = f"55119{i:02d}{k:06d}"
            if provider.send(OutMessage(n, TEXT.replace("{nome}", n))).outcome == "sent":
                sent[i] += 1

    started = time.process_time()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(sent), time.process_time() - started


def run_ceiling(n: int, processes: int, threads: int, env: dict, logdir: str) -> dict:
    port = free_port()
    sandbox = Proc("sandbox", [ZAPX, "sandbox", "--bind", f"127.0.0.1:{port}"], env, logdir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health")
        sb0, pg0 = sandbox.cpu_s(), postgres_cpu_s()
        t0 = time.monotonic()
        with ProcessPoolExecutor(processes) as pool:
            results = list(pool.map(_loop_worker, [(base, n // processes, threads)] * processes))
        wall = time.monotonic() - t0
        sent = sum(r[0] for r in results)
        loop_cpu = sum(r[1] for r in results)
        per_k = 1000 / max(sent, 1)
        return {
            "msgs": sent,
            "seconds": round(wall, 2),
            "msgs_per_s": round(sent / wall, 1),
            "cpu_s_per_1k": {
                "loop": round(loop_cpu * per_k, 3),
                "sandbox": round((sandbox.cpu_s() - sb0) * per_k, 3),
                "postgres": round((postgres_cpu_s() - pg0) * per_k, 3),
            },
            "peak_rss_mb": {"sandbox": round(sandbox.peak_rss_mb(), 1)},
        }
    finally:
        sandbox.stop()


# --- zapx ------------------------------------------------------------------------------------


def seed(n: int, base: str, name: str) -> tuple[int, int, int]:
    """A company, a sandbox connection and a list of ``n`` items (COPY); returns their ids."""
    with db.connection_context():
        with db.atomic():
            company = Company.create(name=name, max_campaigns=1000)
            wa = WhatsappConnection.create(
                company=company.id,
                name="sandbox",
                provider="sandbox",
                status="CONNECTED",
                settings={"baseUrl": base, "accessToken": "x", "messagesPerSecond": 1_000_000},
            )
            cl = ContactList.create(company=company.id, name="bench")
            db.execute_sql(
                "INSERT INTO campaign_settings (created_at, updated_at, company_id, key, value) "
                "VALUES (now(), now(), %s, 'messageInterval', '0')",
                (company.id,),
            )
        conn = db.connection()
        with conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO contact_list_items (created_at, updated_at, company_id,
                    contact_list_id, name, number, email, condominio, endereco, cargo,
                    extra_info, search)
                SELECT now(), now(), %s, %s, 'Pessoa ' || g, '5511' || (900000000 + g)::text,
                       '', 'Condomínio ' || (g %% 50), '', '', '[]', ''
                FROM generate_series(1, %s) g
                """,
                (company.id, cl.id, n),
            )
        conn.commit()
    return company.id, wa.id, cl.id


def run_zapx(
    n: int, batch_size: int, processes: int, threads: int, env: dict, logdir: str, label: str
) -> dict:
    from actors.inbox import engine_command

    port = free_port()
    env = env | {
        "SANDBOX_BIND": f"127.0.0.1:{port}",
        "BATCH_SIZE": str(batch_size),
        "DB_POOL_SIZE": str(threads + 4),
    }
    base = f"http://127.0.0.1:{port}"
    procs = [Proc("sandbox", [ZAPX, "sandbox"], env, logdir)]
    wait_http(base + "/health")
    procs.append(Proc("engine", [ZAPX, "engine"], env, logdir))
    procs.append(
        Proc(
            "worker",
            [ZAPX, "worker", "--processes", str(processes), "--threads", str(threads)],
            env,
            logdir,
        )
    )
    try:
        company_id, whatsapp_id, list_id = seed(n, base, f"bench-{label}")
        time.sleep(3)  # the workers and the engine finish booting
        cpu0 = {p.kind: p.cpu_s() for p in procs}
        pg0 = postgres_cpu_s()
        t0 = time.monotonic()
        with db.connection_context():
            campaign = Campaign.create(
                company=company_id,
                name=label,
                status="PROGRAMADA",
                contact_list=list_id,
                whatsapp=whatsapp_id,
                message1=TEXT,
                message2=TEXT + " 2",
                scheduled_at=datetime.datetime.now(datetime.UTC),
            )
        engine_command.send(
            {"kind": "campaign_changed", "company_id": company_id, "campaign_id": campaign.id}
        )
        last = -1.0
        while True:
            time.sleep(0.25)
            with db.connection_context():
                status, done = db.execute_sql(
                    "SELECT c.status, (SELECT count(*) FROM campaign_shipping s "
                    "WHERE s.campaign_id = c.id AND s.status NOT IN "
                    "('pending', 'queued', 'sending')) FROM campaigns c WHERE c.id = %s",
                    (campaign.id,),
                ).fetchone()
            elapsed = time.monotonic() - t0
            if elapsed - last >= 2:
                last = elapsed
                rate = done / elapsed if elapsed else 0
                print(
                    f"  [{label}] {done:>8}/{n} final, {rate:8.0f} msgs/s, {status}",
                    file=sys.stderr,
                    flush=True,
                )
            if status == "FINALIZADA":
                break
            if elapsed > 1800:
                raise RuntimeError(f"{label}: not finished after 30 min ({done}/{n})")
        wall = time.monotonic() - t0
        per_k = 1000 / n
        with db.connection_context():
            counts = dict(
                db.execute_sql(
                    "SELECT status, count(*) FROM campaign_shipping WHERE campaign_id = %s "
                    "GROUP BY status",
                    (campaign.id,),
                ).fetchall()
            )
        return {
            "msgs": n,
            "batch_size": batch_size,
            "seconds": round(wall, 2),
            "msgs_per_s": round(n / wall, 1),
            "statuses": counts,
            "cpu_s_per_1k": {p.kind: round((p.cpu_s() - cpu0[p.kind]) * per_k, 3) for p in procs}
            | {"postgres": round((postgres_cpu_s() - pg0) * per_k, 3)},
            "peak_rss_mb": {p.kind: round(p.peak_rss_mb(), 1) for p in procs},
        }
    finally:
        for p in reversed(procs):
            p.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=100_000, help="campaign size (zapx run)")
    ap.add_argument(
        "--batch1-contacts", type=int, default=20_000, help="campaign size of the batch-size-1 run"
    )
    ap.add_argument("--processes", type=int, default=2, help="worker processes (and loop's)")
    ap.add_argument("--threads", type=int, default=8, help="threads per worker process")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the processes and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logdir = tempfile.mkdtemp(prefix="zapx-bench-dispatch-")
    env = dict(os.environ) | {"LOG_LEVEL": "warning", "BATCH_LEASE_S": "600"}
    ensure_database(DB_URL)
    init_db(DB_URL, 4)
    migrate()
    try:
        print(
            f"ceiling: {args.contacts} sends, {args.processes}x{args.threads} threads",
            file=sys.stderr,
        )
        ceiling = run_ceiling(args.contacts, args.processes, args.threads, env, logdir)
        print(f"zapx: {args.contacts} contacts, batch 50", file=sys.stderr)
        zapx = run_zapx(args.contacts, 50, args.processes, args.threads, env, logdir, "zapx")
        print(f"batch1: {args.batch1_contacts} contacts, batch 1", file=sys.stderr)
        batch1 = run_zapx(
            args.batch1_contacts, 1, args.processes, args.threads, env, logdir, "batch1"
        )
    finally:
        cleanup(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    runs = {"ceiling": ceiling, "zapx": zapx, "batch1": batch1}
    print(
        f"\n{'run':<8} {'msgs':>7} {'s':>7} {'msgs/s':>9}   CPU s per 1,000 msgs"
        "                       peak RSS MB"
    )
    for name, r in runs.items():
        cpu = " ".join(f"{k}={v}" for k, v in r["cpu_s_per_1k"].items())
        rss = " ".join(f"{k}={v}" for k, v in r["peak_rss_mb"].items())
        print(f"{name:<8} {r['msgs']:>7} {r['seconds']:>7} {r['msgs_per_s']:>9}   {cpu:<44} {rss}")

    def app_cpu(r):  # what zapx itself spends: every process but the sandbox
        return sum(v for k, v in r["cpu_s_per_1k"].items() if k != "sandbox")

    summary = {
        "contacts": args.contacts,
        "ceiling_msgs_per_s": ceiling["msgs_per_s"],
        "zapx_msgs_per_s": zapx["msgs_per_s"],
        "batch1_msgs_per_s": batch1["msgs_per_s"],
        "zapx_pct_of_ceiling": round(100 * zapx["msgs_per_s"] / ceiling["msgs_per_s"], 1),
        "zapx_cpu_s_per_1k_msgs": round(app_cpu(zapx), 3),
        "batch1_cpu_s_per_1k_msgs": round(app_cpu(batch1), 3),
        "cpu_ratio_batch1_over_zapx": round(app_cpu(batch1) / max(app_cpu(zapx), 1e-9), 2),
        "zapx_cpu_s_per_1k_by_kind": zapx["cpu_s_per_1k"],
        "batch1_cpu_s_per_1k_by_kind": batch1["cpu_s_per_1k"],
        "zapx_peak_rss_mb": zapx["peak_rss_mb"],
        "zapx_statuses": zapx["statuses"],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
