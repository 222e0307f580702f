"""Campaigns as the frontend's pages read them: list rows with ``contactList`` and ``whatsapp``
nested, and ``GET /campaigns/{id}`` with what the report page counts.

The report page (``pages/CampaignReport/index.js:71-98``) counts arrays: valid contacts =
``contactList.contacts`` with ``isWhatsappValid`` true, delivered = ``shipping`` rows with
``deliveredAt`` not null, confirmations asked = ``confirmationRequestedAt`` not null, confirmed =
both; progress = delivered / valid. The original sent every shipping row and every list item in
full (118 MB of JSON for 200,000 contacts). Here the arrays hold exactly what keeps those
counters right and nothing else:

- ``shipping``: one ``{deliveredAt, confirmationRequestedAt}`` per row that counts for something
  (its message left, or its confirmation was asked), both keys always present (a missing key would
  count as set: lodash ``isNull(undefined)`` is false); rows still to send are left out.
  ``deliveredAt`` is when the provider accepted the campaign's message (the original set it after
  the send; the delivery receipt's time is ``GET /campaigns/{id}/shipping``'s ``deliveredAt``),
  to the second.
- ``contactList.contacts``: one ``{isWhatsappValid: true}`` per contact the campaign sends to:
  its audience once snapshotted, before that the list's items not marked off WhatsApp (zapx
  never checks numbers in bulk, so an unchecked number counts as one to send to).

Built from one grouped query (rows sent in one batch share their second) and written as JSON
text directly, never as one Python object per row: figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import datetime
import json

from peewee import JOIN, fn

from zapx.db import ContactList, ContactListItem, Tenant, WhatsappConnection, db
from zapx.db.campaign_models import Campaign
from zapx.paging import paginate
from zapx.status import RowStatus
from zapx.text import like_pattern

_VALID = '{"isWhatsappValid":true}'
_SENT = RowStatus.SENT_OR_LATER


def _listed(tenant: Tenant):
    """The company's campaigns with their list's and connection's columns (LEFT JOINs)."""
    return (
        tenant.select(
            Campaign,
            Campaign,
            ContactList.name.alias("list_name"),
            ContactList.created_at.alias("list_created_at"),
            ContactList.updated_at.alias("list_updated_at"),
            WhatsappConnection.name.alias("whatsapp_name"),
        )
        .join(ContactList, JOIN.LEFT_OUTER, on=(Campaign.contact_list == ContactList.id))
        .switch(Campaign)
        .join(WhatsappConnection, JOIN.LEFT_OUTER, on=(Campaign.whatsapp == WhatsappConnection.id))
        .objects()
    )


def _iso(value):
    return value.isoformat() if value else None


def campaign_dict(c: Campaign) -> dict:
    out = {
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "confirmation": c.confirmation,
        "scheduledAt": _iso(c.scheduled_at),
        "startedAt": _iso(c.started_at),
        "completedAt": _iso(c.completed_at),
        "contactListId": c.contact_list_id,
        "whatsappId": c.whatsapp_id,
        "fileListId": c.file_list_id,
        "mediaPath": c.media_path or None,
        "mediaName": c.media_name or None,
        "pauseReason": c.pause_reason or None,
        "total": c.total,
        "companyId": c.company_id,
        "createdAt": _iso(c.created_at),
        "updatedAt": _iso(c.updated_at),
    }
    for i in range(1, 6):
        out[f"message{i}"] = getattr(c, f"message{i}")
        out[f"confirmationMessage{i}"] = getattr(c, f"confirmation_message{i}")
    return out


def list_row(row) -> dict:
    """A campaign as the list page reads it: the campaign's fields, ``contactList`` (the list's
    columns, as the original's include) and ``whatsapp`` ``{id, name}``, each ``null`` when the
    campaign has none (a set id without its object blanks the page)."""
    out = campaign_dict(row)
    out["contactList"] = (
        {
            "id": row.contact_list_id,
            "name": row.list_name,
            "companyId": row.company_id,
            "createdAt": _iso(row.list_created_at),
            "updatedAt": _iso(row.list_updated_at),
        }
        if row.contact_list_id
        else None
    )
    out["whatsapp"] = (
        {"id": row.whatsapp_id, "name": row.whatsapp_name} if row.whatsapp_id else None
    )
    return out


