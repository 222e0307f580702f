"""The lifecycle and the breakers (``zapx.circuits``): an open connection breaker plans
nothing and says why; half-open, one probe batch; a tripped campaign breaker pauses."""

from __future__ import annotations

import time

from tests.zapx.engine.test_lifecycle import world  # noqa: F401 - the fixture
from zapx.campaigns import batches, flags
from zapx.campaigns.lifecycle import EM_ANDAMENTO, PAUSADA
from zapx.circuits import Circuits, Health, Thresholds
from zapx.db import db
from zapx.engine.messages import BatchReport, Outcome


def _trip(w, open_s=30) -> Circuits:
    circuits = Circuits(w.redis, w.keys, Thresholds(min_calls=5, open_s=open_s))
    state, _ = circuits.report(
        w.company_id, w.whatsapp_id, 999, 1, 1, Health(10, 10, "HTTP 503: down")
    )
    assert state == "open"
    w.lifecycle.circuits = circuits
    return circuits


def test_an_open_connection_breaker_plans_nothing_and_the_report_says_why(world):  # noqa: F811
    w = world(size=5)
    _trip(w)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    assert w.row(campaign_id).status == EM_ANDAMENTO
    assert w.outbox.take() == []
    assert max(w.wakes) >= time.time() + 25  # woken when the breaker may probe
    why = flags.waiting_because(w.redis, w.keys, campaign_id)
    assert why == "connection failing: HTTP 503: down"


def test_half_open_plans_exactly_one_probe_batch(world):  # noqa: F811
    w = world(size=200)
    circuits = _trip(w, open_s=1)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    assert w.outbox.take() == []
    time.sleep(1.05)
    w.clock.now += 10  # past the first batch's wait: the campaign wants several batches
    w.lifecycle.pump()
    [probe] = w.outbox.take()
    w.lifecycle.pump()
    assert w.outbox.take() == []  # the probe is out: nothing more
    state, _ = circuits.report(w.company_id, w.whatsapp_id, campaign_id, 1, probe, Health(1))
    assert state == "closed"
    circuits._closed_until.clear()
    w.deliver(probe)
    assert len(w.outbox.take()) > 1  # closed: planned as usual


def test_a_tripped_campaign_breaker_pauses_the_campaign_with_its_reason(world):  # noqa: F811
    w = world(size=5)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    [batch_id] = w.outbox.take()
    with db.connection_context():
        claim = batches.claim_batch(batch_id, 60)
        batches.finish_batch(batch_id, [Outcome(r.id, "failed", None, "bad") for r in claim.rows])
    reason = "campaign breaker: 50 consecutive failures"
    w.lifecycle.record(
        BatchReport(
            w.company_id,
            campaign_id,
            w.whatsapp_id,
            batch_id,
            claim.generation,
            breaker=reason,
            failed=1,
        )
    )
    row = w.row(campaign_id)
    assert (row.status, row.pause_reason) == (PAUSADA, reason)
    assert w.flag(campaign_id) is None and campaign_id not in w.lifecycle.live
