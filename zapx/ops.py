"""``GET /ops/state``: what the live ops page (``/ops``) shows, in one JSON answer.

Read only, and made of the services that already answer each figure, so the page says what the
rest of the API says:

- connections: their row (state), the send gate's view of their schedule
  (``SendGate.state``: the rate after throttling, the recipients of the rolling 24 h against
  the daily cap, why a send waits), the company's rate limits (``zapx.rate_limits``) and the
  shared breakers (``Circuits.listing``);
- campaigns running or paused: each one's report (``zapx.campaigns.report``: sent of total,
  send rate, estimated end, pause reason, what it waits for);
- queues and workers: ``zapx.queue_stats`` on the Dramatiq broker's keys;
- the last provider errors by code: ``zapx.provider_errors``;
- open alerts: ``zapx.alerts.open_alerts``.

Scope: a company administrator sees their company only; a platform administrator every
company (or one, with ``companyId``). Queues and workers are the platform's, shared by every
company: numbers only, nothing that names a company. Times are ISO 8601 (UTC) or epoch seconds
where the key says ``At`` of the Redis clock; rates are messages per second (``PerS``) or per
minute (``PerMin``).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

import redis

from zapx import alerts, queue_stats, rate_limits
from zapx.auth import Principal
from zapx.campaign_settings import get_settings
from zapx.campaigns import flags, report
from zapx.campaigns.pacing import PacingSettings, pacing_for
from zapx.circuits import CAMPAIGN, WHATSAPP, Circuits
from zapx.db import Campaign, Company, Tenant, WhatsappConnection, db
from zapx.provider_errors import WINDOW_S, recent_errors
from zapx.redis import Keys
from zapx.schedule import GateState, SendGate
from zapx.status import CampaignStatus, RowStatus

#: Every queue, in the page's order (``zapx.queue_stats.QUEUES``).
QUEUES = queue_stats.QUEUES
#: Most campaigns and connections one answer lists (running campaigns first): each campaign
#: costs one report query, each connection one Redis script call.
MAX_CAMPAIGNS = 50
MAX_CONNECTIONS = 200
#: Most open alerts one answer lists (the newest).
MAX_ALERTS = 100
LIVE = (CampaignStatus.EM_ANDAMENTO, CampaignStatus.PAUSADA)


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where the figures are read: Redis (the gate, the breakers, the broker's namespace)."""

    redis: redis.Redis
    keys: Keys
    gate: SendGate
    circuits: Circuits
    #: The Dramatiq broker's key namespace (``REDIS_PREFIX`` + ``dramatiq``).
    broker_namespace: str


def scope_of(principal: Principal, company_id: object = None) -> int | None:
    """The company the answer is about: the caller's own, any one a platform administrator
    names, or None (every company) for a platform administrator who names none. Another
    company named by a company administrator is a 404 (``rate_limits.company_tenant``)."""
    if principal.is_super and company_id in (None, ""):
        return None
    return rate_limits.company_tenant(principal, company_id).company_id


def ops_state(principal: Principal, sources: Sources, company_id: object = None) -> dict:
    """The whole answer for ``principal`` (see the module docstring)."""
    # One connection scope around it all: the rate limits' reader opens its own scope, which
    # would otherwise close the request's connection when it ends.
    with db.connection_context():
        return _state(principal, sources, company_id)


def _state(principal: Principal, sources: Sources, company_id: object) -> dict:
    scope = scope_of(principal, company_id)
    now = datetime.datetime.now(datetime.UTC)
    companies = _companies(scope)
    breakers = _breakers(sources.circuits, list(companies))
    campaigns, rate_by_connection, live_ids = _campaigns(principal, sources, scope, companies)
    recent_ids = live_ids + _recently_finished(scope, now)
    connections = _connections(sources, scope, companies, breakers, rate_by_connection)
    for c in campaigns:
        c["breaker"] = breakers.get((CAMPAIGN, c["id"]), {}).get("state", "closed")
    stats = queue_stats.queue_stats(sources.redis, sources.broker_namespace, QUEUES)
    return {
        "generatedAt": now.isoformat(),
        "companyId": scope,
        "allCompanies": scope is None,
        "connections": connections,
        "campaigns": campaigns,
        "queues": [
            {
                "name": s.name,
                "depth": s.depth,
                "delayed": s.delayed,
                "dead": s.dead,
                "oldestAgeS": round(s.oldest_age_s, 1),
            }
            for s in stats
        ],
        "workersAlive": queue_stats.workers_alive(sources.redis, sources.broker_namespace),
        "errorWindowS": WINDOW_S,
        "errors": recent_errors(recent_ids, now),
        # Every company's and the system's for a platform administrator, else one company's.
        "alerts": alerts.open_alerts(scope)[:MAX_ALERTS],
    }


def _companies(scope: int | None) -> dict[int, str]:
    query = Company.select(Company.id, Company.name).order_by(Company.id)
    if scope is not None:
        query = query.where(Company.id == scope)
    return {c.id: c.name for c in query}


def _breakers(circuits: Circuits, company_ids: list[int]) -> dict[tuple[str, int], dict]:
    """``(name, id) -> breaker`` as ``GET /breakers`` shows them."""
    return {(b["name"], b["id"]): b for b in circuits.listing(company_ids)}


