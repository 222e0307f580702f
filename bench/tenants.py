"""Tenants benchmark: many small campaigns starting while one company runs a big one.

    .venv/bin/python bench/tenants.py                      # 2,000 x 20 contacts + 200,000 contacts
    .venv/bin/python bench/tenants.py --companies 200 --big 20000      # a quick run

One company starts a ``--big`` campaign; once it is sending, ``--companies`` other companies each
start a ``--small``-contact campaign, ``--start-rate`` starts a second (0: all in one statement,
the worst case). For each small campaign it measures the time from its start (the moment its
``scheduledAt`` row became due) to its first message at the sandbox (the sandbox's own
timestamp), and reports p50/p99/max, the engine's peak RSS and the big campaign's rate meanwhile.
Goal (issue 4): p99 under 2 s — one big tenant must not starve the others. Ends with one JSON
line. Makes its own database and Redis prefix and removes both.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dispatch  # noqa: E402 - sets the environment (database, Redis prefix) first
from dispatch import DB_URL, ZAPX, Proc, free_port, postgres_cpu_s, wait_http  # noqa: E402

from zapx.db import db, ensure_database, init_db, migrate  # noqa: E402


def seed(companies: int, small: int, big: int, base: str) -> int:
    """The big company (index 0) and ``companies`` small ones, in bulk SQL; returns company 0."""
    settings = json.dumps({"baseUrl": base, "accessToken": "x", "messagesPerSecond": 1_000_000})
    with db.connection_context(), db.atomic():
        db.execute_sql(
            "INSERT INTO companies (created_at, updated_at, name, phone, email, status, "
            "max_users, max_connections, max_campaigns, use_campaigns) "
            "SELECT now(), now(), 'tenant ' || g, '', '', true, 10, 5, 100, true "
            "FROM generate_series(0, %s) g",
            (companies,),
        )
        first = db.execute_sql("SELECT min(id) FROM companies").fetchone()[0]
        db.execute_sql(
            "INSERT INTO whatsapps (created_at, updated_at, company_id, name, provider, settings, "
            "status, is_default, number) SELECT now(), now(), id, 'sandbox', 'sandbox', %s, "
            "'CONNECTED', true, '' FROM companies",
            (settings,),
        )
        db.execute_sql(
            "INSERT INTO contact_lists (created_at, updated_at, company_id, name) "
            "SELECT now(), now(), id, 'audience' FROM companies"
        )
        db.execute_sql(
            "INSERT INTO campaign_settings (created_at, updated_at, company_id, key, value) "
            "SELECT now(), now(), id, 'messageInterval', '0' FROM companies"
        )
        # Numbers carry the company's index, so the sandbox's record tells whose a message is.
        db.execute_sql(
            """
            INSERT INTO contact_list_items (created_at, updated_at, company_id, contact_list_id,
                name, number, email, condominio, endereco, cargo, extra_info, search)
            SELECT now(), now(), l.company_id, l.id, 'Pessoa ' || g,
                   '55' || lpad((l.company_id - %(first)s)::text, 5, '0') || lpad(g::text, 6, '0'),
                   '', '', '', '', '[]', ''
            FROM contact_lists l
            CROSS JOIN LATERAL generate_series(1, CASE WHEN l.company_id = %(first)s
                THEN %(big)s ELSE %(small)s END) g
            """,
            {"first": first, "big": big, "small": small},
        )
    return first


def start(company_ids: list[int], text: str) -> float:
    """Make the companies' campaigns due now, in one statement; returns the time (epoch s)."""
    with db.connection_context():
        row = db.execute_sql(
            """
            INSERT INTO campaigns (created_at, updated_at, company_id, name, status, confirmation,
                message1, message2, message3, message4, message5, confirmation_message1,
                confirmation_message2, confirmation_message3, confirmation_message4,
                confirmation_message5, media_path, media_name, media_type, scheduled_at,
                contact_list_id, whatsapp_id, pause_reason, total, generation)
            SELECT now(), now(), c.id, 'bench', 'PROGRAMADA', false, %s, '', '', '', '', '', '',
                   '', '', '', '', '', '', clock_timestamp(), l.id, w.id, '', 0, 0
            FROM companies c JOIN contact_lists l ON l.company_id = c.id
            JOIN whatsapps w ON w.company_id = c.id
            WHERE c.id = ANY(%s)
            RETURNING EXTRACT(EPOCH FROM scheduled_at)
            """,
            (text, company_ids),
        ).fetchall()
    return float(min(r[0] for r in row))


def sandbox_messages(base: str) -> list[dict]:
    import urllib3

    http = urllib3.PoolManager()
    out, after = [], 0
    while True:
        page = http.request("GET", f"{base}/_sandbox/messages?after={after}&limit=50000").json()
        if not page["messages"]:
            return out
        out += page["messages"]
        after = out[-1]["seq"]


