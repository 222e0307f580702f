"""A campaign started by the clock, as the engine starts one: shared by the batch tests."""

import datetime

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from zapx.campaigns import starts
from zapx.db import WhatsappConnection, db
from zapx.db.campaign_models import Campaign


def started_campaign(name: str, contacts: int) -> tuple[int, int, int]:
    """A new company ``name`` with a connected connection and a list of ``contacts``, and its
    campaign, due now and started (``EM_ANDAMENTO``, its whole audience copied, every row
    pending): (company id, campaign id, whatsapp id)."""
    company_id = make_company(name)
    list_id = make_list(company_id, contacts)
    with db.connection_context():
        whatsapp_id = WhatsappConnection.create(company=company_id, name="w", status="CONNECTED").id
        Campaign.create(
            company=company_id,
            name="c",
            status="PROGRAMADA",
            contact_list=list_id,
            whatsapp=whatsapp_id,
            message1="Oi {nome}",
            scheduled_at=datetime.datetime.now(datetime.UTC),
        )
        [(_, campaign_id)] = starts.start_due()
        starts.complete_audiences()  # the engine's tick does it after the start, every row here
    return company_id, campaign_id, whatsapp_id