def _scoped(model, scope: int | None):
    query = model.select()
    return query.where(model.company == scope) if scope is not None else query


def _campaigns(
    principal: Principal, sources: Sources, scope: int | None, companies: dict[int, str]
) -> tuple[list[dict], dict[int, float], list[int]]:
    """The live campaigns with their reports, the current send rate per connection (the sum of
    its running campaigns' rates, per second) and every live campaign's id."""
    rows = list(
        _scoped(Campaign, scope)
        .where(Campaign.status.in_(LIVE))
        # Running ones first, then the most recent.
        .order_by(Campaign.status != CampaignStatus.EM_ANDAMENTO, Campaign.id.desc())
        .limit(MAX_CAMPAIGNS)
    )
    names = {
        w.id: w.name
        for w in WhatsappConnection.select(WhatsappConnection.id, WhatsappConnection.name).where(
            WhatsappConnection.id.in_({r.whatsapp_id for r in rows if r.whatsapp_id})
        )
    }
    out, rates = [], {}
    for row in rows:
        r = report.campaign_report(
            Tenant(row.company_id),
            row.id,
            lambda c: flags.waiting_because(sources.redis, sources.keys, c),
        )
        if r["status"] not in LIVE:
            continue  # it finished or was cancelled between the two reads
        if row.whatsapp_id and r["status"] == CampaignStatus.EM_ANDAMENTO:
            rates[row.whatsapp_id] = rates.get(row.whatsapp_id, 0.0) + r["sendRatePerS"]
        out.append(
            {
                "id": row.id,
                "companyId": row.company_id,
                "companyName": companies.get(row.company_id, ""),
                "name": row.name,
                "status": r["status"],
                "whatsappId": row.whatsapp_id,
                "whatsappName": names.get(row.whatsapp_id),
                "sent": r["sent"],
                "failed": r["counts"][RowStatus.FAILED],
                "unknown": r["counts"][RowStatus.UNKNOWN],
                "total": r["total"],
                "remaining": r["remaining"],
                "progress": r["progress"],
                "ratePerMin": round(r["sendRatePerS"] * 60, 1),
                "estimatedEndAt": r["estimatedEndAt"],
                "pauseReason": r["pauseReason"],
                "waitingBecause": r["waitingBecause"],
                # Pause and resume act in the caller's own company (POST /campaigns/{id}/...).
                "canControl": row.company_id == principal.company_id,
            }
        )
    return out, rates, [row.id for row in rows]


def _recently_finished(scope: int | None, now: datetime.datetime) -> list[int]:
    """Campaigns finished within the errors' window: their last errors still count."""
    since = now - datetime.timedelta(seconds=WINDOW_S)
    query = _scoped(Campaign, scope).where(
        Campaign.status.not_in(LIVE)
        & ((Campaign.completed_at > since) | (Campaign.updated_at > since))
    )
    return [c.id for c in query.limit(MAX_CAMPAIGNS)]


def limit_of(state: GateState, pacing: PacingSettings, limits: Sequence) -> tuple[float, str]:
    """The connection's send rate limit now (messages per second) and the rule that sets it:
    the provider cap after throttling, the pacing interval, the company's ``whatsapp`` or
    ``global`` rate limit, whichever is lowest."""
    found = [(state.rate_per_s, "throttled" if state.throttle_factor < 1 else "provider cap")]
    if pacing.message_interval_s > 0:
        found.append((1 / pacing.message_interval_s, "interval"))
    for rule in limits:
        if rule.kind in ("whatsapp", "global"):
            found.append((rule.limit / rule.period_s, f"rate limit {rule.kind}"))
    rate, by = min(found, key=lambda f: f[0])
    return round(rate, 3), by


def _connections(
    sources: Sources,
    scope: int | None,
    companies: dict[int, str],
    breakers: dict[tuple[str, int], dict],
    rates: dict[int, float],
) -> list[dict]:
    rows = list(
        _scoped(WhatsappConnection, scope)
        .order_by(WhatsappConnection.company, WhatsappConnection.name)
        .limit(MAX_CONNECTIONS)
    )
    settings: dict[int, dict] = {}
    out = []
    for w in rows:
        if w.company_id not in settings:
            settings[w.company_id] = get_settings(Tenant(w.company_id))
        pacing = pacing_for(settings[w.company_id], w.settings or {})
        state = sources.gate.state(w.id, w.company_id, pacing)
        limit, limit_by = limit_of(state, pacing, rate_limits.limits_for(w.company_id))
        breaker = breakers.get((WHATSAPP, w.id), {})
        out.append(
            {
                "id": w.id,
                "companyId": w.company_id,
                "companyName": companies.get(w.company_id, ""),
                "name": w.name,
                "provider": w.provider,
                "status": w.status,
                "ratePerS": round(rates.get(w.id, 0.0), 3),
                "limitPerS": limit,
                "limitBy": limit_by,
                "maxPerS": pacing.max_per_s,
                "throttleFactor": round(state.throttle_factor, 4),
                "dailySent": state.daily_sent,
                "dailyCap": state.daily_cap,
                # The gate names what holds the next send even when nothing is to be sent.
                "waitingBecause": (state.waiting_because or None) if w.id in rates else None,
                "breaker": breaker.get("state", "closed"),
                "breakerSince": breaker.get("since"),
                "breakerError": breaker.get("lastError"),
            }
        )
    return out
