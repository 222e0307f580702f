"""``GET /campaigns/:id/report``: one aggregate query over the campaign's rows, never a row list."""

from __future__ import annotations

import datetime

from zapx.db import Tenant, db
from zapx.db.campaign_models import SHIPPING_STATUSES, Campaign

#: Seconds of recent sends that the send rate is measured over.
RATE_WINDOW_S = 60


def campaign_report(tenant: Tenant, campaign_id: int) -> dict:
    campaign = tenant.get(Campaign, campaign_id, label="Campaign")
    rows = db.execute_sql(
        """
        SELECT status, count(*),
               count(*) FILTER (WHERE sent_at > now() - make_interval(secs => %s)),
               count(confirmation_requested_at), count(confirmed_at)
        FROM campaign_shipping WHERE campaign_id = %s GROUP BY status
        """,
        (RATE_WINDOW_S, campaign.id),
    ).fetchall()
    counts = dict.fromkeys(SHIPPING_STATUSES, 0)
    recent = requested = confirmed = 0
    for status, count, recent_sent, req, conf in rows:
        counts[status] = count
        recent += recent_sent
        requested += req
        confirmed += conf
    total = sum(counts.values())
    remaining = counts["pending"] + counts["queued"] + counts["sending"]
    rate = recent / RATE_WINDOW_S
    eta = None
    if remaining and rate > 0:
        eta = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=remaining / rate)
    done = counts["sent"] + counts["delivered"] + counts["read"]
    return {
        "campaignId": campaign.id,
        "status": campaign.status,
        "total": total,
        "counts": counts,
        "delivered": counts["delivered"] + counts["read"],
        "sent": done,
        "remaining": remaining,
        "confirmationsRequested": requested,
        "confirmations": confirmed,
        "sendRatePerS": round(rate, 3),
        "progress": round((total - remaining) / total, 4) if total else 0.0,
        "estimatedEndAt": eta.isoformat() if eta else None,
        "startedAt": campaign.started_at.isoformat() if campaign.started_at else None,
        "completedAt": campaign.completed_at.isoformat() if campaign.completed_at else None,
        "pauseReason": campaign.pause_reason or None,
    }
