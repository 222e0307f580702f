"""Contact import benchmark: a generated 1,000,000-row CSV of Brazilian contacts (UTF-8, ``,``)
and its Windows-1252 ``;`` twin, each imported by ``zapx import`` in a child process (rows/s, peak
RSS of that process); beside it, the original's way (one ORM get-or-create per row) on 20,000 rows.

    .venv/bin/python bench/import.py [--rows 1000000] [--per-row-rows 20000] [--target contacts]

Makes its own database ``zapx_bench_<random>`` (dropped at the end). The last line of output is
one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.zapx.imports.generate import write_csv  # noqa: E402
from zapx.db import (  # noqa: E402
    Company,
    Contact,
    db,
    drop_database,
    ensure_database,
    init_db,
    migrate,
)
from zapx.errors import ValidationError  # noqa: E402
from zapx.numbers import normalize_number  # noqa: E402
from zapx.text import search_text  # noqa: E402


def import_in_child(url: str, path: Path, company_id: int, target: str) -> dict:
    """Run ``zapx import`` in a child process; its rows/s (own timing) and peak RSS."""
    argv = [sys.executable, "-m", "zapx.cli", "import", str(path), "--company", str(company_id)]
    if target == "list":
        argv += ["--list", "bench"]
    env = os.environ | {"DATABASE_URL": url, "LOG_LEVEL": "warning"}
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"zapx import failed ({status}):\n{out}")
    m = re.search(r"in ([\d.]+) s: ([\d,]+) rows read", out)
    seconds, rows = float(m.group(1)), int(m.group(2).replace(",", ""))
    return {
        "rows": rows,
        "seconds": seconds,
        "wall_seconds": wall,
        "rows_per_s": rows / seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "summary": out.strip().splitlines()[0],
    }


def per_row(path: Path, company_id: int, count: int) -> dict:
    """The original's way: for each row, one get-or-create through the ORM (its own statement
    and transaction), as the Node service did with Sequelize's findOrCreate."""
    done = 0
    started = time.monotonic()
    with open(path, encoding="utf-8", newline="") as f, db.connection_context():
        reader = csv.reader(f)
        next(reader)
        for cells in reader:
            if done >= count:
                break
            done += 1
            name, raw, email = cells[0], cells[1], cells[2].lower()
            try:
                number = normalize_number(raw, "BR")
            except ValidationError:
                continue
            with db.atomic():
                Contact.get_or_create(
                    company=company_id,
                    number=number,
                    defaults={
                        "name": name or number,
                        "email": email,
                        "condominio": cells[3],
                        "endereco": cells[4],
                        "cargo": cells[5],
                        "search": search_text(name, number, email),
                    },
                )
    seconds = time.monotonic() - started
    return {"rows": done, "seconds": seconds, "rows_per_s": done / seconds}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--per-row-rows", type=int, default=20_000)
    p.add_argument("--target", choices=("contacts", "list"), default="contacts")
    args = p.parse_args()
    base = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/")
    url = base.rsplit("/", 1)[0] + f"/zapx_bench_{uuid.uuid4().hex[:8]}"
    ensure_database(url)
    try:
        init_db(url, 4, application_name="zapx-bench")
        migrate()
        with db.connection_context(), db.atomic():
            ids = [Company.create(name=f"bench {i}").id for i in range(3)]
        results = {}
        with tempfile.TemporaryDirectory(prefix="zapx-bench-") as tmp:
            utf8, latin1 = Path(tmp) / "contacts.csv", Path(tmp) / "contatos-latin1.csv"
            started = time.monotonic()
            write_csv(utf8, args.rows, seed=1)
            write_csv(latin1, args.rows, seed=2, encoding="cp1252", delimiter=";")
            sizes = f"{utf8.stat().st_size / 1e6:.0f} + {latin1.stat().st_size / 1e6:.0f} MB"
            took = time.monotonic() - started
            print(f"generated 2 x {args.rows:,} rows in {took:.1f} s, {sizes}")
            results["utf8"] = import_in_child(url, utf8, ids[0], args.target)
            print(f"utf-8  ,: {results['utf8']['summary']}")
            results["latin1"] = import_in_child(url, latin1, ids[1], args.target)
            print(f"cp1252 ;: {results['latin1']['summary']}")
            results["per_row"] = per_row(utf8, ids[2], args.per_row_rows)
        db.close_all()
    finally:
        drop_database(url)
    u, lt, pr = results["utf8"], results["latin1"], results["per_row"]
    print()
    print(f"{'run':<34}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'peak RSS MB':>13}")
    for label, r in (
        (f"zapx import, UTF-8 ',' -> {args.target}", u),
        (f"zapx import, cp1252 ';' -> {args.target}", lt),
        ("per-row ORM get-or-create", pr),
    ):
        rss = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-"
        print(f"{label:<34}{r['rows']:>11,}{r['seconds']:>9.1f}{r['rows_per_s']:>10,.0f}{rss:>13}")
    print(f"speed-up over per-row: {u['rows_per_s'] / pr['rows_per_s']:.1f}x")
    figures = {
        "rows": args.rows,
        "target": args.target,
        "utf8_rows_per_s": round(u["rows_per_s"]),
        "utf8_seconds": round(u["seconds"], 2),
        "latin1_rows_per_s": round(lt["rows_per_s"]),
        "latin1_seconds": round(lt["seconds"], 2),
        "peak_rss_mb": round(max(u["peak_rss_mb"], lt["peak_rss_mb"]), 1),
        "import_cpu_s": round(u["cpu_s"], 1),
        "per_row_rows": pr["rows"],
        "per_row_rows_per_s": round(pr["rows_per_s"]),
        "speedup_x": round(u["rows_per_s"] / pr["rows_per_s"], 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
