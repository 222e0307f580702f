"""The SessionThrottleActor of a connection: started for live work, stopped without it, and a
dead one rebuilt from PostgreSQL (the batches still planned) without losing a promised slot."""

from __future__ import annotations

import pytest

from actors.engine.throttle import ThrottleActors
from tests.processes import wait_for
from tests.zapx.engine.test_lifecycle import World
from zapx.db import CampaignBatch, db


@pytest.fixture
def world(config, clean_db):
    made: list[World] = []

    def make(size: int, **kw) -> World:
        w = World(config, size, **kw)
        w.lifecycle.throttles = ThrottleActors(w.company_id)
        made.append(w)
        return w

    yield make
    for w in made:
        w.lifecycle.throttles.stop_all()
        found = list(w.redis.scan_iter(match=w.keys.prefix + "*"))
        if found:
            w.redis.delete(*found)


def _slots(batch_ids) -> list[float]:
    with db.connection_context():
        return [at for b in batch_ids for at, _ in CampaignBatch.get_by_id(b).slots]


def test_a_dead_throttle_actor_is_rebuilt_and_keeps_the_promised_slots(world):
    w = world(300, interval=0.2, budget=50)
    throttles = w.lifecycle.throttles
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    [first] = w.outbox.take()
    assert throttles.refs[w.whatsapp_id].is_alive(), "started for the connection's live work"
    w.deliver(first)
    promised = _slots(w.outbox.take())
    assert promised and max(promised) > w.clock.now + 1.5  # slots up to the 2 s horizon
    old = throttles.refs[w.whatsapp_id]
    old.stop()  # the actor dies
    w.clock.now += 1.0
    w.lifecycle.pump()  # its next ask finds it dead: a new one, built from the database
    assert throttles.refs[w.whatsapp_id] is not old and throttles.refs[w.whatsapp_id].is_alive()
    w.clock.now += 1.5
    w.lifecycle.pump()
    later = _slots(w.outbox.take())
    assert later, "planning went on"
    assert min(later) >= max(promised) + 0.2 * (1 - 0.3) - 1e-6, "a slot promised was reused"


def test_the_throttle_actor_stops_when_its_connection_has_no_live_work(world):
    w = world(20, budget=4)
    campaign_id = w.campaign()
    w.lifecycle.refresh(campaign_id)
    ref = w.lifecycle.throttles.refs[w.whatsapp_id]
    w.lifecycle.command(campaign_id, "pause", "by a user")
    assert w.whatsapp_id not in w.lifecycle.throttles.refs
    # Stopped without waiting (the lifecycle never blocks on an actor): it ends once it has
    # read its stop message, which on a loaded machine is not at once.
    wait_for(lambda: not ref.is_alive(), timeout_s=5, what="the throttle actor stopped")
    w.lifecycle.command(campaign_id, "resume")
    assert w.lifecycle.throttles.refs[w.whatsapp_id].is_alive()
