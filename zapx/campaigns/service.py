"""Campaign CRUD, commands and report: tenant-scoped, validated, one transaction each.

The API calls these and then notifies the engine (``actors.inbox``); nothing here talks to the
engine, so the rules hold whatever process applies them.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping

from peewee import fn

from zapx import campaign_settings, realtime
from zapx.campaigns import inflight, lifecycle, readiness, templates
from zapx.campaigns.lifecycle import EM_ANDAMENTO, INATIVA, PROGRAMADA
from zapx.campaigns.report import campaign_report
from zapx.campaigns.views import campaign_dict, campaign_row, campaign_show_json
from zapx.db import (
    CampaignSetting,
    Company,
    ContactList,
    FileList,
    Tenant,
    WhatsappConnection,
    db,
    utcnow,
)
from zapx.db.campaign_models import CAMPAIGN_STATUSES, Campaign
from zapx.errors import LimitExceeded, ValidationError
from zapx.validation import Field, parse, positive_id

MESSAGE_FIELDS = tuple(f"message{i}" for i in range(1, 6))
CONFIRMATION_FIELDS = tuple(f"confirmationMessage{i}" for i in range(1, 6))
MAX_MESSAGE_CHARS = 4096  # WhatsApp's limit for a text body


def _scheduled(value: str) -> datetime.datetime:
    """An ISO 8601 date-time; without a UTC offset it stays naive here, and is read in the
    company's time zone by :func:`_localize` (the field check has no tenant)."""
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"scheduledAt {value!r} must be an ISO 8601 date-time", field="scheduledAt"
        ) from None


def _localize(tenant: Tenant, data: dict) -> None:
    """A ``scheduledAt`` without an offset is a wall-clock time in the company's time zone
    (campaign-settings ``timezone``, ``America/Sao_Paulo`` by default); any is kept in UTC."""
    when = data.get("scheduled_at")
    if when is None:
        return
    if when.tzinfo is None:
        when = when.replace(tzinfo=campaign_settings.company_zone(tenant))
    data["scheduled_at"] = when.astimezone(datetime.UTC)  # answered as stored: in UTC


def _id_field(name: str):
    return lambda value: positive_id(value, name)


#: The texts' attributes; ``null`` is an empty text (the frontend sends ``null`` for every
#: empty field).
TEXT_ATTRS = (*MESSAGE_FIELDS, *("confirmation_message" + n[-1] for n in CONFIRMATION_FIELDS))
#: The original's codes for a campaign's name (``CampaignService/CreateService.ts``).
NAME_REQUIRED, NAME_INVALID = "ERR_CAMPAIGN_REQUIRED", "ERR_CAMPAIGN_INVALID_NAME"

CAMPAIGN_FIELDS = (
    Field("name", required=True, min_len=3, max_len=255),
    Field("status", choices=(INATIVA, PROGRAMADA)),
    Field("confirmation", bool),
    Field("scheduledAt", attr="scheduled_at", nullable=True, clean=_scheduled),
    Field(
        "contactListId", int, attr="contact_list", nullable=True, clean=_id_field("contactListId")
    ),
    Field("whatsappId", int, attr="whatsapp", nullable=True, clean=_id_field("whatsappId")),
    Field("fileListId", int, attr="file_list", nullable=True, clean=_id_field("fileListId")),
    *(Field(n, max_len=MAX_MESSAGE_CHARS, strip=False, nullable=True) for n in MESSAGE_FIELDS),
    *(
        Field(
            n,
            attr="confirmation_message" + n[-1],
            max_len=MAX_MESSAGE_CHARS,
            strip=False,
            nullable=True,
        )
        for n in CONFIRMATION_FIELDS
    ),
)
#: An edit may also send back the campaign's own status (the frontend's form echoes it: a
#: CANCELADA campaign is edited with ``status: CANCELADA``); checked against the row.
UPDATE_FIELDS = tuple(
    Field("status", choices=CAMPAIGN_STATUSES) if f.name == "status" else f for f in CAMPAIGN_FIELDS
)


def _parse(body: object, schema: tuple[Field, ...], *, partial: bool) -> dict:
    """The body's fields, ``null`` texts as ``""``; a bad name carries the original's code."""
    try:
        data = parse(body, schema, partial=partial)
    except ValidationError as exc:
        if exc.field != "name":
            raise
        name = body.get("name") if isinstance(body, Mapping) else None
        blank = name is None or (isinstance(name, str) and not name.strip())
        raise ValidationError(
            exc.message, field="name", code=NAME_REQUIRED if blank else NAME_INVALID
        ) from None
    for attr in TEXT_ATTRS:
        if attr in data and data[attr] is None:
            data[attr] = ""
    return data