def campaigns_page(tenant: Tenant, search: str | None, number: int) -> dict:
    """``{records, count, hasMore}``, 20 a page, newest first."""
    query = _listed(tenant).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if search and search.strip():
        query = query.where(Campaign.name.ilike(like_pattern(search)))
    return paginate(query, number, list_row)


def campaigns_all(tenant: Tenant) -> list[dict]:
    query = _listed(tenant).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    return [list_row(c) for c in query]


def _row(tenant: Tenant, campaign_id: int):
    row = _listed(tenant).where(Campaign.id == campaign_id).first()
    if row is None:
        tenant.get(Campaign, campaign_id, label="Campaign")  # raises NotFound
    return row


def campaign_row(tenant: Tenant, campaign_id: int) -> dict:
    """One campaign as a list row (what creates and edits answer)."""
    return list_row(_row(tenant, campaign_id))


def _second(value: datetime.datetime | None) -> str:
    return json.dumps(value.astimezone(datetime.UTC).isoformat()) if value else "null"


def counted_rows(campaign_id: int) -> list[tuple[str | None, str | None, int]]:
    """``(deliveredAt, confirmationRequestedAt, rows)`` of the campaign's shipping rows, grouped
    by those two times (to the second) as the report page reads them; one group of
    ``(None, None, n)`` holds the rows that count for neither."""
    cursor = db.execute_sql(
        """
        SELECT date_trunc('second', CASE WHEN status IN %s
                   THEN COALESCE(sent_at, delivered_at, read_at) END) AS d,
               date_trunc('second', confirmation_requested_at) AS c, count(*)
        FROM campaign_shipping WHERE campaign_id = %s GROUP BY 1, 2 ORDER BY 1, 2
        """,
        (_SENT, campaign_id),
    )
    return [(d, c, n) for d, c, n in cursor.fetchall()]


def _audience_before_start(tenant: Tenant, list_id: int | None) -> int:
    """The list's items a start would snapshot (those not marked off WhatsApp)."""
    if list_id is None:
        return 0
    return (
        tenant.select(ContactListItem, fn.COUNT(ContactListItem.id))
        .where(
            (ContactListItem.contact_list == list_id)
            & (ContactListItem.is_whatsapp_valid.is_null() | ContactListItem.is_whatsapp_valid)
        )
        .scalar()
    )


def _repeat(entry: str, n: int) -> str:
    return ",".join([entry] * n)


def campaign_show_json(tenant: Tenant, campaign_id: int) -> bytes:
    """``GET /campaigns/{id}``: the list row plus ``successRate`` (messages accepted / audience,
    in percent, two decimals), ``shipping`` and ``contactList.contacts`` (see the module's
    docstring), as JSON bytes. ``contactList`` is left out, not ``null``, when the campaign has
    no list: the page reads ``contactList.contacts`` whenever the key exists."""
    row = _row(tenant, campaign_id)
    groups = counted_rows(row.id)
    audience = sum(n for _, _, n in groups)
    if not audience:
        audience = _audience_before_start(tenant, row.contact_list_id)
    sent = sum(n for d, _, n in groups if d is not None)
    shipping = ",".join(
        _repeat(f'{{"deliveredAt":{_second(d)},"confirmationRequestedAt":{_second(c)}}}', n)
        for d, c, n in groups
        if d is not None or c is not None
    )
    out = list_row(row)
    out["successRate"] = round(sent * 100 / audience, 2) if audience else 0
    listed = out.pop("contactList")
    text = json.dumps(out, ensure_ascii=False)[:-1] + f',"shipping":[{shipping}]'
    if listed is not None:
        contacts = _repeat(_VALID, audience)
        text += f',"contactList":{json.dumps(listed, ensure_ascii=False)[:-1]}'
        text += f',"contacts":[{contacts}]}}'
    return (text + "}").encode()
