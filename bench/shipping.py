"""A campaign's contacts page (``GET /campaigns/{id}/shipping``) and CSV on a big campaign.

    .venv/bin/python bench/shipping.py                  # 200,000 contacts, 3 campaigns
    .venv/bin/python bench/shipping.py --contacts 20000 --campaigns 1     # a quick run

It makes its own database (``zapx_bench_<random>``, dropped at the end), loads ``--campaigns``
companies each with a list of ``--contacts`` items (with their ``search`` text, as an import
writes it) and a PROGRAMADA campaign on a CONNECTED connection, starts them with the clock's
``start_due`` (the snapshot, timed), marks a third of the rows sent, a tenth failed, and times
the service calls behind the routes on the middle campaign (others' rows before and after it):
the first, a middle and the last page, a status, a rare and a common name, a number, and the
whole CSV. The ``EXPLAIN ANALYZE`` of the first page and of a status page follow, and, as the
last line, one JSON object with the figures (milliseconds, the median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zapx.campaigns import shipping, starts  # noqa: E402
from zapx.db import (  # noqa: E402
    Campaign,
    CampaignShipping,
    Company,
    ContactList,
    Tenant,
    WhatsappConnection,
    db,
    drop_database,
    ensure_database,
    init_db,
    migrate,
)


def load(contacts: int, campaigns: int) -> tuple[list[tuple[int, int]], float]:
    """(company id, campaign id) of each campaign, started, with its rows' statuses set; and
    the seconds the snapshot took."""
    made = []
    now = datetime.datetime.now(datetime.UTC)
    for n in range(campaigns):
        with db.atomic():
            company = Company.create(name=f"bench {n}")
            wa = WhatsappConnection.create(company=company.id, name="sb", status="CONNECTED")
            cl = ContactList.create(company=company.id, name="audience")
            db.execute_sql(
                """
                INSERT INTO contact_list_items (created_at, updated_at, company_id,
                    contact_list_id, name, number, email, condominio, endereco, cargo,
                    extra_info, search)
                SELECT now(), now(), %s, %s, p.name, p.number, '', '', '', '', '[]',
                       lower(p.name) || ' ' || p.number
                FROM (SELECT 'Pessoa ' || g || CASE WHEN g %% 1000 = 0 THEN ' Raríssima'
                             ELSE '' END AS name,
                             '55119' || lpad(g::text, 8, '0') AS number
                      FROM generate_series(1, %s) g) p
                """,
                (company.id, cl.id, contacts),
            )
            campaign = Campaign.create(
                company=company.id, name="bench", status="PROGRAMADA", contact_list=cl.id,
                whatsapp=wa.id, message1="Oi {nome}", scheduled_at=now,
            )  # fmt: skip
        made.append((company.id, campaign.id))
    started = time.perf_counter()
    assert len(starts.start_due()) == campaigns
    snapshot_s = time.perf_counter() - started
    db.execute_sql(
        "UPDATE campaign_shipping SET status = CASE WHEN contact_id %% 10 = 0 THEN 'failed' "
        "ELSE 'sent' END, attempts = 1, sent_at = now(), provider_message_id = 'wamid.' || id "
        "WHERE contact_id %% 3 = 0"
    )
    print(f"snapshot of {campaigns} x {contacts:,} rows: {snapshot_s:.2f} s", file=sys.stderr)
    return made, snapshot_s


def timed(repeat: int, call) -> float:
    call()  # warm
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(runs), 2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contacts", type=int, default=200_000)
    p.add_argument("--campaigns", type=int, default=3)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    url = f"postgresql://postgres@127.0.0.1:5432/zapx_bench_{uuid.uuid4().hex[:8]}"
    ensure_database(url)
    init_db(url, 4, application_name="zapx-bench-shipping")
    try:
        migrate()
        with db.connection_context():
            made, snapshot_s = load(args.contacts, args.campaigns)
            company_id, campaign_id = made[len(made) // 2]
            tenant = Tenant(company_id)
            last = -(-args.contacts // 20)

            def page(status=None, search=None, number=1):
                return lambda: shipping.shipping_page(tenant, campaign_id, status, search, number)

            def csv():
                return sum(len(c) for c in shipping.shipping_csv(tenant, campaign_id))

            figures = {
                "contacts": args.contacts,
                "campaigns": args.campaigns,
                "snapshot_s": round(snapshot_s, 2),
                "page_1_ms": timed(args.repeat, page()),
                "page_middle_ms": timed(args.repeat, page(number=last // 2)),
                "page_last_ms": timed(args.repeat, page(number=last)),
                "status_failed_ms": timed(args.repeat, page(status="failed")),
                "status_sent_page_100_ms": timed(args.repeat, page(status="sent", number=100)),
                "search_rare_name_ms": timed(args.repeat, page(search="rarissima")),
                "search_common_name_ms": timed(args.repeat, page(search="pessoa 1")),
                "search_number_ms": timed(args.repeat, page(search="(11) 90012-3456")),
                "csv_ms": timed(1, csv),
            }
            for label, status in (("first page", None), ("failed, first page", "failed")):
                query = shipping._query(Campaign.get_by_id(campaign_id), status, None)
                sql, params = query.order_by(CampaignShipping.id).limit(20).sql()
                plan = db.execute_sql("EXPLAIN ANALYZE " + sql, params).fetchall()
                print(f"-- {label}\n" + "\n".join(r[0] for r in plan), file=sys.stderr)
    finally:
        db.close_all()
        drop_database(url)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