def known_variables(tenant: Tenant, list_id: int | None) -> set[str]:
    """Company variables plus the custom-field names used in the list (one aggregate query)."""
    stored = tenant.select(CampaignSetting).where(CampaignSetting.key == "variables").first()
    names = {v["key"] for v in (stored.value if stored else []) or []}
    if list_id:
        cursor = db.execute_sql(
            "SELECT DISTINCT e->>'name' FROM contact_list_items i, "
            "jsonb_array_elements(i.extra_info) e "
            "WHERE i.contact_list_id = %s AND i.company_id = %s AND jsonb_typeof(i.extra_info) = "
            "'array'",
            (list_id, tenant.company_id),
        )
        names |= {row[0] for row in cursor.fetchall() if row[0]}
    return names


def _check(tenant: Tenant, row: Campaign) -> None:
    """Rules that span fields, on the campaign as it would be saved."""
    if row.contact_list_id is not None:
        tenant.get(ContactList, row.contact_list_id, label="ContactList")
    if row.whatsapp_id is not None:
        tenant.get(WhatsappConnection, row.whatsapp_id, label="Whatsapp")
    if row.file_list_id is not None:
        tenant.get(FileList, row.file_list_id, label="File list")
    texts = {n: getattr(row, n) for n in MESSAGE_FIELDS}
    texts |= {c: getattr(row, "confirmation_message" + c[-1]) for c in CONFIRMATION_FIELDS}
    templates.check_variables(
        {k: v for k, v in texts.items() if v}, known_variables(tenant, row.contact_list_id)
    )
    if row.status == PROGRAMADA:
        _check_schedulable(tenant, row, texts)


def _check_schedulable(tenant: Tenant, row: Campaign, texts: dict) -> None:
    """A campaign about to be PROGRAMADA: a message, a list, and what it needs to start.

    Due now, it starts within a second: everything :func:`readiness.check_start` checks,
    the connection CONNECTED included (409). Due later, the connection and the list must exist
    and the list have contacts; the connection's state is checked when it comes due (the engine
    then pauses it with the reason if it cannot start).
    """
    if not any(texts[n].strip() for n in MESSAGE_FIELDS):
        raise ValidationError("a scheduled campaign needs at least one message", field="message1")
    if row.contact_list_id is None:
        raise ValidationError("a scheduled campaign needs a contactListId", field="contactListId")
    if row.confirmation and not any(texts[c].strip() for c in CONFIRMATION_FIELDS):
        raise ValidationError(
            "confirmation is on: give at least one confirmationMessage",
            field="confirmationMessage1",
        )
    readiness.check_start(tenant, row, connected=row.scheduled_at <= utcnow())


def _apply(row: Campaign, data: dict, *, keep_status: bool = False) -> None:
    for key, value in data.items():
        setattr(row, key, value)
    if keep_status:  # a CANCELADA campaign edited stays CANCELADA, as the original's did
        return
    # The original's rule: setting scheduledAt makes the campaign PROGRAMADA; clearing it, INATIVA.
    if "scheduled_at" in data:
        row.status = PROGRAMADA if data["scheduled_at"] else INATIVA
    elif data.get("status") == PROGRAMADA and row.scheduled_at is None:
        row.scheduled_at = utcnow()


def create_campaign(tenant: Tenant, body: object) -> dict:
    data = _parse(body, CAMPAIGN_FIELDS, partial=False)
    _localize(tenant, data)
    with db.atomic():
        company = Company.select().where(Company.id == tenant.company_id).for_update().first()
        if not company.use_campaigns:
            raise LimitExceeded("the company's plan does not include campaigns")
        count = tenant.select(Campaign, fn.COUNT(Campaign.id)).scalar()
        if count >= company.max_campaigns:
            raise LimitExceeded(
                f"the plan allows {company.max_campaigns} campaigns and the company has {count}"
            )
        row = Campaign(company=tenant.company_id)
        _apply(row, data)
        _check(tenant, row)
        row.save(force_insert=True)
    publish_campaign(tenant, row.id, "create")
    return campaign_dict(row)


def _echoed_status(row: Campaign, data: dict) -> bool:
    """Whether ``data`` sends back the campaign's own status where no other may be set (the
    frontend's edit of a CANCELADA campaign): accepted, and the status is kept. Any status but
    INATIVA, PROGRAMADA or the campaign's own is a 400."""
    status = data.get("status")
    if status is None or status in (INATIVA, PROGRAMADA):
        return False
    if status != row.status:
        raise ValidationError(
            f"status must be one of: {INATIVA}, {PROGRAMADA} (or the campaign's own status, "
            f"{row.status}, sent back unchanged)",
            field="status",
        )
    del data["status"]
    return True


def update_campaign(tenant: Tenant, campaign_id: int, body: object) -> dict:
    data = _parse(body, UPDATE_FIELDS, partial=True)
    _localize(tenant, data)
    with db.atomic():
        row = tenant.select(Campaign).where(Campaign.id == campaign_id).for_update().first()
        if row is None:
            tenant.get(Campaign, campaign_id, label="Campaign")  # raises NotFound
        lifecycle.check_editable(row.status)
        _apply(row, data, keep_status=_echoed_status(row, data))
        _check(tenant, row)
        row.save()
    publish_campaign(tenant, row.id)
    return campaign_dict(row)


