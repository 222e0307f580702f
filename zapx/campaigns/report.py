"""``GET /campaigns/:id/report``: one aggregate query over the campaign's rows, never a row list.

The send rate is measured on what the campaign really did in its current run: the sends recorded
in the last :data:`RATE_WINDOW_S` seconds and since the run began (its start, or its last resume
or restart), over the time between the first and the last of them. Workers record a batch's
outcomes together when it ends, so its rows share one ``sent_at``; dividing by the time since the
run began (or by a fixed 60 s) counts the batch in flight as if nothing had left: a campaign
polled in its first seconds showed 0.017 msgs/s and 33 h to go for 108 s of work. Until two
batches are recorded there is no rate and no estimated end, and a campaign that is not running
(paused, cancelled, finished) has neither.

:func:`report_json` answers through the query cache (namespace ``reports``, docs/CACHE.md). The
campaign's own row is read every time (one primary-key lookup) and its fields the report shows
are part of the entry's key, so a status change (pause, resume, finish, ...) never needs a bump;
the aggregate over the shipping rows is what is cached, and every path that moves a row's
status bumps the namespace. A running campaign's entry lives ``QUERY_CACHE_REPORT_TTL_S``
(its rate and estimated end are measured from "now"); any other campaign's report does not
depend on the time, so it lives ``QUERY_CACHE_TTL_S``. ``waitingBecause`` is read from Redis
on every request and added to the cached bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from zapx.cache import REPORTS, QueryCache, dumps
from zapx.campaigns import inflight
from zapx.campaigns.lifecycle import EM_ANDAMENTO
from zapx.db import Tenant, db
from zapx.db.campaign_models import SHIPPING_STATUSES, Campaign
from zapx.status import RowStatus

#: Seconds of recent sends that the send rate is measured over.
RATE_WINDOW_S = 60


def run_began(campaign: Campaign) -> datetime.datetime | None:
    """When the current run began: the later of the start and the last resume or restart."""
    return max((t for t in (campaign.started_at, campaign.resumed_at) if t), default=None)


def send_rate(recent: int, first, last) -> float:
    """Sends per second from ``recent`` sends recorded between ``first`` and ``last``; 0 with
    fewer than two recordings. All but one left between the two: exact when the first recording
    held one row (a run's first batch does), else high by that batch's other rows (a few percent
    of a 60 s window)."""
    if recent < 2 or first is None or last is None or last <= first:
        return 0.0
    return (recent - 1) / (last - first).total_seconds()


#: Part of every cached report's key: a new report shape never serves entries of an older one.
_SHAPE = "report-v1"


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def campaign_report(
    tenant: Tenant, campaign_id: int, waiting: Callable[[int], str | None] | None = None
) -> dict:
    """The report; ``waiting(campaign id)`` gives why its sends wait on the send gate
    (``flags.waiting_because``), shown as ``waitingBecause`` while it runs."""
    campaign = tenant.get(Campaign, campaign_id, label="Campaign")
    return _report(campaign) | {"waitingBecause": _waiting(campaign, waiting)}


def report_json(
    tenant: Tenant,
    campaign_id: int,
    waiting: Callable[[int], str | None] | None = None,
    cache: QueryCache | None = None,
) -> bytes:
    """:func:`campaign_report` as JSON bytes (the same bytes), through ``cache`` when given."""
    campaign = tenant.get(Campaign, campaign_id, label="Campaign")
    if cache is None:
        body = dumps(_report(campaign))
    else:
        running = campaign.status == EM_ANDAMENTO
        key = (
            _SHAPE,
            campaign.id,
            campaign.status,
            _iso(campaign.started_at),
            _iso(campaign.resumed_at),
            _iso(campaign.completed_at),
            campaign.pause_reason or "",
        )
        ttl_s = cache.ttl_for(REPORTS)
        if ttl_s and not running:  # no rate, no estimated end: nothing depends on the time
            ttl_s = max(ttl_s, cache.ttl_s)
        body = cache.get_or_compute(
            tenant.company_id, REPORTS, key, lambda: _report(campaign), ttl_s=ttl_s
        )
    # The dict's last key, read fresh: it changes in Redis, with no write to any row.
    return body[:-1] + b', "waitingBecause": ' + dumps(_waiting(campaign, waiting)) + b"}"


def _waiting(campaign: Campaign, waiting: Callable[[int], str | None] | None) -> str | None:
    if waiting is None or campaign.status != EM_ANDAMENTO:
        return None
    return waiting(campaign.id) or None


def _report(campaign: Campaign) -> dict:
    """Everything but ``waitingBecause``, from one aggregate over the campaign's rows."""
    now = datetime.datetime.now(datetime.UTC)
    since = now - datetime.timedelta(seconds=RATE_WINDOW_S)
    began = run_began(campaign)
    if began is not None and began > since:
        since = began
    rows = db.execute_sql(
        f"""
        SELECT {inflight.status_sql()}, count(*),
               count(*) FILTER (WHERE sent_at > %(since)s),
               min(sent_at) FILTER (WHERE sent_at > %(since)s),
               max(sent_at) FILTER (WHERE sent_at > %(since)s),
               count(confirmation_requested_at), count(confirmed_at)
        FROM campaign_shipping WHERE campaign_id = %(c)s GROUP BY 1
        """,
        {"since": since, "c": campaign.id},
    ).fetchall()
    counts = dict.fromkeys(SHIPPING_STATUSES, 0)
    recent = requested = confirmed = 0
    first = last = None
    for status, count, recent_sent, first_sent, last_sent, req, conf in rows:
        counts[status] = count
        recent += recent_sent
        requested += req
        confirmed += conf
        if first_sent is not None:
            first = first_sent if first is None else min(first, first_sent)
            last = last_sent if last is None else max(last, last_sent)
    total = sum(counts.values())
    remaining = sum(counts[s] for s in RowStatus.OPEN)
    # Only a running campaign sends: paused, cancelled or finished, it has no rate and no end.
    running = campaign.status == EM_ANDAMENTO
    rate = send_rate(recent, first, last) if running else 0.0
    eta = None
    if running and remaining and rate > 0:
        eta = now + datetime.timedelta(seconds=remaining / rate)
    done = sum(counts[s] for s in RowStatus.SENT_OR_LATER)
    return {
        "campaignId": campaign.id,
        "status": campaign.status,
        "total": total,
        "counts": counts,
        "delivered": counts[RowStatus.DELIVERED] + counts[RowStatus.READ],
        "sent": done,
        "remaining": remaining,
        "confirmationsRequested": requested,
        "confirmations": confirmed,
        "sendRatePerS": round(rate, 3),
        "progress": round((total - remaining) / total, 4) if total else 0.0,
        "estimatedEndAt": eta.isoformat() if eta else None,
        "startedAt": campaign.started_at.isoformat() if campaign.started_at else None,
        "resumedAt": campaign.resumed_at.isoformat() if campaign.resumed_at else None,
        "completedAt": campaign.completed_at.isoformat() if campaign.completed_at else None,
        "pauseReason": campaign.pause_reason or None,
    }
