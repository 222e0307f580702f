"""A campaign started by the clock, as the engine starts one: shared by the batch tests."""

import datetime

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from zapx.campaigns import starts
from zapx.db import WhatsappConnection, db
from zapx.db.campaign_models import Campaign


def due_campaign(name: str, contacts: int, connection: str = "CONNECTED") -> tuple[int, int]:
    """A new company ``name`` with a connection (its status ``connection``) and a list of
    ``contacts``, and its campaign, PROGRAMADA and due now: (company id, whatsapp id)."""
    company_id = make_company(name)
    list_id = make_list(company_id, contacts)
    with db.connection_context():
        whatsapp_id = WhatsappConnection.create(company=company_id, name="w", status=connection).id
        Campaign.create(
            company=company_id,
            name="c",
            status="PROGRAMADA",
            contact_list=list_id,
            whatsapp=whatsapp_id,
            message1="Oi {nome}",
            scheduled_at=datetime.datetime.now(datetime.UTC),
        )
    return company_id, whatsapp_id


def started_campaign(name: str, contacts: int) -> tuple[int, int, int]:
    """:func:`due_campaign`, started (``EM_ANDAMENTO``, its whole audience copied, every row
    pending): (company id, campaign id, whatsapp id)."""
    company_id, whatsapp_id = due_campaign(name, contacts)
    with db.connection_context():
        [(_, campaign_id)] = starts.start_due()
        starts.complete_audiences()  # the engine's tick does it after the start, every row here
    return company_id, campaign_id, whatsapp_id
