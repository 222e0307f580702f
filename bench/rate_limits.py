"""What a worker pays to read a company's rate limits (``zapx.rate_limits.limits_for``).

    .venv/bin/python bench/rate_limits.py              # 200,000 / 5,000 / 2,000 calls
    .venv/bin/python bench/rate_limits.py --scale 0.1  # a quick run

It makes its own database (``zapx_bench_<random>``, dropped at the end) and Redis key prefix
(its keys deleted at the end), a company with one limit of each of the four kinds, and times,
per call (median of ``--repeat`` runs, in microseconds): the read served by this process's copy
(the usual case: every call within ``LOCAL_TTL_S`` of the last load), by the Redis query cache
(this process's copy expired), and by PostgreSQL (both expired or off: with the connection
already open, and with a connection scope per call as a worker without one would pay); then
the ``PUT`` path (``put_limits``: validation, the locked replace, the bump) in milliseconds.
The last line is one JSON object with the figures; docs/BENCHMARKS.md has them written up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zapx import rate_limits  # noqa: E402
from zapx.cache import QueryCache  # noqa: E402
from zapx.config import load_config  # noqa: E402
from zapx.db import Company, Tenant, db, drop_database, ensure_database, init_db, migrate  # noqa: E402
from zapx.rate_limits import LocalLimits, limits_for  # noqa: E402
from zapx.redis import get_redis  # noqa: E402

LIMITS = [
    {"kind": "whatsapp", "limit": 60, "periodS": 60},
    {"kind": "contact", "limit": 1, "periodS": 6},
    {"kind": "campaign", "limit": 500, "periodS": 3600},
    {"kind": "global", "limit": 2000, "periodS": 86400},
]


def per_call_us(calls: int, repeat: int, call) -> float:
    """Median over ``repeat`` runs of the time per call (microseconds)."""
    call()  # warm
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return round(statistics.median(runs), 2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the call counts")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    run = uuid.uuid4().hex[:8]
    url = f"postgresql://postgres@127.0.0.1:5432/zapx_bench_{run}"
    prefix = f"zapx:bench:{run}:"
    ensure_database(url)
    init_db(url, 4, application_name="zapx-bench-rate-limits")
    config = load_config({"DATABASE_URL": url, "REDIS_PREFIX": prefix, "LOG_LEVEL": "warning"})
    client = get_redis(config.redis_url)
    cached = QueryCache(client, prefix, 60)
    uncached = QueryCache(client, prefix, 0)

    def n(count: int) -> int:
        return max(10, int(count * args.scale))

    try:
        migrate()
        with db.connection_context():
            with db.atomic():
                company = Company.create(name="bench").id
            tenant = Tenant(company)
            rate_limits.put_limits(tenant, {"limits": LIMITS}, cache=cached)
            expired = LocalLimits(ttl_s=0)
            assert len(limits_for(company, cache=cached)) == 4
            figures = {
                "local_us": per_call_us(
                    n(200_000), args.repeat, lambda: limits_for(company, cache=cached)
                ),
                "redis_us": per_call_us(
                    n(5_000), args.repeat, lambda: limits_for(company, cache=cached, local=expired)
                ),
                "database_open_connection_us": per_call_us(
                    n(2_000),
                    args.repeat,
                    lambda: limits_for(company, cache=uncached, local=expired),
                ),
            }
            put_ms = per_call_us(
                n(500), args.repeat, lambda: rate_limits.put_limits(
                    tenant, {"limits": LIMITS}, cache=cached
                )
            ) / 1000  # fmt: skip
        # Outside any scope: each call checks a pooled connection out and back in.
        figures["database_own_scope_us"] = per_call_us(
            n(2_000), args.repeat, lambda: limits_for(company, cache=uncached, local=expired)
        )
        figures["put_ms"] = round(put_ms, 3)
        figures["calls"] = {"local": n(200_000), "redis": n(5_000), "database": n(2_000)}
    finally:
        db.close_all()
        drop_database(url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
