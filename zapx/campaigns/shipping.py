"""A campaign's contacts as sent: ``GET /campaigns/{id}/shipping`` (pages) and ``shipping.csv``.

Both read the campaign's shipping rows (its audience snapshot) filtered by ``status`` and by a
search on name or number, tenant-scoped through the campaign. Pages follow the other pages
(``{records, count, hasMore}``, 20 a page, by row id); the CSV streams the same rows in keyset
pages of :data:`CSV_PAGE_ROWS`, never the whole campaign in memory, every cell through the
formula guard (``zapx.imports.rows.SafeCsv``).

Indexes (``docs/SCHEMA.md``): ``(campaign_id, id)`` for the unfiltered pages and the CSV,
``(campaign_id, status, id)`` for a status; a search reads the campaign's rows through the first.
A row's ``status`` is as readers see it: ``sending`` while queued in a claimed batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from peewee import SQL, fn

from zapx.campaigns import inflight
from zapx.db import Tenant, db
from zapx.db.campaign_models import SHIPPING_STATUSES, Campaign, CampaignShipping
from zapx.errors import ValidationError
from zapx.imports.rows import SafeCsv
from zapx.paging import paginate, paginate_matches
from zapx.text import like_pattern

#: Rows read per statement while a CSV streams.
CSV_PAGE_ROWS = 5000
_PHONE = re.compile(r"[0-9\s()+.\-]+")

#: (JSON and CSV column name, model attribute), in the order the CSV writes them.
COLUMNS = (
    ("id", "id"),
    ("contactId", "contact_id"),
    ("number", "number"),
    ("name", "name"),
    ("status", "status"),
    ("attempts", "attempts"),
    ("providerMessageId", "provider_message_id"),
    ("error", "error"),
    ("message", "message"),
    ("nextAttemptAt", "next_attempt_at"),
    ("sentAt", "sent_at"),
    ("deliveredAt", "delivered_at"),
    ("readAt", "read_at"),
    ("failedAt", "failed_at"),
    ("confirmationRequestedAt", "confirmation_requested_at"),
    ("confirmedAt", "confirmed_at"),
    ("createdAt", "created_at"),
    ("updatedAt", "updated_at"),
)
#: The status as readers see it: ``sending`` for a row queued in a claimed batch (``inflight``).
_FIELDS = [
    SQL(inflight.status_sql('"t1".')).alias(attr)
    if attr == "status"
    else getattr(CampaignShipping, attr)
    for _, attr in COLUMNS
]


def _value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def shipping_dict(row) -> dict:
    return {name: _value(getattr(row, attr)) for name, attr in COLUMNS}


def check_status(status: str | None) -> str | None:
    """``status`` of the query string: one of the row statuses, or a 400 listing them."""
    if status in (None, ""):
        return None
    if status not in SHIPPING_STATUSES:
        raise ValidationError(
            f"status must be one of: {', '.join(SHIPPING_STATUSES)}", field="status"
        )
    return status


def _query(campaign: Campaign, status: str | None, search: str | None):
    """The rows of ``campaign`` (the tenant's, checked by the caller), filtered, unordered.

    No ``company_id`` condition: the campaign's rows are its company's, and the condition would
    make PostgreSQL read each row where the ``(campaign_id, status, id)`` index answers alone.
    """
    where = CampaignShipping.campaign == campaign.id
    status = check_status(status)
    if status:
        where &= SQL(inflight.status_filter(status, '"t1".'))
    if search and search.strip():
        where &= _searched() % like_pattern(_term(search))
    return CampaignShipping.select(*_FIELDS).where(where)


def _term(search: str) -> str:
    """A number as people write it, ``+55 (11) 98888-7777``, is searched as its digits."""
    digits = re.sub(r"[^0-9]", "", search)
    return digits if _PHONE.fullmatch(search.strip()) and digits else search


def _searched():
    """The row's search text: the list item's, or for rows snapshotted without one (before
    migration 006, or items written without it) the lower-cased name and the number."""
    s = CampaignShipping
    return fn.COALESCE(fn.NULLIF(s.search, ""), fn.lower(s.name).concat(" ").concat(s.number))


def shipping_page(
    tenant: Tenant, campaign_id: int, status: str | None, search: str | None, number: int
) -> dict:
    campaign = tenant.get(Campaign, campaign_id, label="Campaign")
    query = _query(campaign, status, search).order_by(CampaignShipping.id)
    if search and search.strip():
        # The matches read once: the page and their count from the same pass.
        return paginate_matches(query, number, shipping_dict)
    # Unfiltered, the count is the audience fixed at the snapshot (rows are never added later).
    return paginate(query, number, shipping_dict, count=None if status else campaign.total)


def shipping_csv(
    tenant: Tenant, campaign_id: int, status: str | None = None, search: str | None = None
) -> Iterator[bytes]:
    """The rows as CSV (the columns of :data:`COLUMNS`), formula cells neutralized.

    Checks the tenant and the filters at once (a 404 or 400 before any byte is sent); the rows
    are read ``CSV_PAGE_ROWS`` at a time, after the last id sent, as the response is written.
    """
    campaign = tenant.get(Campaign, campaign_id, label="Campaign")
    base = _query(campaign, status, search)

    def pages() -> Iterator[bytes]:
        out = SafeCsv()
        out.row([name for name, _ in COLUMNS])
        yield ("\ufeff" + out.take()).encode()  # the BOM makes Excel read UTF-8
        last = 0
        while True:
            with db.connection_context():
                batch = list(
                    base.where(CampaignShipping.id > last)
                    .order_by(CampaignShipping.id)
                    .limit(CSV_PAGE_ROWS)
                    .tuples()
                )
            if not batch:
                return
            for values in batch:
                out.row([_value(v) for v in values])
            last = batch[-1][0]
            yield out.take().encode()

    return pages()
