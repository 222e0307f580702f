"""A connection's SessionThrottle built from what the connection already did, so a new or
replaced throttle (actor) loses nothing: the gate's state in Redis and the batches PostgreSQL
still has planned (docs/ENGINE.md, "The throttle actor")."""

from __future__ import annotations

import logging
from collections.abc import Callable

from zapx.campaigns import batches
from zapx.campaigns.pacing import PacingSettings
from zapx.db import db
from zapx.engine.throttle import SessionThrottle, seed
from zapx.schedule import SendGate

log = logging.getLogger("zapx.engine.throttle")


def build_throttle(
    company_id: int,
    whatsapp_id: int,
    settings: PacingSettings,
    clock: Callable[[], float],
    gate: SendGate | None,
) -> SessionThrottle:
    """The connection's throttle seeded from the gate's state (next departure, last one, the
    long-pause count, AIMD; Redis time mapped onto ``clock``, epoch seconds) and the last slot
    of the batches still planned or claimed for its running campaigns (their unclaimed rows
    counted towards the long pause). Its first slot is not before what Redis allows."""
    throttle = SessionThrottle(company_id, whatsapp_id, settings, clock)
    now, next_at, last_at, count, factor = clock(), 0.0, None, 0, 1.0
    if gate is not None:
        state = gate.state(whatsapp_id, company_id, settings)
        offset = now - state.now_s
        next_at = state.next_departure_s + offset
        if state.last_departure_s is not None:
            last_at = state.last_departure_s + offset
        count, factor = state.sends_since_pause, state.throttle_factor
    with db.connection_context():
        promised_at, unsent = batches.promised_slots(whatsapp_id)
    if promised_at is not None:
        last_at = max(last_at or 0.0, promised_at)
    seed(
        throttle,
        next_at=next_at,
        last_at=last_at,
        sends_since_pause=count + unsent,
        factor=factor,
    )
    log.info(
        "session throttle built",
        extra={
            "company_id": company_id,
            "whatsapp_id": whatsapp_id,
            "next_in_s": round(throttle.pacer.next_at - now, 3),
            "sends_since_pause": throttle.pacer.sent_since_pause,
        },
    )
    return throttle
