"""``GET /whatsapps/{id}/pacing``: a connection's send schedule as the send gate sees it now.

Read only: one script call (``SendGate.state``) on the gate's keys in Redis, with the pacing the
workers use (the company's campaign-settings and the connection's caps, ``pacing.pacing_for``).
Times are epoch seconds of the Redis clock, the one the gate decides by.
"""

from __future__ import annotations

from zapx.campaign_settings import get_settings
from zapx.campaigns.pacing import pacing_for
from zapx.db import Tenant, WhatsappConnection
from zapx.schedule import SendGate


def connection_pacing(tenant: Tenant, connection_id: int, gate: SendGate) -> dict:
    """The connection's schedule in camelCase; another company's connection is a 404."""
    connection = tenant.get(WhatsappConnection, connection_id, label="Whatsapp")
    settings = pacing_for(get_settings(tenant), connection.settings or {})
    s = gate.state(connection.id, tenant.company_id, settings)
    return {
        "whatsappId": connection.id,
        "now": s.now_s,
        "paced": settings.message_interval_s > 0,
        "messageIntervalS": settings.message_interval_s,
        "jitter": settings.jitter,
        "maxPerS": settings.max_per_s,
        "ratePerS": round(s.rate_per_s, 3),
        "throttleFactor": round(s.throttle_factor, 4),
        "throttledUntil": s.throttled_until_s,
        "throttleSignals": s.throttle_signals,
        "nextSlotAt": s.next_departure_s,
        "waitingBecause": s.waiting_because or None,
        "lastSendAt": s.last_departure_s,
        "dailySent": s.daily_sent,
        "dailyCap": s.daily_cap,
        "sendsSincePause": s.sends_since_pause,
        "longerIntervalAfter": s.longer_interval_after,
        "greaterIntervalS": settings.greater_interval_s,
        "holder": s.holder or None,
        "leaseUntil": s.lease_until_s,
    }