def delete_campaign(tenant: Tenant, campaign_id: int) -> None:
    with db.atomic():
        row = tenant.select(Campaign).where(Campaign.id == campaign_id).for_update().first()
        if row is None:
            tenant.get(Campaign, campaign_id, label="Campaign")
        lifecycle.check_deletable(row.status)
        row.delete_instance()
    realtime.publish(tenant.company_id, "campaign", {"action": "delete", "id": campaign_id})


def command(tenant: Tenant, campaign_id: int, name: str, reason: str = "") -> Campaign:
    """Apply ``pause|resume|cancel|restart``: one conditional update; a 409 when not allowed.

    Resume and restart start sending again: refused (400/409, :mod:`readiness`) when the
    campaign's connection is not CONNECTED, or, for one that never started (paused or cancelled
    before its first message), when it has no list with contacts; such a campaign goes back to
    PROGRAMADA due now, so the engine takes its audience snapshot as at any first start.

    Returns the updated row; the caller updates the Redis flag and notifies the engine.
    """
    with db.atomic():
        row = tenant.select(Campaign).where(Campaign.id == campaign_id).for_update().first()
        if row is None:
            tenant.get(Campaign, campaign_id, label="Campaign")
        row.status = lifecycle.check_command(name, row.status)
        row.pause_reason = reason if name == "pause" else ""
        if name in ("resume", "restart"):
            now = utcnow()
            row.resumed_at = now
            if row.started_at is None:  # a first start: what scheduling it due now checks
                row.status = PROGRAMADA
                row.scheduled_at = min(row.scheduled_at or now, now)
                _check(tenant, row)
            else:
                readiness.check_start(tenant, row)
        if name == "restart":
            row.generation += 1
            row.completed_at = None
        if name == "cancel":
            # Rows of batches not yet claimed go back to pending: a restart sends them, and a
            # worker holding the batch finds it empty. A claimed batch's rows stay in it (they
            # may be on the wire): its worker sends nothing more and gives back the rest.
            inflight.release_planned(row.id)
        row.save()
    publish_campaign(tenant, row.id)
    return row


def pause_for_connection(tenant: Tenant, whatsapp_id: int, reason: str) -> list[Campaign]:
    """Pause the company's running campaigns on a connection (it was disconnected)."""
    with db.atomic():
        rows = list(
            tenant.select(Campaign)
            .where((Campaign.whatsapp == whatsapp_id) & (Campaign.status == EM_ANDAMENTO))
            .for_update()
        )
        for row in rows:
            row.status, row.pause_reason = lifecycle.PAUSADA, reason
            row.save()
    for row in rows:
        publish_campaign(tenant, row.id)
    return rows


#: A campaign's socket record carries the report page's arrays (``shipping``,
#: ``contactList.contacts``, as ``GET /campaigns/{id}`` gives them) while its audience is at most
#: this many rows: about 60 bytes a row, so at most about 120 KB an event, and a progress event
#: goes out at most once a second per campaign. A larger campaign's events leave the arrays out.
RECORD_ARRAYS_MAX = 2000


def campaign_record(tenant: Tenant, campaign_id: int) -> dict:
    """The campaign as the frontend's list and report pages read it in a socket event.

    The list row (:func:`views.campaign_row`: ``contactList`` and ``whatsapp`` nested, ``null``
    when unset), ``successRate`` as ``GET /campaigns/{id}`` gives it (messages accepted /
    audience, percent, two decimals: the report page's status line shows it), and zapx's
    ``report`` (the counts of ``GET /campaigns/{id}/report``). The report page recounts its
    counters from ``shipping`` and ``contactList.contacts`` whenever a record has ``shipping``
    (as the original's per-message event did): a campaign of up to :data:`RECORD_ARRAYS_MAX`
    rows with something counted carries both, so the counters count up live. A larger one's
    records carry neither (both together, or the page's ``contactList.contacts.filter``
    throws): its counters hold until the FINALIZADA event, on which the page refetches."""
    report = campaign_report(tenant, campaign_id)
    counted = report["sent"] or report["confirmationsRequested"]
    # Nothing counted yet (created, scheduled, just started): the page's counters are all 0 and
    # the arrays would cost a query at every start of a mass start for nothing.
    if counted and report["total"] <= RECORD_ARRAYS_MAX:
        # Read after the report: the arrays may count a batch more than it, never one less.
        record = json.loads(campaign_show_json(tenant, campaign_id))
    else:
        record = campaign_row(tenant, campaign_id)
    rate = round(report["sent"] * 100 / report["total"], 2) if report["total"] else 0
    return record | {"successRate": rate, "report": report}


def publish_campaign(tenant: Tenant, campaign_id: int, action: str = "update") -> None:
    """``company-{id}-campaign`` ``{action, record}`` with :func:`campaign_record`."""
    realtime.publish_from(
        tenant.company_id,
        lambda: [("campaign", {"action": action, "record": campaign_record(tenant, campaign_id)})],
    )
