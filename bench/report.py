"""``GET /campaigns/{id}/report`` with and without the query cache, side by side in one run.

    .venv/bin/python bench/report.py                                        # 50,000 rows
    .venv/bin/python bench/report.py --rows 5000 --seconds 3 --rounds 1     # a quick run

It makes its own database (``zapx_bench_<random>``, dropped at the end) and Redis key prefix
(its keys deleted at the end), a company with an admin user and a list of ``--rows`` items, and
two campaigns on it started by the clock's ``start_due`` (the snapshot: ``--rows`` shipping rows
each), their rows' statuses mixed as a campaign part-way through has them (30 % pending, 15 %
sent, 25 % delivered, 20 % read, 10 % failed; recorded 50 rows to a ``sent_at`` second, the last
ones in the rate window). One is then paused (its report is cached ``QUERY_CACHE_TTL_S``, 60 s
here), the other stays running (``QUERY_CACHE_REPORT_TTL_S``, 5 s: its rate and estimated end
move with the time); no engine or worker runs, so neither changes during the run.

Two gunicorns (``gunicorn -c gunicorn.conf.py``, the shipped worker settings) run side by side:
one with the query cache, one with it off (``QUERY_CACHE_TTL_S=0``, as in bench/api.py). ``wrk``
drives ``--clients`` keep-alive connections back to back, then one, at each campaign's report,
``--seconds`` a run, the two servers alternating run by run (which goes first swaps every
round), so cached and uncached figures come from the same minutes. Each run's cache hit rate is
the change of the company's ``reports`` hit and miss counts in the Redis stats hash (what
``GET /cache/stats`` answers). The figures of a cell are the median over ``--rounds``; the last
line is one JSON object with them and the ratios cached / uncached.

Results are written up in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import PASSWORD, CpuMeter, Gunicorn, call, login_token, run_wrk  # noqa: E402
from zapx import auth, cache  # noqa: E402
from zapx.campaigns import starts  # noqa: E402
from zapx.db import (  # noqa: E402
    Campaign,
    Company,
    ContactList,
    User,
    WhatsappConnection,
    db,
    drop_database,
    ensure_database,
    init_db,
    migrate,
)
from zapx.redis import get_redis  # noqa: E402
from zapx.status import CampaignStatus  # noqa: E402

LUA_REPORT = r"""
local headers = {["Authorization"] = "Bearer %(token)s"}
function request()
  return wrk.format("GET", "%(path)s", headers)
