"""``GET /campaigns/{id}`` (what the frontend's report page and edit form read) on a big campaign.

    .venv/bin/python bench/campaign_show.py                     # 200,000 contacts
    .venv/bin/python bench/campaign_show.py --contacts 20000    # a quick run

It makes its own database (``zapx_bench_<random>``, dropped at the end), a company with a list of
``--contacts`` items and a campaign started by the clock's ``start_due`` (the snapshot), marks
every row sent (the largest answer: every row counts) and the campaign cancelled (the edit form
then sends it all back), and measures, the median of ``--repeat``
runs: the answer zapx builds (``views.campaign_show_json``) and the whole request through the
Falcon app, its bytes and gzip bytes, what the report page's counters compute from it, and the
edit form's ``PUT`` that sends it all back. For comparison, the original's answer (every shipping
row and every list item, all their columns, as ``ShowService.ts`` includes them) is built with
``json.dumps`` from the same rows. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import falcon.testing  # noqa: E402

from api import Deps, create_app  # noqa: E402
from zapx import accounts, auth  # noqa: E402
from zapx.campaigns import starts, views  # noqa: E402
from zapx.config import load_config  # noqa: E402
from zapx.db import (  # noqa: E402
    Campaign,
    Company,
    ContactList,
    Tenant,
    User,
    WhatsappConnection,
    db,
    drop_database,
    ensure_database,
    init_db,
    migrate,
)
from zapx.redis import get_redis  # noqa: E402


def load(contacts: int) -> tuple[int, int, int]:
    """(company id, campaign id, user id): a started campaign whose rows are all sent."""
    now = datetime.datetime.now(datetime.UTC)
    with db.atomic():
        company = Company.create(name="bench")
        user = User.create(
            company=company.id, name="admin", email=f"admin-{uuid.uuid4().hex[:6]}@bench.test",
            password_hash=auth.hash_password("bench-password"), profile="admin",
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
            (company.id, cl.id, contacts),
        )
        campaign = Campaign.create(
            company=company.id, name="bench", status="PROGRAMADA", contact_list=cl.id,
            whatsapp=wa.id, message1="Oi {nome}", scheduled_at=now,
        )  # fmt: skip
    assert len(starts.start_due()) == 1
    # Rows recorded 50 at a time, as workers record batches: one sent_at per batch.
    with db.atomic():
        db.execute_sql(
            "UPDATE campaign_shipping SET status = 'sent', attempts = 1, "
            "message = 'Oi ' || name, provider_message_id = 'wamid.' || id, "
            "sent_at = now() - make_interval(secs => (id / 50)::int) WHERE campaign_id = %s",
            (campaign.id,),
        )
        # Cancelled: the state in which the edit form sends it all back.
        Campaign.update(status="CANCELADA").where(Campaign.id == campaign.id).execute()
    return company.id, campaign.id, user.id


def original_answer(campaign_id: int) -> bytes:
    """The original's ShowService answer, all columns of every shipping row and list item."""
    shipping = db.execute_sql(
        'SELECT id, NULL AS "jobId", number, message, NULL AS "confirmationMessage", '
        'false AS confirmation, contact_id AS "contactId", campaign_id AS "campaignId", '
        'confirmation_requested_at AS "confirmationRequestedAt", confirmed_at AS '
        '"confirmedAt", sent_at AS "deliveredAt", created_at AS "createdAt", updated_at '
        'AS "updatedAt" FROM campaign_shipping WHERE campaign_id = %s',
        (campaign_id,),
    )
    names = [c.name for c in shipping.description]
    rows = [dict(zip(names, r, strict=True)) for r in shipping.fetchall()]
    items = db.execute_sql(
        'SELECT i.id, i.name, i.number, i.email, i.is_whatsapp_valid AS "isWhatsappValid", '
        'i.company_id AS "companyId", i.contact_list_id AS "contactListId", NULL AS '
        '"groupId", i.created_at AS "createdAt", i.updated_at AS "updatedAt" '
        "FROM contact_list_items i JOIN campaigns c ON c.contact_list_id = i.contact_list_id "
        "WHERE c.id = %s",
        (campaign_id,),
    )
    names = [c.name for c in items.description]
    contacts = [dict(zip(names, r, strict=True)) for r in items.fetchall()]
    body = {"id": campaign_id, "shipping": rows, "contactList": {"contacts": contacts}}
    return json.dumps(body, default=str).encode()


def timed(repeat: int, call) -> tuple[float, object]:
    result = call()  # warm
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        runs.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(runs), 1), result


def counters(campaign: dict) -> dict:
    """CampaignReport/index.js:71-98."""
    shipping = campaign["shipping"]
    return {
        "valid": sum(1 for c in campaign["contactList"]["contacts"] if c["isWhatsappValid"]),
        "delivered": sum(1 for r in shipping if r.get("deliveredAt", 1) is not None),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contacts", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    url = f"postgresql://postgres@127.0.0.1:5432/zapx_bench_{uuid.uuid4().hex[:8]}"
    ensure_database(url)
    init_db(url, 4, application_name="zapx-bench-campaign-show")
    config = load_config({"DATABASE_URL": url, "LOG_LEVEL": "warning"})
    client = falcon.testing.TestClient(
        create_app(Deps(config=config, redis=get_redis(config.redis_url), notify=lambda c: None))
    )
    try:
        migrate()
        with db.connection_context():
            company_id, campaign_id, user_id = load(args.contacts)
            tenant = Tenant(company_id)
            build_ms, body = timed(
                args.repeat, lambda: views.campaign_show_json(tenant, campaign_id)
            )
            query_ms, _ = timed(args.repeat, lambda: views.counted_rows(campaign_id))
            original_ms, original = timed(1, lambda: original_answer(campaign_id))
        with db.connection_context():
            user = User.get_by_id(user_id)
        token = auth.issue_token(accounts.principal_of(user), config.secret_key, 3600)
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/campaigns/{campaign_id}"
        get_ms, resp = timed(args.repeat, lambda: client.simulate_get(path, headers=headers))
        assert resp.status_code == 200, resp.text[:300]
        parse_ms, shown = timed(args.repeat, lambda: json.loads(resp.content))
        gzip_ms, packed = timed(1, lambda: gzip.compress(body, 6))
        echo = json.dumps(shown | {"message2": "editado"}, separators=(",", ":")).encode()
        put_ms, put = timed(
            args.repeat,
            lambda: client.simulate_put(
                path, body=echo, headers=headers | {"Content-Type": "application/json"}
            ),
        )
        assert put.status_code == 200, put.text[:300]
        figures = {
            "contacts": args.contacts,
            "counters": counters(shown),
            "answer_bytes": len(body),
            "answer_gzip_bytes": len(packed),
            "bytes_per_contact": round(len(body) / args.contacts, 1),
            "build_ms": build_ms,
            "grouped_query_ms": query_ms,
            "get_ms": get_ms,
            "json_parse_ms": parse_ms,
            "gzip_ms": gzip_ms,
            "put_echo_bytes": len(echo),
            "put_echo_ms": put_ms,
            "original_bytes": len(original),
            "original_gzip_bytes": len(gzip.compress(original, 6)),
            "original_build_ms": original_ms,
        }
    finally:
        db.close_all()
        drop_database(url)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
