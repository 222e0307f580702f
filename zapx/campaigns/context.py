"""What a worker needs to render and send a campaign's rows, loaded once and cached.

A running campaign cannot be edited (``lifecycle.EDITABLE``), and a restart bumps its generation,
so (campaign id, generation) identifies an immutable context; entries also expire after
``TTL_S`` so that company variables edited mid-campaign are picked up.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence

from zapx.campaigns.media import public_url
from zapx.campaigns.pacing import PacingSettings, pacing_for
from zapx.campaigns.templates import Template, extra_map
from zapx.contact_fields import PERSON
from zapx.db import CampaignSetting, WhatsappConnection
from zapx.db.campaign_models import Campaign
from zapx.outbound import Outbound
from zapx.providers import Provider, make_provider

TTL_S = 30.0
_lock = threading.Lock()
_cache: dict[tuple[int, int, int], tuple[float, CampaignContext]] = {}


@dataclasses.dataclass(frozen=True)
class CampaignContext:
    campaign_id: int
    company_id: int
    messages: tuple[Template, ...]
    confirmations: tuple[Template, ...]
    confirmation: bool
    variables: dict
    provider: Provider
    media_url: str | None
    media_type: str | None
    media_name: str | None
    #: The connection's pacing (company campaign-settings and the connection's caps): what the
    #: send gate checks before each request.
    pacing: PacingSettings
    #: The connection's provider (cloud, evolution, sandbox): the metrics' ``provider`` label.
    provider_name: str = "cloud"

    def render(self, row, confirming: bool) -> str:
        """The text for ``row``: its chosen message (or confirmation message) filled in."""
        pool = self.confirmations if confirming else self.messages
        template = pool[row.message_index % len(pool)]
        person = {f: getattr(row, f) for f in PERSON}
        return template.render(person, extra_map(row.extra_info), self.variables)


def message_texts(campaign: Campaign, prefix: str = "message") -> list[str]:
    """The non-empty texts among message1..5 (or confirmation_message1..5), in order."""
    texts = [getattr(campaign, f"{prefix}{i}") for i in range(1, 6)]
    return [t for t in texts if t and t.strip()]


#: What a context reads of a campaign: a model built from every column of its wide row took a
#: third of a chunk of first batches' time (py-spy), most of it for columns no send reads.
_CONTEXT_FIELDS = (
    Campaign.id,
    Campaign.company,
    Campaign.confirmation,
    Campaign.media_path,
    Campaign.media_type,
    Campaign.media_name,
    *(
        getattr(Campaign, f"{prefix}{i}")
        for prefix in ("message", "confirmation_message")
        for i in range(1, 6)
    ),
)


def load_context(
    campaign_id: int, whatsapp_id: int, generation: int, public_base: str, outbound: Outbound
) -> CampaignContext:
    """``public_base``: the URL prefix providers fetch media from (``Config.public_base``);
    ``outbound``: where the connection's provider may connect (``Outbound.from_config``)."""
    key = (campaign_id, whatsapp_id, generation)
    return load_contexts([key], public_base, outbound)[key]


def load_contexts(
    wanted: Sequence[tuple[int, int, int]], public_base: str, outbound: Outbound
) -> dict[tuple[int, int, int], CampaignContext]:
    """The contexts of every ``(campaign id, whatsapp id, generation)`` of ``wanted``, keyed so:
    those not cached are read in three queries for all of them (campaigns, connections,
    settings), not three each (a chunk of first batches: 50 campaigns of 50 companies).
    Arguments as :func:`load_context`'s."""
    now = time.monotonic()
    found: dict[tuple[int, int, int], CampaignContext] = {}
    missing = []
    with _lock:
        for key in wanted:
            hit = _cache.get(key)
            if hit and now - hit[0] < TTL_S:
                found[key] = hit[1]
            else:
                missing.append(key)
    if not missing:
        return found
    campaigns = {
        c.id: c
        for c in Campaign.select(*_CONTEXT_FIELDS).where(Campaign.id.in_([k[0] for k in missing]))
    }
    connections = {
        w.id: w
        for w in WhatsappConnection.select().where(
            WhatsappConnection.id.in_(sorted({k[1] for k in missing}))
        )
    }
    stored: dict[int, dict] = {}
    companies = sorted({c.company_id for c in campaigns.values()})
    for s in CampaignSetting.select().where(CampaignSetting.company.in_(companies)):
        stored.setdefault(s.company_id, {})[s.key] = s.value
    built = {}
    for key in missing:
        campaign, connection = campaigns.get(key[0]), connections.get(key[1])
        if campaign is None:
            raise Campaign.DoesNotExist(f"campaign {key[0]} not found")
        if connection is None:
            raise WhatsappConnection.DoesNotExist(f"connection {key[1]} not found")
        built[key] = _build(
            campaign, connection, stored.get(campaign.company_id, {}), public_base, outbound
        )
    with _lock:
        if len(_cache) + len(built) > 10_000:
            _cache.clear()
        for key, ctx in built.items():
            _cache[key] = (now, ctx)
    return found | built


def _build(
    campaign: Campaign,
    connection: WhatsappConnection,
    stored: dict,
    public_base: str,
    outbound: Outbound,
) -> CampaignContext:
    variables = {v["key"]: v["value"] for v in stored.get("variables") or []}
    messages = tuple(Template(t) for t in message_texts(campaign)) or (Template(""),)
    confirmations = tuple(Template(t) for t in message_texts(campaign, "confirmation_message"))
    return CampaignContext(
        campaign_id=campaign.id,
        company_id=campaign.company_id,
        messages=messages,
        confirmations=confirmations or messages,
        confirmation=campaign.confirmation and bool(confirmations),
        variables=variables,
        provider=make_provider(connection.provider, connection.settings or {}, outbound),
        media_url=public_url(public_base, campaign.media_path) if campaign.media_path else None,
        media_type=campaign.media_type or None,
        media_name=campaign.media_name or None,
        pacing=pacing_for(stored, connection.settings or {}),
        provider_name=connection.provider,
    )
