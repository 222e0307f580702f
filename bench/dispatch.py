"""Dispatch benchmark: end-to-end messages/s of a campaign, CPU and memory per process kind.

    .venv/bin/python bench/dispatch.py                          # 100,000 contacts (the goal run)
    .venv/bin/python bench/dispatch.py --contacts 10000 --batch1-contacts 3000   # a quick run
    .venv/bin/python bench/dispatch.py --profile var/profile    # py-spy of the zapx run too

Five runs against ``zapx sandbox`` (no added latency), side by side in one run:

- ``loop_urllib3``: a plain loop (``--processes`` x ``--threads``) POSTing the Cloud API's text
  message (the body and headers ``CloudProvider`` sends) with a urllib3 ``PoolManager`` of its own
  (keep-alive, retries off): no queue, no database;
- ``loop_zapx_client``: the same loop through zapx's client, ``CloudProvider(...).send``;
- ``zapx``: a campaign of ``--contacts`` through the real engine and ``zapx worker`` processes,
  pacing off, from the start command until every row is final;
- ``batch1``: the same with ``BATCH_SIZE=1``, the original's one queue message per contact;
- ``paced``: one company with 4 connections and 4 campaigns (one per connection) of
  ``--paced-contacts`` in all, ``messageInterval`` ``--paced-interval-ms`` (8 ms: 125/s each,
  500/s in all), the default jitter, no long pause; then, from the sandbox's record, every gap
  between consecutive messages of a connection against the interval and the gate's floor.

For each: messages/s, CPU seconds per 1,000 messages (= CPU-ms per message) of each process
kind (loop, engine, worker, sandbox, postgres: this run's backends, redis: the server answering
REDIS_URL) and peak RSS, MB. Ends with one JSON line. It makes its own database and Redis prefix
and removes both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

import urllib3
from _dispatch_procs import (
    DB_URL,
    ZAPX,
    Proc,
    Profiler,
    RedisServer,
    cleanup,
    free_port,
    postgres_cpu_s,
    postgres_peak_rss_mb,
    sandbox_record,
    schedule_check,
    seed_campaign,
    seed_company,
    status_kb,
    wait_http,
)

from actors.inbox import engine_command
from zapx.campaigns.pacing import SETTING_DEFAULTS
from zapx.config import load_config
from zapx.db import (
    Campaign,
    db,
    ensure_database,
    init_db,
    migrate,
)
from zapx.outbound import Outbound
from zapx.providers import CloudProvider, OutMessage

__all__ = ["DB_URL", "TEXT", "ZAPX", "Proc", "cleanup", "free_port", "wait_http"]

TEXT = "Olá {nome}, a oferta de Black Friday do {condominio} chegou!"
PACED_CONNECTIONS = 4

# --- the loops -------------------------------------------------------------------------------


def _urllib3_sender(base: str):
    """A send function on urllib3 alone: CloudProvider's URL, body and headers, no zapx."""
    http = urllib3.PoolManager(maxsize=32, retries=False, timeout=urllib3.Timeout(3.0, 15.0))
    url = f"{base}/v21.0/bench/messages"
    headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}

    def send(number: str, text: str) -> bool:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": number}
        body.update(type="text", text={"preview_url": False, "body": text})
        data = json.dumps(body, separators=(",", ":")).encode()
        try:
            resp = http.request("POST", url, body=data, headers=headers)
        except urllib3.exceptions.HTTPError:
            return False
        return 200 <= resp.status < 300 and bool(json.loads(resp.data)["messages"][0]["id"])

    return send


def _zapx_sender(base: str):
    """A send function through the client zapx's workers use (whatever it is built on)."""
    provider = CloudProvider(
        {"baseUrl": base, "phoneNumberId": "bench", "accessToken": "x"},
        Outbound.from_config(load_config()),
    )
    return lambda number, text: provider.send(OutMessage(number, text)).outcome == "sent"


def _loop_process(args) -> tuple[int, float, int]:
    """One loop process: (messages sent, its CPU seconds, its VmHWM kB)."""
    client, base, count, threads = args
    send = (_urllib3_sender if client == "urllib3" else _zapx_sender)(base)
    per = count // threads
    sent = [0] * threads

    def run(i: int) -> None:
        for k in range(per):
            n = f"55119{os.getpid() % 100:02d}{i:02d}{k:06d}"
            if send(n, TEXT.replace("{nome}", n)):
                sent[i] += 1

    started = time.process_time()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(sent), time.process_time() - started, status_kb(os.getpid(), "VmHWM")


