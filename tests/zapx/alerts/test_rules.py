"""zapx.alerts.Evaluator on the real PostgreSQL and Redis (a key prefix of its own for the
breakers and the queues): each periodic rule opens past its threshold, is touched while it
holds, resolves when it clears; a rule whose signal fails changes nothing."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import pytest
import redis

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from zapx.alerts import Evaluator
from zapx.circuits import Circuits, Health, Thresholds
from zapx.config import Config
from zapx.db import Alert, CampaignBatch, CampaignShipping, WhatsappConnection, db, utcnow
from zapx.db.campaign_models import Campaign
from zapx.redis import Keys

QUEUES = ("delivery", "engine")


class Clock:
    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def keys(client, redis_prefix):
    k = Keys(f"{redis_prefix}rules-{uuid.uuid4().hex[:8]}")
    yield k
    for key in client.scan_iter(match=k.prefix + "*"):
        client.delete(key)


@pytest.fixture
def world(clean_db, client, keys):
    """A company with a connection and a running campaign on it; an evaluator over them."""
    company_id = make_company("rules")
    with db.connection_context(), db.atomic():
        whatsapp = WhatsappConnection.create(company=company_id, name="wa", status="CONNECTED")
        campaign = Campaign.create(
            company=company_id,
            name="c",
            status="EM_ANDAMENTO",
            whatsapp=whatsapp.id,
            contact_list=make_list(company_id, 1),
        )
    clock = Clock()

    def evaluator(**over) -> Evaluator:
        config = dataclasses.replace(Config(), **over)
        circuits = Circuits(client, keys, Thresholds(min_calls=5, failure_rate=0.5))
        return Evaluator(config, client, keys.of("dq"), QUEUES, circuits, now=clock)

    return company_id, whatsapp.id, campaign.id, clock, evaluator


def _alerts(rule: str) -> list[Alert]:
    with db.connection_context():
        return list(Alert.select().where(Alert.rule == rule).order_by(Alert.id))


def _kinds(events, rule=None) -> list[tuple[str, str]]:
    return [(e.kind, e.subject) for e in events if rule in (None, e.rule)]


def test_breaker_open_after_the_threshold_while_a_campaign_waits(world, client, keys):
    company_id, whatsapp_id, campaign_id, clock, evaluator = world
    ev = evaluator(alert_breaker_open_s=100)
    circuits = ev.breakers.circuits
    state, _ = circuits.report(
        company_id, whatsapp_id, campaign_id, 1, 1, Health(calls=6, failures=6, error="HTTP 503")
    )
    assert state == "open"
    assert _kinds(ev.evaluate(), "breaker_open") == []  # not open long enough
    clock.offset = 101
    assert _kinds(ev.evaluate(), "breaker_open") == [("opened", f"whatsapp:{whatsapp_id}")]
    ev.evaluate()
    (alert,) = _alerts("breaker_open")
    assert alert.company_id == company_id and alert.severity == "critical"
    assert alert.occurrences == 2 and alert.value >= 100 and "HTTP 503" in alert.message
    # The campaign stops: no campaign waits on the connection, the alert resolves.
    with db.connection_context():
        Campaign.update(status="FINALIZADA").execute()
    assert _kinds(ev.evaluate(), "breaker_open") == [("resolved", f"whatsapp:{whatsapp_id}")]


def test_a_flapping_breaker_is_timed_from_when_it_was_first_seen(world):
    company_id, whatsapp_id, campaign_id, clock, evaluator = world
    ev = evaluator(alert_breaker_open_s=50)
    circuits = ev.breakers.circuits
    circuits.report(company_id, whatsapp_id, campaign_id, 1, 1, Health(calls=6, failures=6))
    ev.evaluate()
    first = ev.breakers.first_seen[(company_id, f"whatsapp:{whatsapp_id}")]
    clock.offset = 60  # meanwhile it re-opened: its ``since`` is later, the episode is not
    key = circuits.keys.of(f"{{c{company_id}}}", "breaker", "whatsapp", whatsapp_id)
    circuits.redis.hset(key, "since", time.time() + 55)
    assert _kinds(ev.evaluate(), "breaker_open") == [("opened", f"whatsapp:{whatsapp_id}")]
    assert ev.breakers.first_seen[(company_id, f"whatsapp:{whatsapp_id}")] == first


def _seed_queue(client, keys, queue: str, ages_s: list[float], dead_ago_s: list[float]):
    ns = keys.of("dq")
    now_ms = time.time() * 1000
    for i, age in enumerate(ages_s):
        body = json.dumps({"message_id": f"m{i}", "message_timestamp": now_ms - age * 1000})
        client.rpush(f"{ns}:{queue}", f"m{i}")
        client.hset(f"{ns}:{queue}.msgs", f"m{i}", body)
    for i, ago in enumerate(dead_ago_s):
        client.zadd(f"{ns}:{queue}.XQ", {f"d{i}": now_ms - ago * 1000})


def test_queue_stale_and_dead_letters_are_system_alerts(world, client, keys):
    ev = world[4](alert_queue_age_s=60, alert_dead_letters_min=2, alert_dead_letters_window_s=600)
    _seed_queue(client, keys, "delivery", [90, 5], dead_ago_s=[30, 100, 5000])
    _seed_queue(client, keys, "engine", [10], dead_ago_s=[30])
    events = ev.evaluate()
    assert _kinds(events, "queue_stale") == [("opened", "queue:delivery")]
    assert _kinds(events, "dead_letters_growing") == [("opened", "queue:delivery")]
    (stale,) = _alerts("queue_stale")
    (dead,) = _alerts("dead_letters_growing")
    assert stale.company_id is None and 89 <= stale.value <= 95 and stale.threshold == 60
    assert dead.company_id is None and dead.value == 2  # the one of 5,000 s ago is outside
    # The queues are drained, the dead letters age out of the window: both resolve.
    client.delete(*(f"{keys.of('dq')}:{q}" for q in QUEUES))
    ev.now = lambda: time.time() + 700
    events = ev.evaluate()
    assert sorted(_kinds(events)) == [("resolved", "queue:delivery")] * 2


def _seed_batch(company_id, whatsapp_id, campaign_id, statuses: list[str]) -> None:
    with db.connection_context(), db.atomic():
        batch = CampaignBatch.create(
            campaign=campaign_id,
            company_id=company_id,
            whatsapp_id=whatsapp_id,
            status="done",
            size=len(statuses),
            done_at=utcnow(),
        )
        start = CampaignShipping.select().count()
        for i, status in enumerate(statuses):
            CampaignShipping.create(
                campaign=campaign_id,
                company_id=company_id,
                contact_id=start + i + 1,
                number=f"5511{start + i:09d}",
                status=status,
                batch_id=batch.id,
            )


def test_campaign_error_rate_needs_the_sample_and_resolves_when_the_campaign_stops(world):
    company_id, whatsapp_id, campaign_id, _, evaluator = world
    ev = evaluator(alert_error_rate=0.3, alert_error_min_sample=20, alert_error_window_s=600)
    _seed_batch(company_id, whatsapp_id, campaign_id, ["failed"] * 8 + ["sent"] * 4)
    assert _kinds(ev.evaluate(), "campaign_error_rate") == []  # 12 rows: under the sample
    _seed_batch(company_id, whatsapp_id, campaign_id, ["failed"] * 2 + ["delivered"] * 8)
    events = ev.evaluate()
    assert _kinds(events, "campaign_error_rate") == [("opened", f"campaign:{campaign_id}")]
    (alert,) = _alerts("campaign_error_rate")
    assert alert.value == round(10 / 22, 4) and alert.company_id == company_id
    assert "10 of 22 sends failed" in alert.message
    # Rows given back (pending, no batch) are not attempts; the rate holds: touched.
    ev.evaluate()
    assert _alerts("campaign_error_rate")[0].occurrences == 2
    with db.connection_context():
        Campaign.update(status="PAUSADA").execute()
    assert _kinds(ev.evaluate(), "campaign_error_rate") == [("resolved", f"campaign:{campaign_id}")]


def test_campaign_error_rate_below_the_threshold_resolves(world):
    company_id, whatsapp_id, campaign_id, _, evaluator = world
    ev = evaluator(alert_error_rate=0.5, alert_error_min_sample=4)
    _seed_batch(company_id, whatsapp_id, campaign_id, ["failed"] * 3 + ["sent"])
    assert _kinds(ev.evaluate(), "campaign_error_rate") == [("opened", f"campaign:{campaign_id}")]
    _seed_batch(company_id, whatsapp_id, campaign_id, ["sent"] * 8)  # 3 of 12
    assert _kinds(ev.evaluate(), "campaign_error_rate") == [("resolved", f"campaign:{campaign_id}")]


class _Memory:
    """The real client, but ``INFO memory`` says what the test wants (the shared Redis's own
    maxmemory is not the test's to change)."""

    def __init__(self, client, used=0, maxmemory=0, fail=False):
        self.client, self.used, self.maxmemory, self.fail = client, used, maxmemory, fail

    def info(self, section=None):
        if self.fail:
            raise redis.ResponseError("ERR unknown command 'INFO'")  # a managed Redis
        return {"used_memory": self.used, "maxmemory": self.maxmemory}

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_redis_memory_high_and_a_failing_signal_changes_nothing(world, client, caplog):
    ev = world[4](alert_redis_memory_ratio=0.8)
    memory = _Memory(client, used=85, maxmemory=100)
    ev.redis = memory
    assert _kinds(ev.evaluate(), "redis_memory_high") == [("opened", "redis")]
    (alert,) = _alerts("redis_memory_high")
    assert (alert.company_id, alert.value, alert.threshold) == (None, 0.85, 0.8)
    memory.fail = True
    for _ in range(3):
        assert _kinds(ev.evaluate(), "redis_memory_high") == []  # kept open, not resolved
    assert _alerts("redis_memory_high")[0].status == "open"
    failed = [r for r in caplog.records if r.getMessage() == "alert rule failed"]
    assert len(failed) == 1 and failed[0].rule == "redis_memory_high"  # once, not per run
    memory.fail, memory.maxmemory = False, 0  # no maxmemory: never an alert
    assert _kinds(ev.evaluate(), "redis_memory_high") == [("resolved", "redis")]


def test_connection_down_only_for_a_connection_a_campaign_uses(world):
    company_id, whatsapp_id, campaign_id, _, evaluator = world
    ev = evaluator(alert_connection_down_s=0)
    with db.connection_context():
        WhatsappConnection.update(status="DISCONNECTED").execute()
        idle = WhatsappConnection.create(company=company_id, name="idle", status="DISCONNECTED")
    assert _kinds(ev.evaluate(), "connection_down") == [("opened", f"whatsapp:{whatsapp_id}")]
    assert f"whatsapp:{idle.id}" not in {a.subject for a in _alerts("connection_down")}
    with db.connection_context():
        Campaign.update(status="CANCELADA").execute()
    assert _kinds(ev.evaluate(), "connection_down") == [("resolved", f"whatsapp:{whatsapp_id}")]