def profile(
    procs: list[Proc], outdir: str | None, seconds: float, idle: bool
) -> list[subprocess.Popen]:
    """Start ``py-spy record`` (raw collapsed stacks, 100 samples/s, child processes too) on the
    engine and the workers; each writes ``DIR/<kind>.txt`` after ``seconds``."""
    if not outdir:
        return []
    os.makedirs(outdir, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [spy, "record", "--format", "raw", "--subprocesses", "--nonblocking"]
            + (["--idle"] if idle else [])
            + ["--duration", str(int(seconds)), "--pid", str(p.popen.pid)]
            + ["-o", os.path.join(outdir, f"{p.kind}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in procs
        if p.kind in ("worker", "worker_first")  # the engine's thousands of threads: too slow
    ]


def cpu_by_kind(procs: list[Proc]) -> dict[str, float]:
    """CPU seconds used so far by each program (children included) and by PostgreSQL."""
    return {p.kind: p.cpu_s() for p in procs} | {"postgres": postgres_cpu_s()}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--companies", type=int, default=2000)
    ap.add_argument("--small", type=int, default=20, help="contacts per small campaign")
    ap.add_argument("--big", type=int, default=200_000, help="contacts of the big campaign")
    ap.add_argument(
        "--start-rate",
        type=float,
        default=0,
        help="small campaigns started per second (0: all at once)",
    )
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument(
        "--first-threads",
        type=int,
        default=4,
        help="threads of the worker reserved for first batches, as deploy/supervisord.conf "
        "runs it (4; 0: no reserved worker)",
    )
    ap.add_argument(
        "--first-processes",
        type=int,
        default=2,
        help="processes of the worker reserved for first batches (deploy/supervisord.conf: 2)",
    )
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for the smalls")
    ap.add_argument(
        "--profile",
        metavar="DIR",
        help="record py-spy profiles (collapsed stacks) of the engine and the workers from the "
        "smalls' start for --profile-s seconds into DIR",
    )
    ap.add_argument("--profile-s", type=float, default=15)
    ap.add_argument(
        "--profile-idle", action="store_true", help="sample waiting threads too (wall time)"
    )
    ap.add_argument(
        "--wait",
        choices=("finished", "first"),
        default="finished",
        help="until every small campaign finished, or only until each sent its first message "
        "(quicker; the big campaign's rate is then over that window)",
    )
    ap.add_argument("--log-level", default="warning", help="of the engine and workers")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: clean up what we made
    logdir = tempfile.mkdtemp(prefix="zapx-bench-tenants-")
    print(f"logs in {logdir}", file=sys.stderr)
    ensure_database(DB_URL)
    init_db(DB_URL, 4)
    migrate()
    port = free_port()
    env = dict(os.environ) | {
        "LOG_LEVEL": args.log_level,
        "SANDBOX_BIND": f"127.0.0.1:{port}",
        "DB_POOL_SIZE": str(args.threads + 4),
    }
    base = f"http://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(Proc("sandbox", [ZAPX, "sandbox"], env, logdir))
        wait_http(base + "/health")
        first = seed(args.companies, args.small, args.big, base)
        print(f"seeded {args.companies} + 1 companies", file=sys.stderr)
        procs.append(Proc("engine", [ZAPX, "engine"], env, logdir))
        procs.append(
            Proc(
                "worker",
                [
                    ZAPX,
                    "worker",
                    "--processes",
                    str(args.processes),
                    "--threads",
                    str(args.threads),
                ],
                env,
                logdir,
            )
        )
        if args.first_threads > 0:
            procs.append(
                Proc(
                    "worker_first",
                    [ZAPX, "worker", "--processes", str(args.first_processes)]
                    + ["--threads", str(args.first_threads)]
                    + ["--queues", "delivery_first"],
                    env,
                    logdir,
                )
            )
        time.sleep(3)
        engine = procs[1]
        big_start = start([first], dispatch.TEXT)
        while True:  # let the big campaign get going
            time.sleep(0.5)
            with db.connection_context():
                sent = db.execute_sql(
                    "SELECT count(*) FROM campaign_shipping WHERE company_id = %s "
                    "AND status = 'sent'",
                    (first,),
                ).fetchone()[0]
            if sent >= min(2000, args.big // 10):
                break
        small_ids = list(range(first + 1, first + 1 + args.companies))
        spies = profile(procs, args.profile, args.profile_s, args.profile_idle)
        starts: dict[int, float] = {}
        if args.start_rate <= 0:
            t = start(small_ids, "Oi {nome}")
            starts = dict.fromkeys(small_ids, t)
            print(f"their insert committed {time.time() - t:.3f} s after due", file=sys.stderr)
        else:
            for cid in small_ids:
                starts[cid] = start([cid], "Oi {nome}")
                time.sleep(1 / args.start_rate)
        print(f"started {len(small_ids)} small campaigns", file=sys.stderr)
        deadline = time.monotonic() + args.timeout
        rss_peak = 0.0
        cpu = [(time.time(), cpu_by_kind(procs))]  # CPU s of each program, about once a second
        while time.monotonic() < deadline:
            time.sleep(1)
            rss_peak = max(rss_peak, engine.peak_rss_mb())
            cpu.append((time.time(), cpu_by_kind(procs)))
            with db.connection_context():
                if args.wait == "finished":
                    left = db.execute_sql(
                        "SELECT count(*) FROM campaigns WHERE company_id <> %s "
                        "AND status <> 'FINALIZADA'",
                        (first,),
                    ).fetchone()[0]
                else:
                    left = (
                        args.companies
                        - db.execute_sql(
                            "SELECT count(DISTINCT company_id) FROM campaign_shipping "
                            "WHERE company_id <> %s AND status = 'sent'",
                            (first,),
                        ).fetchone()[0]
                    )
            print(f"  small campaigns not {args.wait}: {left}", file=sys.stderr)
            if left == 0:
                break
        finished_at = time.time()
        for spy in spies:
            spy.wait(60)
        with db.connection_context():
            engine_start = [
                float(r[0])
                for r in db.execute_sql(
                    "SELECT EXTRACT(EPOCH FROM started_at - scheduled_at) FROM campaigns "
                    "WHERE company_id <> %s AND started_at IS NOT NULL",
                    (first,),
                ).fetchall()
            ]
            # Each start chunk's transaction has one started_at: the first and last chunks'.
            began, ended = db.execute_sql(
                "SELECT EXTRACT(EPOCH FROM min(started_at)), EXTRACT(EPOCH FROM max(started_at)) "
                "FROM campaigns WHERE company_id <> %s",
                (first,),
            ).fetchone()
            due = min(starts.values())
            print(
                f"start transactions began {float(began) - due:.3f} to "
                f"{float(ended) - due:.3f} s after due",
                file=sys.stderr,
            )
        messages = sandbox_messages(base)
        first_ts: dict[int, float] = {}
        big_in_window = 0
        window_start = min(starts.values())
        for m in messages:
            index = int(m["to"][2:7])
            if index == 0:
                if window_start <= m["ts"] <= finished_at:
                    big_in_window += 1
                continue
            cid = first + index
            if cid not in first_ts or m["ts"] < first_ts[cid]:
                first_ts[cid] = m["ts"]
        latencies = [first_ts[c] - starts[c] for c in small_ids if c in first_ts]
        missing = len(small_ids) - len(latencies)
        rss_peak = max(rss_peak, engine.peak_rss_mb())
    finally:
        for p in reversed(procs):
            p.stop()
        dispatch.cleanup(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    window = max(finished_at - window_start, 1e-9)
    # CPU from the smalls' start to the first sample after the last first message.
    last_first = max(first_ts.values(), default=window_start)
    until = next((c for t, c in cpu if t >= last_first), cpu[-1][1])
    firsts_cpu = {k: round(until[k] - cpu[0][1][k], 1) for k in until}
    print(
        f"CPU s until the last first message ({last_first - window_start:.1f} s): "
        + ", ".join(f"{k} {v}" for k, v in firsts_cpu.items()),
        file=sys.stderr,
    )
    summary = {
        "companies": args.companies,
        "small_contacts": args.small,
        "big_contacts": args.big,
        "start_rate_per_s": args.start_rate,
        "first_worker_processes": args.first_processes,
        "first_worker_threads": args.first_threads,
        "first_msg_p50_s": round(pct(latencies, 0.5), 3) if latencies else None,
        "first_msg_p99_s": round(pct(latencies, 0.99), 3) if latencies else None,
        "first_msg_max_s": round(max(latencies), 3) if latencies else None,
        "small_without_message": missing,
        "engine_start_p50_s": round(pct(engine_start, 0.5), 3) if engine_start else None,
        "engine_start_p99_s": round(pct(engine_start, 0.99), 3) if engine_start else None,
        "engine_peak_rss_mb": round(rss_peak, 1),
        "cpu_s_until_last_first": firsts_cpu,
        "big_msgs_per_s_meanwhile": round(big_in_window / window, 1),
        "big_started_s_before_smalls": round(window_start - big_start, 1),
    }
    print(
        f"first message after start: p50 {summary['first_msg_p50_s']} s, "
        f"p99 {summary['first_msg_p99_s']} s, max {summary['first_msg_max_s']} s; "
        f"engine peak RSS {summary['engine_peak_rss_mb']} MB"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