def run_loop(client: str, n: int, args, env: dict, logdir: str, redis: RedisServer) -> dict:
    port = free_port()
    sandbox = Proc("sandbox", [ZAPX, "sandbox", "--bind", f"127.0.0.1:{port}"], env, logdir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health")
        with ProcessPoolExecutor(args.processes) as pool:
            list(pool.map(abs, range(args.processes)))  # the processes start before the clock
            sb0, pg0, rd0 = sandbox.cpu_s(), postgres_cpu_s(), redis.watch().cpu_s()
            t0 = time.monotonic()
            jobs = [(client, base, n // args.processes, args.threads)] * args.processes
            results = list(pool.map(_loop_process, jobs))
        wall = time.monotonic() - t0
        sent = sum(r[0] for r in results)
        per_k = 1000 / max(sent, 1)
        cpu = {
            "loop": sum(r[1] for r in results),
            "sandbox": sandbox.cpu_s() - sb0,
            "postgres": postgres_cpu_s() - pg0,
            "redis": redis.cpu_s() - rd0,
        }
        rss = {"loop": max(r[2] for r in results) / 1024, "sandbox": sandbox.peak_rss_mb()}
        return _figures(sent, wall, cpu, per_k, rss | {"redis": redis.done()})
    finally:
        sandbox.stop()


def _figures(msgs: int, wall: float, cpu: dict, per_k: float, rss: dict, **extra) -> dict:
    return {
        "msgs": msgs,
        "seconds": round(wall, 2),
        "msgs_per_s": round(msgs / wall, 1),
        "cpu_s_per_1k_msgs": {k: round(v * per_k, 3) for k, v in cpu.items()},
        "peak_rss_mb": {k: round(v, 1) for k, v in rss.items()},
    } | extra


# --- campaigns through the engine and the workers --------------------------------------------


def _start(company_id: int, label: str, seeded: list[tuple]) -> list[int]:
    ids = []
    with db.connection_context():
        for wa_id, list_id, _ in seeded:
            ids.append(
                Campaign.create(
                    company=company_id,
                    name=label,
                    status="PROGRAMADA",
                    contact_list=list_id,
                    whatsapp=wa_id,
                    message1=TEXT,
                    message2=TEXT + " 2",
                    scheduled_at=datetime.datetime.now(datetime.UTC),
                ).id
            )
    for campaign_id in ids:
        engine_command.send(
            {"kind": "campaign_changed", "company_id": company_id, "campaign_id": campaign_id}
        )
    return ids


def _wait_final(ids: list[int], n: int, t0: float, label: str) -> None:
    last = -1.0
    while True:
        time.sleep(0.25)
        with db.connection_context():
            running, done = db.execute_sql(
                "SELECT count(*) FILTER (WHERE status <> 'FINALIZADA'), "
                "(SELECT count(*) FROM campaign_shipping s WHERE s.campaign_id = ANY(%s) "
                "AND s.status NOT IN ('pending', 'queued', 'sending')) "
                "FROM campaigns WHERE id = ANY(%s)",
                (ids, ids),
            ).fetchone()
        elapsed = time.monotonic() - t0
        if elapsed - last >= 2:
            last = elapsed
            print(f"  [{label}] {done:>8}/{n} final, {done / elapsed:8.0f} msgs/s", file=sys.stderr)
        if not running:
            return
        if elapsed > 1800:
            raise RuntimeError(f"{label}: not finished after 30 min ({done}/{n})")


def run_campaigns(
    label: str,
    sizes: list[int],
    batch_size: int,
    settings: dict,
    per_s: int,
    args,
    env: dict,
    logdir: str,
    redis: RedisServer,
    profiler: Profiler,
) -> dict:
    """One campaign per size, each on a connection of its own (phone ids ``{label}-{i}``) of one
    company with ``settings``, through a fresh sandbox, engine and workers."""
    port = free_port()
    env = env | {
        "SANDBOX_BIND": f"127.0.0.1:{port}",
        "BATCH_SIZE": str(batch_size),
        "DB_POOL_SIZE": str(args.threads + 4),
    }
    base = f"http://127.0.0.1:{port}"
    procs = [Proc("sandbox", [ZAPX, "sandbox"], env, logdir)]
    wait_http(base + "/health")
    procs.append(Proc("engine", [ZAPX, "engine"], env, logdir))
    worker = [ZAPX, "worker", "--processes", str(args.processes), "--threads", str(args.threads)]
    procs.append(Proc("worker", worker, env, logdir))
    try:
        company_id = seed_company(f"bench-{label}", settings)
        seeded = [
            seed_campaign(company_id, n, base, f"{label}-{i}", per_s) for i, n in enumerate(sizes)
        ]
        time.sleep(3)  # the workers and the engine finish booting
        if label == "zapx":
            profiler.start("engine", procs[1].tree())
            profiler.start("worker", procs[2].tree()[1:])  # the Dramatiq worker processes
        cpu0 = {p.kind: p.cpu_s() for p in procs}
        pg0, rd0 = postgres_cpu_s(), redis.watch().cpu_s()
        t0 = time.monotonic()
        ids = _start(company_id, label, seeded)
        n = sum(sizes)
        _wait_final(ids, n, t0, label)
        wall = time.monotonic() - t0
        cpu = {p.kind: p.cpu_s() - cpu0[p.kind] for p in procs}
        cpu |= {"postgres": postgres_cpu_s() - pg0, "redis": redis.cpu_s() - rd0}
        rss = {p.kind: p.peak_rss_mb() for p in procs}
        rss |= {"postgres": postgres_peak_rss_mb(), "redis": redis.done()}
        for path, top in profiler.stop().items():
            print(f"{path}\n{top}", file=sys.stderr)
        with db.connection_context():
            statuses = dict(
                db.execute_sql(
                    "SELECT status, count(*) FROM campaign_shipping WHERE campaign_id = ANY(%s) "
                    "GROUP BY status",
                    (ids,),
                ).fetchall()
            )
        extra = {"batch_size": batch_size, "statuses": statuses}
        if settings.get("messageInterval"):
            record = [m for m in sandbox_record(base) if m["phoneNumberId"].startswith(label)]
            jitter = float(settings.get("jitter", SETTING_DEFAULTS["jitter"]))
            extra["schedule"] = schedule_check(record, settings["messageInterval"], jitter)
        return _figures(n, wall, cpu, 1000 / n, rss, **extra)
    finally:
        for p in reversed(procs):
            p.stop()


# --- the report ------------------------------------------------------------------------------


def app_cpu(run: dict, sandbox: bool = False) -> float:
    """CPU-ms per message of zapx's processes (PostgreSQL and Redis included), with or without
    the sandbox (the receiving end, not zapx's)."""
    return sum(v for k, v in run["cpu_s_per_1k_msgs"].items() if sandbox or k != "sandbox")


def summary(args, runs: dict) -> dict:
    loop, client, zapx, batch1 = (
        runs[k] for k in ("loop_urllib3", "loop_zapx_client", "zapx", "batch1")
    )
    paced = runs["paced"]
    schedule = paced["schedule"]
    return {
        "contacts": args.contacts,
        "batch1_contacts": args.batch1_contacts,
        "paced_contacts": args.paced_contacts,
        "paced_connections": PACED_CONNECTIONS,
        "paced_interval_ms": args.paced_interval_ms,
        **{f"{k}_msgs_per_s": r["msgs_per_s"] for k, r in runs.items()},
        "zapx_over_loop_urllib3_msgs_per_s": round(zapx["msgs_per_s"] / loop["msgs_per_s"], 3),
        "loop_zapx_client_over_loop_urllib3": round(client["msgs_per_s"] / loop["msgs_per_s"], 3),
        "loop_zapx_client_over_loop_urllib3_loop_cpu": round(
            client["cpu_s_per_1k_msgs"]["loop"] / loop["cpu_s_per_1k_msgs"]["loop"], 3
        ),
        "zapx_total_cpu_ms_per_msg": round(app_cpu(zapx), 3),
        "zapx_total_cpu_ms_per_msg_with_sandbox": round(app_cpu(zapx, sandbox=True), 3),
        "batch1_total_cpu_ms_per_msg": round(app_cpu(batch1), 3),
        "paced_total_cpu_ms_per_msg": round(app_cpu(paced), 3),
        "cpu_ratio_batch1_over_zapx": round(app_cpu(batch1) / max(app_cpu(zapx), 1e-9), 2),
        "paced_min_gap_ms": min(s["min_gap_ms"] or 0 for s in schedule.values()),
        "paced_floor_ms": round(args.paced_interval_ms * (1 - SETTING_DEFAULTS["jitter"]), 3),
        "paced_pairs_below_floor": sum(s["pairs_below_floor"] for s in schedule.values()),
        "paced_schedule": schedule,
        "cpu_s_per_1k_msgs_by_kind": {k: r["cpu_s_per_1k_msgs"] for k, r in runs.items()},
        "peak_rss_mb_by_kind": {k: r["peak_rss_mb"] for k, r in runs.items()},
        "zapx_statuses": zapx["statuses"],
        "paced_statuses": paced["statuses"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=100_000, help="campaign size (zapx, loops)")
    ap.add_argument("--batch1-contacts", type=int, default=20_000, help="batch-size-1 campaign")
    ap.add_argument("--paced-contacts", type=int, default=6_000, help="paced run, in all")
    ap.add_argument(
        "--batch-size", type=int, default=load_config().batch_size, help="zapx and paced runs"
    )
    ap.add_argument("--paced-interval-ms", type=float, default=8.0, help="per connection")
    ap.add_argument("--processes", type=int, default=2, help="worker processes (and loop's)")
    ap.add_argument("--threads", type=int, default=8, help="threads per worker process")
    ap.add_argument("--profile", metavar="DIR", help="py-spy the engine and workers (zapx run)")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the processes and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logdir = tempfile.mkdtemp(prefix="zapx-bench-dispatch-")
    env = dict(os.environ) | {"LOG_LEVEL": "warning", "BATCH_LEASE_S": "600"}
    redis_url = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis = RedisServer(urlsplit(redis_url).port or 6379)
    profiler = Profiler(args.profile)
    ensure_database(DB_URL)
    init_db(DB_URL, 4)
    migrate()
    unpaced = {"messageInterval": 0}
    interval_s = args.paced_interval_ms / 1000
    paced = {"messageInterval": interval_s, "longerIntervalAfter": 0}
    each = args.paced_contacts // PACED_CONNECTIONS
    common = (args, env, logdir, redis, profiler)
    runs: dict[str, dict] = {}
    try:
        for name, client in (("loop_urllib3", "urllib3"), ("loop_zapx_client", "zapx")):
            print(f"{name}: {args.contacts} sends", file=sys.stderr)
            runs[name] = run_loop(client, args.contacts, args, env, logdir, redis)
        print(f"zapx: {args.contacts} contacts, batch {args.batch_size}", file=sys.stderr)
        runs["zapx"] = run_campaigns(
            "zapx", [args.contacts], args.batch_size, unpaced, 1_000_000, *common
        )
        print(f"batch1: {args.batch1_contacts} contacts, batch 1", file=sys.stderr)
        runs["batch1"] = run_campaigns(
            "batch1", [args.batch1_contacts], 1, unpaced, 1_000_000, *common
        )
        print(f"paced: {PACED_CONNECTIONS} x {each} contacts", file=sys.stderr)
        # The provider cap (1,000/s) is above the interval's 125/s: the interval paces.
        runs["paced"] = run_campaigns(
            "paced", [each] * PACED_CONNECTIONS, args.batch_size, paced, 1000, *common
        )
    finally:
        cleanup(redis_url)
    print(f"\n{'run':<17} {'msgs':>7} {'s':>7} {'msgs/s':>8}   CPU s per 1,000 msgs | peak RSS MB")
    for name, r in runs.items():
        cpu = " ".join(f"{k}={v}" for k, v in r["cpu_s_per_1k_msgs"].items())
        rss = " ".join(f"{k}={v}" for k, v in r["peak_rss_mb"].items())
        print(f"{name:<17} {r['msgs']:>7} {r['seconds']:>7} {r['msgs_per_s']:>8}   {cpu} | {rss}")
    for phone, s in runs["paced"]["schedule"].items():
        print(f"  {phone}: {s}")
    print(json.dumps(summary(args, runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