end
"""

#: Each row's status by ``id % 20``: 6 pending, 3 sent, 5 delivered, 4 read, 2 failed.
STATUS_SQL = (
    "CASE WHEN id %% 20 < 6 THEN 'pending' WHEN id %% 20 < 9 THEN 'sent' "
    "WHEN id %% 20 < 14 THEN 'delivered' WHEN id %% 20 < 18 THEN 'read' ELSE 'failed' END"
)
CASES = ("paused", "running")
MODES = ("cached", "uncached")


def load(rows: int) -> tuple[int, dict[str, int]]:
    """(company id, {case: campaign id}): two started campaigns of ``rows`` rows each."""
    now = datetime.datetime.now(datetime.UTC)
    with db.atomic():
        company = Company.create(name="Bench Relatórios Ltda")
        User.create(
            company=company.id, name="Bench Admin", email="admin@bench.example",
            password_hash=auth.hash_password(PASSWORD), profile="admin",
        )  # fmt: skip
        wa = WhatsappConnection.create(company=company.id, name="sb", status="CONNECTED")
        cl = ContactList.create(company=company.id, name="audience")
        db.execute_sql(
            """
            INSERT INTO contact_list_items (created_at, updated_at, company_id, contact_list_id,
                name, number, email, condominio, endereco, cargo, extra_info, search)
            SELECT now(), now(), %s, %s, 'Pessoa ' || g, '55119' || lpad(g::text, 8, '0'),
                   'p' || g || '@example.test', '', '', '', '[]', 'pessoa ' || g
            FROM generate_series(1, %s) g
            """,
            (company.id, cl.id, rows),
        )
        made = {
            case: Campaign.create(
                company=company.id, name=f"bench {case}", status="PROGRAMADA",
                contact_list=cl.id, whatsapp=wa.id, message1="Oi {nome}", scheduled_at=now,
            ).id
            for case in CASES
        }  # fmt: skip
    assert len(starts.start_due()) == len(CASES)
    with db.atomic():
        for campaign_id in made.values():
            # Newest rows last: the last 60 s of sends hold 3,000 rows, 50 to a second.
            db.execute_sql(
                f"UPDATE campaign_shipping s SET status = {STATUS_SQL}, attempts = 1, "
                "sent_at = CASE WHEN id %% 20 < 6 THEN NULL ELSE now() - make_interval(secs "
                "=> ((m.top - id) / 50)::int) END, provider_message_id = CASE WHEN id %% 20 "
                "BETWEEN 6 AND 17 THEN 'wamid.' || id END FROM (SELECT max(id) AS top FROM "
                "campaign_shipping WHERE campaign_id = %s) m WHERE s.campaign_id = %s",
                (campaign_id, campaign_id),
            )
        Campaign.update(status=CampaignStatus.PAUSADA, pause_reason="manual").where(
            Campaign.id == made["paused"]
        ).execute()
    conn = db.connection()
    conn.commit()
    conn.autocommit = True
    try:
        conn.cursor().execute("VACUUM ANALYZE campaign_shipping")
    finally:
        conn.autocommit = False
    return company.id, made


def check(servers: dict, tokens: dict, made: dict, rows: int) -> None:
    """Both servers answer each report, with every row counted and the same counts."""
    for case, campaign_id in made.items():
        seen = []
        for mode, server in servers.items():
            for _ in range(2):  # the second one from the cache, on the cached server
                status, body = call(
                    f"{server.url}/campaigns/{campaign_id}/report", token=tokens[mode]
                )
                if status != 200 or body["total"] != rows:
                    raise RuntimeError(f"{case} {mode}: {status} {str(body)[:300]}")
                seen.append(body["counts"])
        if any(c != seen[0] for c in seen):
            raise RuntimeError(f"{case}: the counts differ between answers: {seen}")


def summary_of(runs: list[dict]) -> dict:
    keys = ("req_per_s", "p50_ms", "p90_ms", "p99_ms", "errors", "app_cpu_ms_per_req",
            "db_cpu_ms_per_req", "cache_hit_rate")  # fmt: skip
    out = {}
    for key in keys:
        values = [r[key] for r in runs if r.get(key) is not None]
        if key == "errors":
            out[key] = sum(values)  # every round's, not a median
        elif values:
            out[key] = round(statistics.median(values), 4 if key == "cache_hit_rate" else 2)
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000, help="shipping rows a campaign (50000)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent connections (50)")
    ap.add_argument("--seconds", type=float, default=10, help="seconds per measured run (10)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of alternating runs (2)")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured warm-up (2)")
    ap.add_argument("--cache-ttl", type=int, default=60, help="QUERY_CACHE_TTL_S, cached (60)")
    ap.add_argument(
        "--report-ttl", type=int, default=5, help="QUERY_CACHE_REPORT_TTL_S, cached (5)"
    )
    ap.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/"),
        help="server to create the benchmark database on",
    )
    ap.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        ap.error("wrk is not installed (apt-get install -y wrk)")

    run_id = uuid.uuid4().hex[:8]
    database = f"zapx_bench_{run_id}"
    url = args.database_url.rsplit("/", 1)[0] + f"/{database}"
    prefix = f"zapx:bench:{run_id}:"
    tmp = Path(tempfile.mkdtemp(prefix="zapx-bench-report-"))
    redis_client = get_redis(args.redis_url)
    servers: dict[str, Gunicorn] = {}
    runs: dict[tuple[str, str, int], list[dict]] = {}
    try:
        ensure_database(url)
        init_db(url, pool_size=4, application_name="zapx-bench-report")
        migrate()
        with db.connection_context():
            company_id, made = load(args.rows)
        print(f"loaded 2 campaigns x {args.rows:,} rows into {database}", flush=True)
        env = dict(os.environ) | {
            "ZAPX_ENV": "production",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "DATABASE_URL": url,
            "REDIS_URL": args.redis_url,
            "REDIS_PREFIX": prefix,
            "LOG_LEVEL": "warning",
            "LOG_FORMAT": "json",
            "QUERY_CACHE_REPORT_TTL_S": str(args.report_ttl),
        }
        servers["cached"] = Gunicorn(
            env | {"QUERY_CACHE_TTL_S": str(args.cache_ttl)}, tmp / "gunicorn-cached.log"
        )
        servers["uncached"] = Gunicorn(env | {"QUERY_CACHE_TTL_S": "0"}, tmp / "gunicorn-off.log")
        for server in servers.values():
            server.wait_healthy()
        tokens = {mode: login_token(server.url) for mode, server in servers.items()}
        check(servers, tokens, made, args.rows)

        def counts() -> dict:
            reports = cache.stats(redis_client, prefix, company_id).get(cache.REPORTS, {})
            return {"hit": reports.get("hit", 0), "miss": reports.get("miss", 0)}

        def one(case: str, mode: str, clients: int, seconds: float) -> dict:
            server = servers[mode]
            script = LUA_REPORT % {
                "token": tokens[mode],
                "path": f"/campaigns/{made[case]}/report",
            }
            before = counts()
            result = run_wrk(
                server.url, script, tmp, clients=clients, seconds=seconds, threads=1,
                meter=CpuMeter(server.proc.pid, database),
            )  # fmt: skip
            after = counts()
            hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
            if mode == "cached" and hits + misses:
                result["cache_hit_rate"] = round(hits / (hits + misses), 4)
            return result

        if args.warmup > 0:
            for case in CASES:
                for mode in MODES:
                    one(case, mode, args.clients, args.warmup)
        for n in range(args.rounds):
            for case in CASES:
                for clients in (args.clients, 1):
                    for mode in MODES if n % 2 == 0 else MODES[::-1]:
                        r = one(case, mode, clients, args.seconds)
                        runs.setdefault((case, mode, clients), []).append(r)
                        hit = r.get("cache_hit_rate")
                        print(
                            f"round {n + 1} {case:<8} {mode:<9} {clients:>3} clients "
                            f"{r['req_per_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f}  p90 "
                            f"{r['p90_ms']:7.2f}  p99 {r['p99_ms']:7.2f} ms  errors "
                            f"{r['errors']}" + (f"  hits {100 * hit:.1f} %" if hit else ""),
                            flush=True,
                        )
        status, stats = call(f"{servers['cached'].url}/cache/stats", token=tokens["cached"])
        api_stats = stats if status == 200 else {"status": status}
    finally:
        for server in servers.values():
            with contextlib.suppress(Exception):
                server.stop()
        with contextlib.suppress(Exception):
            db.close_all()
        with contextlib.suppress(Exception):
            drop_database(url)
        with contextlib.suppress(Exception):
            keys = list(redis_client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                redis_client.delete(*keys)
        shutil.rmtree(tmp, ignore_errors=True)

    figures: dict = {
        "rows": args.rows,
        "clients": args.clients,
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "cache_ttl_s": args.cache_ttl,
        "report_ttl_s": args.report_ttl,
    }
    print(f"\n{'case':<22}{'':<10}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'hits':>8}")
    for case in CASES:
        for clients in (args.clients, 1):
            cell = {m: summary_of(runs[(case, m, clients)]) for m in MODES}
            name = f"{case}_{clients}_clients" if clients > 1 else f"{case}_1_client"
            for mode in MODES:
                s = cell[mode]
                hit = f"{100 * s['cache_hit_rate']:.1f}%" if "cache_hit_rate" in s else "-"
                print(
                    f"{case + ', ' + str(clients) + ' cl.':<22}{mode:<10}{s['req_per_s']:>9.1f}"
                    f"{s['p50_ms']:>9.2f}{s['p90_ms']:>9.2f}{s['p99_ms']:>9.2f}{hit:>8}"
                )
            c, u = cell["cached"], cell["uncached"]
            figures[name] = {
                **{f"cached_{k}": v for k, v in c.items()},
                **{f"uncached_{k}": v for k, v in u.items()},
                **{
                    f"ratio_{k}": ratio(c.get(k), u.get(k))
                    for k in ("req_per_s", "p50_ms", "p90_ms", "p99_ms")
                },
            }
    figures["cache_stats_reports"] = api_stats.get("namespaces", {}).get(cache.REPORTS, api_stats)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
