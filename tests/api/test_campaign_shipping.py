"""``GET /campaigns/{id}/shipping`` and ``shipping.csv``: a campaign's contacts with their status,
attempts, provider message id, error and times; paged, filtered, searched, tenant-scoped; the CSV
streamed with formula cells neutralized."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from tests.api.helpers import assert_error
from zapx.campaigns import batches, service, shipping
from zapx.db import SHIPPING_STATUSES, Campaign, CampaignShipping, Tenant, db

NAMES = [
    "João da Silva",
    '=HYPERLINK("http://x","clique")',
    "+55 cmd",
    "-2+3",
    "@SUM(A1)",
    "=1+1",
    "Maria",
] + [f"Pessoa {i}" for i in range(23)]


@pytest.fixture
def campaign(client, alice):
    """Alice's campaign of 30 contacts snapshotted from a list made through the API; rows 0-9
    sent, 10-14 failed, the rest pending. Returns its id."""
    h = alice.headers
    list_id = client.simulate_post("/contact-lists", json={"name": "L"}, headers=h).json["id"]
    for i, name in enumerate(NAMES):
        resp = client.simulate_post(
            "/contact-list-items",
            json={"name": name, "number": f"(11) 98888-{i:04d}", "contactListId": list_id},
            headers=h,
        )
        assert resp.status_code == 201, resp.text
    resp = client.simulate_post(
        "/campaigns", json={"name": "Promo", "message1": "Oi", "contactListId": list_id}, headers=h
    )
    campaign_id = resp.json["id"]
    now = datetime.datetime.now(datetime.UTC)
    with db.connection_context(), db.atomic():
        total = batches.snapshot_audience(campaign_id, alice.company_id, list_id, 1)
        Campaign.update(status="EM_ANDAMENTO", total=total, started_at=now).where(
            Campaign.id == campaign_id
        ).execute()
        ids = [
            r.id
            for r in CampaignShipping.select(CampaignShipping.id)
            .where(CampaignShipping.campaign == campaign_id)
            .order_by(CampaignShipping.contact_id)
        ]
        for n, row_id in enumerate(ids[:15]):
            sent = n < 10
            CampaignShipping.update(
                status="sent" if sent else "failed",
                attempts=1 if sent else 2,
                provider_message_id=f"wamid.{n}" if sent else None,
                error=None if sent else ("\tab" if n == 14 else "-131026: not on WhatsApp"),
                sent_at=now if sent else None,
                failed_at=None if sent else now,
            ).where(CampaignShipping.id == row_id).execute()
    assert total == 30
    return campaign_id


def _page(client, acct, campaign_id, **params):
    return client.simulate_get(
        f"/campaigns/{campaign_id}/shipping", params=params, headers=acct.headers
    )


def test_pages_of_the_contacts_with_their_status_and_times(client, alice, campaign):
    first = _page(client, alice, campaign).json
    assert first["count"] == 30 and first["hasMore"] is True and len(first["records"]) == 20
    second = _page(client, alice, campaign, pageNumber=2).json
    assert second["count"] == 30 and second["hasMore"] is False and len(second["records"]) == 10
    ids = [r["id"] for r in first["records"] + second["records"]]
    assert ids == sorted(ids) and len(set(ids)) == 30
    row = first["records"][0]
    assert set(row) >= {
        "number", "name", "status", "attempts", "providerMessageId", "error",
        "sentAt", "deliveredAt", "readAt", "failedAt", "updatedAt",
    }  # fmt: skip
    by_status = {}
    for r in first["records"] + second["records"]:
        by_status.setdefault(r["status"], []).append(r)
    assert {k: len(v) for k, v in by_status.items()} == {"sent": 10, "failed": 5, "pending": 15}
    sent = by_status["sent"][0]
    assert sent["providerMessageId"].startswith("wamid.") and sent["attempts"] == 1
    assert datetime.datetime.fromisoformat(sent["sentAt"]).tzinfo is not None
    failed = by_status["failed"][0]
    assert failed["error"] == "-131026: not on WhatsApp" and failed["failedAt"]  # JSON: as is


def test_filtered_by_status_and_searched_by_name_or_number(client, alice, campaign):
    failed = _page(client, alice, campaign, status="failed").json
    assert failed["count"] == 5 and {r["status"] for r in failed["records"]} == {"failed"}
    assert _page(client, alice, campaign, status="read").json == {
        "records": [], "count": 0, "hasMore": False,
    }  # fmt: skip
    found = _page(client, alice, campaign, searchParam="joao").json  # accents folded
    assert [r["name"] for r in found["records"]] == ["João da Silva"] and found["count"] == 1
    found = _page(client, alice, campaign, searchParam="+55 (11) 98888-0006").json
    assert [r["name"] for r in found["records"]] == ["Maria"]
    found = _page(client, alice, campaign, searchParam="pessoa", status="pending").json
    assert found["count"] == 15 and all(r["status"] == "pending" for r in found["records"])
    found = _page(client, alice, campaign, searchParam="pessoa", pageNumber=2).json
    assert found["count"] == 23 and len(found["records"]) == 3 and not found["hasMore"]
    assert _page(client, alice, campaign, searchParam="50%_").json["count"] == 0


@pytest.mark.parametrize("status", ["SENT", "done", "pending'--", "x" * 50])
def test_an_unknown_status_is_a_400_listing_the_real_ones(client, alice, campaign, status):
    body = assert_error(_page(client, alice, campaign, status=status), 400, field="status")
    assert all(s in body["message"] for s in SHIPPING_STATUSES)
    resp = client.simulate_get(
        f"/campaigns/{campaign}/shipping.csv", params={"status": status}, headers=alice.headers
    )
    assert_error(resp, 400, field="status")


def test_another_companys_campaign_is_a_404_on_both_routes(client, alice, bob, campaign):
    for path in ("shipping", "shipping.csv"):
        assert_error(client.simulate_get(f"/campaigns/{campaign}/{path}", headers=bob.headers), 404)
        assert_error(client.simulate_get(f"/campaigns/999/{path}", headers=alice.headers), 404)
        assert_error(client.simulate_get(f"/campaigns/x/{path}", headers=alice.headers), 400)
        assert client.simulate_get(f"/campaigns/{campaign}/{path}").status_code == 401


def test_the_csv_streams_every_row_with_formula_cells_neutralized(
    client, alice, campaign, monkeypatch
):
    monkeypatch.setattr(shipping, "CSV_PAGE_ROWS", 7)  # several reads, as on a big campaign
    with db.connection_context():  # the route's scope; each page opens its own
        chunks = list(shipping.shipping_csv(Tenant(alice.company_id), campaign))
    assert len(chunks) == 1 + 5  # the header, then 30 rows in pages of 7
    resp = client.simulate_get(f"/campaigns/{campaign}/shipping.csv", headers=alice.headers)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert f'filename="campaign-{campaign}-shipping.csv"' in resp.headers["content-disposition"]
    assert resp.text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(resp.text.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[:6] == ["id", "contactId", "number", "name", "status", "attempts"]
    assert len(body) == 30 and [int(r[0]) for r in body] == sorted(int(r[0]) for r in body)
    names = {r[header.index("name")] for r in body}
    for dangerous in NAMES[1:6]:
        assert dangerous not in names and "'" + dangerous in names
    assert "João da Silva" in names and "Maria" in names
    errors = {r[header.index("error")] for r in body} - {""}
    assert errors == {"'-131026: not on WhatsApp", "'\tab"}
    failed = client.simulate_get(
        f"/campaigns/{campaign}/shipping.csv",
        params={"status": "failed", "searchParam": "pessoa"},
        headers=alice.headers,
    )
    failed_rows = list(csv.reader(io.StringIO(failed.text.lstrip("\ufeff"))))[1:]
    assert len(failed_rows) == 5  # rows 10-14: Pessoa 3 to 7
    assert all(r[header.index("status")] == "failed" for r in failed_rows)
    sent = client.simulate_get(
        f"/campaigns/{campaign}/shipping.csv", params={"status": "sent"}, headers=alice.headers
    )
    sent_rows = list(csv.reader(io.StringIO(sent.text.lstrip("\ufeff"))))[1:]
    assert len(sent_rows) == 10 and {r[header.index("status")] for r in sent_rows} == {"sent"}


def test_the_socket_record_carries_the_report_pages_arrays_up_to_the_bound(
    client, alice, campaign, monkeypatch
):
    tenant = Tenant(alice.company_id)
    show = client.simulate_get(f"/campaigns/{campaign}", headers=alice.headers).json
    with db.connection_context():
        record = service.campaign_record(tenant, campaign)
    assert service.RECORD_ARRAYS_MAX >= 30
    # as the report page counts them: 10 delivered of 30 valid, as GET /campaigns/{id} gives
    assert sum(s["deliveredAt"] is not None for s in record["shipping"]) == 10
    assert record["shipping"] == show["shipping"]
    assert len(record["contactList"]["contacts"]) == 30
    assert record["contactList"]["name"] == "L" and record["whatsappId"] is None
    assert record["successRate"] == show["successRate"] == round(10 * 100 / 30, 2)
    assert record["report"]["sent"] == 10

    monkeypatch.setattr(service, "RECORD_ARRAYS_MAX", 29)
    with db.connection_context():
        record = service.campaign_record(tenant, campaign)
    # both arrays go together: a record with shipping and no contactList.contacts would throw
    assert "shipping" not in record and "contacts" not in record["contactList"]
    assert record["successRate"] == round(10 * 100 / 30, 2)
