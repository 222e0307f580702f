"""What a campaign needs to start or go on sending, and what may not be deleted under it.

A campaign starts (scheduled due now, resumed, restarted, or made due by the clock) only with a
WhatsApp connection that is ``CONNECTED`` and, the first time, a contact list with someone to
send to. The API refuses a start that cannot happen (:func:`check_start`, 400/409 naming why);
the engine, which also starts scheduled campaigns when they come due, pauses one that cannot
start with the same reason (:func:`start_problem`), so nothing sits ``EM_ANDAMENTO`` sending
nothing. A connection or a list that a live campaign uses cannot be deleted
(:func:`check_unused`): the campaigns blocking it are named.
"""

from __future__ import annotations

import dataclasses

from zapx.db import ContactList, ContactListItem, Tenant, WhatsappConnection
from zapx.db.campaign_models import Campaign
from zapx.errors import Conflict, ValidationError
from zapx.status import CampaignStatus, ConnectionStatus

#: Statuses of a campaign that still uses its connection and list (it will send, or may again
#: after a resume) and so keeps them from being deleted.
USING = (CampaignStatus.PROGRAMADA, CampaignStatus.EM_ANDAMENTO, CampaignStatus.PAUSADA)
#: Campaigns named in a refusal to delete.
NAMED_AT_MOST = 5


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a campaign cannot start: ``message`` for people, ``field`` the campaign field at
    fault, ``conflict`` True when the fields are right but the state of the connection or list
    is not (409), False when a field is missing (400)."""

    message: str
    field: str
    conflict: bool

    def error(self) -> ValidationError | Conflict:
        kind = Conflict if self.conflict else ValidationError
        return kind(self.message, field=self.field)


def connection_of(tenant: Tenant, campaign: Campaign, *, lock: bool = False):
    """The connection the campaign sends through: its own, or (before its first start, when it
    has none) the company's default; None when there is none. With ``lock``, the row is held
    ``FOR SHARE`` until the transaction ends, so it cannot be deleted meanwhile."""
    query = tenant.select(WhatsappConnection)
    if campaign.whatsapp_id is not None:
        query = query.where(WhatsappConnection.id == campaign.whatsapp_id)
    elif campaign.started_at is None:
        query = query.order_by(WhatsappConnection.is_default.desc(), WhatsappConnection.id)
    else:
        return None  # it was started on a connection that has since been deleted
    if lock:
        query = query.for_update("FOR SHARE")
    return query.first()


def _sendable(tenant: Tenant, list_id: int) -> bool:
    """Whether the list has an item the snapshot would take (not marked off WhatsApp)."""
    return (
        tenant.select(ContactListItem, ContactListItem.id)
        .where(
            (ContactListItem.contact_list == list_id)
            & (ContactListItem.is_whatsapp_valid.is_null() | ContactListItem.is_whatsapp_valid)
        )
        .exists()
    )


def start_problem(
    tenant: Tenant, campaign: Campaign, *, connected: bool = True, lock: bool = False
) -> Problem | None:
    """Why ``campaign`` cannot start (or resume) now, or None when it can.

    A campaign that has started before (``started_at``) has its audience already: only its
    connection matters. One that has not needs a list with someone to send to. Without
    ``connected`` (a start scheduled for later) the connection must exist but may be down now.
    """
    connection = connection_of(tenant, campaign, lock=lock)
    if connection is None:
        if campaign.started_at is not None:
            return Problem(
                "the campaign's WhatsApp connection was deleted; cancel it, set whatsappId and "
                "restart it",
                "whatsappId",
                True,
            )
        return Problem(
            "the campaign has no whatsappId and the company has no WhatsApp connection",
            "whatsappId",
            False,
        )
    if connected and connection.status != ConnectionStatus.CONNECTED:
        return Problem(
            f"WhatsApp connection {connection.name!r} ({connection.id}) is {connection.status}, "
            "not CONNECTED: connect it first",
            "whatsappId",
            True,
        )
    if campaign.started_at is not None:
        return None
    if campaign.contact_list_id is None:
        return Problem("the campaign has no contactListId", "contactListId", False)
    contact_list = tenant.select(ContactList).where(ContactList.id == campaign.contact_list_id)
    if lock:
        contact_list = contact_list.for_update("FOR SHARE")
    found = contact_list.first()
    if found is None:
        return Problem("the campaign's contact list was deleted", "contactListId", False)
    if not _sendable(tenant, found.id):
        return Problem(
            f"contact list {found.name!r} ({found.id}) has no contacts to send to",
            "contactListId",
            True,
        )
    return None


def check_start(tenant: Tenant, campaign: Campaign, *, connected: bool = True) -> None:
    """Raise the 400/409 of :func:`start_problem`; the rows checked stay locked ``FOR SHARE``
    until the caller's transaction ends (a delete of them waits, then sees this campaign)."""
    problem = start_problem(tenant, campaign, connected=connected, lock=True)
    if problem is not None:
        raise problem.error()


def check_unused(tenant: Tenant, model, object_id: int) -> None:
    """Refuse (409) to delete a connection or list (``model``) that a scheduled, running or
    paused campaign uses, naming those campaigns. Call inside the deleting transaction: the row
    is locked first, so a start that checks it concurrently either finishes first (and is seen
    here) or waits and finds it gone. Another company's id finds nothing here (the delete then
    answers 404)."""
    row = tenant.select(model).where(model.id == object_id).for_update().first()
    if row is None:
        return
    column, label = {
        WhatsappConnection: (Campaign.whatsapp, "WhatsApp connection"),
        ContactList: (Campaign.contact_list, "contact list"),
    }[model]
    using = list(
        tenant.select(Campaign, Campaign.id, Campaign.name, Campaign.status)
        .where((column == row.id) & Campaign.status.in_(USING))
        .order_by(Campaign.id)
        .limit(NAMED_AT_MOST + 1)
    )
    if not using:
        return
    named = ", ".join(f"{c.name!r} ({c.id}, {c.status})" for c in using[:NAMED_AT_MOST])
    more = " and more" if len(using) > NAMED_AT_MOST else ""
    raise Conflict(
        f"{label} {row.name!r} ({row.id}) is used by campaigns that are scheduled, running or "
        f"paused: {named}{more}; cancel them (or wait until they finish) before deleting it"
    )
