"""The campaign commands the API and the engine share: the database change, then the run flag.

``pause | resume | cancel | restart``, a deletion and a lost connection change PostgreSQL first
(``zapx.campaigns.service``, one transaction each) and then the campaign's run flag, here, before
the engine hears of it: workers stop within one message, not when the engine gets round to it.
Each returns the :class:`~zapx.engine.messages.CampaignChanged` messages the caller sends the
engine (the API through its queue; the lifecycle acts on them at once).
"""

from __future__ import annotations

from zapx.campaigns import service
from zapx.campaigns.lifecycle import EM_ANDAMENTO
from zapx.db import Tenant
from zapx.db.campaign_models import Campaign
from zapx.engine.messages import CampaignChanged
from zapx.engine.runflags import RunFlags


def command(
    tenant: Tenant, flags: RunFlags, campaign_id: int, name: str, reason: str = ""
) -> tuple[Campaign, CampaignChanged]:
    """Apply ``name`` (a 409 when the status does not allow it, see ``service.command``) and set
    the run flag to match: the campaign's generation when it runs again, cleared otherwise."""
    row = service.command(tenant, campaign_id, name, reason=reason)
    if row.status == EM_ANDAMENTO:
        flags.set(tenant.company_id, row.id, row.generation)
    else:
        flags.clear(tenant.company_id, row.id)
    return row, CampaignChanged(tenant.company_id, row.id)


def delete(tenant: Tenant, flags: RunFlags, campaign_id: int) -> None:
    """Delete the campaign (409 while it sends) and drop its flag."""
    service.delete_campaign(tenant, campaign_id)
    flags.clear(tenant.company_id, campaign_id)


def connection_down(
    tenant: Tenant, flags: RunFlags, whatsapp_id: int, reason: str
) -> list[CampaignChanged]:
    """The connection is gone: pause its running campaigns with ``reason`` (DESIGN rule 5: never
    "running" with nothing sent) and stop their workers."""
    paused = service.pause_for_connection(tenant, whatsapp_id, reason)
    for row in paused:
        flags.clear(tenant.company_id, row.id)
    return [CampaignChanged(tenant.company_id, row.id) for row in paused]
