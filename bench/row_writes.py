"""Row writes and PostgreSQL CPU per message of delivery's SQL alone (plan, claim, finish).

    .venv/bin/python bench/row_writes.py --contacts 20000

No workers, no sends: one process drives ``zapx.campaigns.batches`` as the delivery actor does
(plan 50 due rows, claim the batch, finish it with every row ``sent``) until the campaign's rows
are all final, on a database of its own. Two campaigns of ``--contacts`` rows:

- counted: each step in its own transaction, whose ``pg_stat_xact_user_tables`` gives the rows
  it inserted, updated and of those how many were HOT (heap-only: no index entry written), per
  table; and the statements sent, counted at the client;
- timed: the same steps without the counting, the CPU of the PostgreSQL backend serving them
  (user + system, from ``/proc``) per message.

Ends with one JSON line (``*_per_msg``: per message; ``pg_cpu_ms_per_msg``: CPU milliseconds).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUN = uuid.uuid4().hex[:8]
DB_URL = f"postgresql://postgres@127.0.0.1:5432/zapx_rows_{RUN}"
os.environ.update({"DATABASE_URL": DB_URL, "ZAPX_ENV": "test"})

from zapx.campaigns import batches, starts  # noqa: E402
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
from zapx.engine.messages import Outcome  # noqa: E402

BATCH = 50
TABLES = ("campaign_shipping", "campaign_batches")
STEPS = ("plan", "claim", "finish")


def make_campaign(n: int, name: str) -> tuple[int, int, int]:
    """A running campaign of ``n`` contacts: (company id, campaign id, whatsapp id)."""
    with db.atomic():
        company_id = Company.create(name=name).id
        whatsapp_id = WhatsappConnection.create(
            company=company_id, name=name, status="CONNECTED"
        ).id
        list_id = ContactList.create(company=company_id, name=name).id
        db.execute_sql(
            """
            INSERT INTO contact_list_items (created_at, updated_at, company_id, contact_list_id,
                name, number, email, condominio, endereco, cargo, extra_info, search)
            SELECT now(), now(), %s, %s, 'Pessoa ' || i, (5511900000000 + i)::text, '', '', '',
                '', '[]'::jsonb, 'pessoa ' || i
            FROM generate_series(1, %s) i
            """,
            (company_id, list_id, n),
        )
        Campaign.create(
            company=company_id,
            name=name,
            status="PROGRAMADA",
            contact_list=list_id,
            whatsapp=whatsapp_id,
            message1="Oi {nome}",
            scheduled_at=datetime.datetime.now(datetime.UTC),
        )
    [(_, campaign_id)] = starts.start_due()
    return company_id, campaign_id, whatsapp_id


def xact_counts() -> dict[str, tuple[int, int, int]]:
    """The backend's (inserted, updated, HOT-updated) rows per table not yet flushed."""
    rows = db.execute_sql(
        "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
        "WHERE relname = ANY(%s)",
        (list(TABLES),),
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def steps(campaign: tuple[int, int, int], around) -> int:
    """Plan, claim and finish the campaign's batches until none is left; ``around(step, fn)``
    runs each step. Returns the messages finished."""
    company_id, campaign_id, whatsapp_id = campaign
    done = 0
    while True:
        planned = db.execute_sql(
            "SELECT id FROM campaign_batches WHERE campaign_id = %s AND status = 'planned' "
            "ORDER BY id LIMIT 1",
            (campaign_id,),
        ).fetchone()
        if planned is None:
            made = around(
                "plan",
                lambda: batches.plan_batch(
                    campaign_id, company_id, whatsapp_id, 0, [[time.time(), 0.0]] * BATCH
                ),
            )
            if made is None:
                return done
            batch_id = made[0]
        else:
            batch_id = planned[0]
        claim = around("claim", lambda b=batch_id: batches.claim_batch(b, 600))
        outcomes = [Outcome(r.id, "sent", f"wamid.{RUN}.{r.id}", None, "Oi") for r in claim.rows]
        around("finish", lambda b=batch_id, o=outcomes: batches.finish_batch(b, o))
        done += len(outcomes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=20_000, help="rows of each campaign")
    ap.add_argument(
        "--no-analyze",
        action="store_true",
        help="leave the new rows without statistics (default: ANALYZE them, as autoanalyze does "
        "within a minute of a big snapshot)",
    )
    args = ap.parse_args()
    ensure_database(DB_URL)
    init_db(DB_URL, 1)
    migrate()
    try:
        with db.connection_context():
            counted, timed = (make_campaign(args.contacts, n) for n in ("counted", "timed"))
            if not args.no_analyze:
                db.execute_sql("VACUUM ANALYZE campaign_shipping")
            totals = {(s, t): [0, 0, 0] for s in STEPS for t in TABLES}
            statements = dict.fromkeys(STEPS, 0)
            real = db.execute_sql

            def counting(step, fn):
                calls = [0]

                def execute(*a, **k):
                    calls[0] += 1
                    return real(*a, **k)

                with db.atomic():
                    # The view holds the backend's counts not yet flushed (PostgreSQL 15), so
                    # earlier transactions' too: the step's are the difference.
                    start = xact_counts()
                    db.execute_sql = execute
                    try:
                        out = fn()
                    finally:
                        db.execute_sql = real
                    for table, values in xact_counts().items():
                        for i, v in enumerate(values):
                            totals[(step, table)][i] += v - start.get(table, (0, 0, 0))[i]
                statements[step] += calls[0]
                return out

            msgs_counted = steps(counted, counting)
            pid = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
            backend = psutil.Process(pid)
            cpu0, t0 = sum(backend.cpu_times()[:2]), time.perf_counter()
            step_s = dict.fromkeys(STEPS, 0.0)
            step_cpu = dict.fromkeys(STEPS, 0.0)

            def timing(step, fn):
                began, cpu_began = time.perf_counter(), sum(backend.cpu_times()[:2])
                try:
                    return fn()
                finally:
                    step_s[step] += time.perf_counter() - began
                    step_cpu[step] += sum(backend.cpu_times()[:2]) - cpu_began

            msgs = steps(timed, timing)
            cpu = sum(backend.cpu_times()[:2]) - cpu0
            wall = time.perf_counter() - t0
    finally:
        db.close() if not db.is_closed() else None
        drop_database(DB_URL)
    per = {
        f"{step}_{table}_{kind}_per_msg": round(totals[(step, table)][i] / msgs_counted, 3)
        for step in STEPS
        for table in TABLES
        for i, kind in enumerate(("ins", "upd", "hot_upd"))
        if totals[(step, table)][i]
    }
    shipping_upd = sum(totals[(s, "campaign_shipping")][1] for s in STEPS) / msgs_counted
    shipping_hot = sum(totals[(s, "campaign_shipping")][2] for s in STEPS) / msgs_counted
    summary = {
        "contacts": args.contacts,
        "analyzed": not args.no_analyze,
        "messages": msgs,
        "shipping_row_writes_per_msg": round(shipping_upd, 3),
        "shipping_hot_writes_per_msg": round(shipping_hot, 3),
        "statements_per_batch": {s: round(statements[s] * BATCH / msgs_counted, 2) for s in STEPS},
        **per,
        "pg_cpu_ms_per_msg": round(1000 * cpu / msgs, 4),
        "wall_ms_per_msg": round(1000 * wall / msgs, 4),
        "step_wall_ms_per_batch": {s: round(1000 * step_s[s] * BATCH / msgs, 3) for s in STEPS},
        "step_pg_cpu_ms_per_batch": {s: round(1000 * step_cpu[s] * BATCH / msgs, 3) for s in STEPS},
    }
    for key, value in summary.items():
        print(f"{key}: {value}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
