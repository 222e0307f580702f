"""The query cache behind ``GET /campaigns/{id}/report``: fresh after every path that changes
a report (a worker recording a batch, webhook statuses and replies, the engine's lease sweep and
status changes, the API's commands), the same bytes as without the cache, ``waitingBecause``
read fresh on a hit, a TTL per entry, and another company's writes never touching the entry."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import json

import falcon.testing
import pytest

from actors import delivery
from api import Deps, create_app
from tests.api.cache_probe import counts, delta, fresh_after_write, get
from tests.api.helpers import assert_error
from zapx import cache
from zapx.campaigns import batches, flags
from zapx.db import Campaign, CampaignShipping, WhatsappConnection, db, utcnow
from zapx.engine.duties import Duties
from zapx.engine.messages import Outcome
from zapx.engine.runflags import RunFlags
from zapx.redis import Keys, get_redis

SECRET = "app-secret-123"


@dataclasses.dataclass
class Shop:
    campaign_id: int
    whatsapp_id: int
    phone_id: str


def _campaign(acct, phone_id: str, *, sent: int = 3, pending: int = 4) -> Shop:
    """A running campaign of ``acct`` on a Cloud connection: ``sent`` rows sent (wamid.<phone
    id>.<n>), one awaiting a confirmation reply, ``pending`` rows pending."""
    with db.connection_context(), db.atomic():
        wa = WhatsappConnection.create(
            company=acct.company_id,
            name=f"cloud {phone_id}",
            provider="cloud",
            settings={"phoneNumberId": phone_id, "accessToken": "t", "appSecret": SECRET},
        )
        now = utcnow()
        campaign = Campaign.create(
            company=acct.company_id,
            name="c1",
            status="EM_ANDAMENTO",
            whatsapp=wa.id,
            confirmation=True,
            started_at=now - datetime.timedelta(minutes=5),
        )
        rows = [("sent", f"wamid.{phone_id}.{i}", now) for i in range(sent)]
        rows += [("awaiting", f"wamid.{phone_id}.a", now)] + [("pending", None, None)] * pending
        for i, (status, mid, at) in enumerate(rows):
            CampaignShipping.create(
                campaign=campaign.id,
                company_id=acct.company_id,
                contact_id=i + 1,
                number=f"55119999{acct.company_id:02d}{i:03d}",
                status=status,
                provider_message_id=mid,
                sent_at=at,
            )
    return Shop(campaign.id, wa.id, phone_id)


def _path(shop: Shop) -> str:
    return f"/campaigns/{shop.campaign_id}/report"


def _webhook(client, phone_id: str, *, statuses=(), replies=()):
    value = {"metadata": {"phone_number_id": phone_id}}
    if statuses:
        value["statuses"] = [
            {"id": mid, "status": s, "timestamp": str(1_790_000_000 + n)}
            for n, (mid, s) in enumerate(statuses)
        ]
    if replies:
        value["messages"] = [
            {"from": number, "id": f"wamid.in.{n}", "type": "text", "text": {"body": "sim"}}
            for n, number in enumerate(replies)
        ]
        value["contacts"] = [{"wa_id": number} for number in replies]
    raw = json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}
    ).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    resp = client.simulate_post(
        "/webhooks/cloud",
        body=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig},
    )
    assert resp.status_code == 200, resp.text
    return resp.json


@pytest.fixture
def worker(monkeypatch):
    """The delivery actor's own claim-send-record path, with a provider that sends every row
    (``sent``) and the engine's queue left out."""
    told = []

    def send(claim, ctx=None, *, yields=False):
        return object(), [Outcome(r.id, "sent", f"wamid.w.{r.id}", None, "Oi") for r in claim.rows]

    monkeypatch.setattr(delivery, "_send", send)
    monkeypatch.setattr(delivery, "send_command", told.append)
    return told


def _plan(shop: Shop, acct, size: int) -> int:
    with db.connection_context():
        planned = batches.plan_batch(
            shop.campaign_id, acct.company_id, shop.whatsapp_id, 0, [[0.0, 0.0]] * size
        )
    assert planned is not None and planned[1] == size
    return planned[0]


def test_a_batch_recorded_by_a_worker_is_in_the_next_report(client, config, alice, worker):
    shop = _campaign(alice, "PN1")
    batch_id = _plan(shop, alice, 3)  # pending -> queued (before the reads: not bumped)

    before, after = fresh_after_write(
        client,
        config,
        alice,
        cache.REPORTS,
        _path(shop),
        lambda: delivery._claim_and_send(batch_id, alice.company_id, "delivery"),
    )
    assert len(worker) == 1  # the batch went through the actor's whole path
    assert (before["counts"]["sent"], before["counts"]["queued"]) == (3, 3)
    assert (after["counts"]["sent"], after["counts"]["queued"]) == (6, 0)
    assert after["sent"] == before["sent"] + 3


def test_the_batch_record_bumps_in_the_progress_round_trip(config, alice, monkeypatch):
    """One pipeline: the progress's DEL and the bump go together (no extra round trip)."""
    client, keys = get_redis(config.redis_url), Keys(config.redis_prefix)
    calls = []
    real = type(client.pipeline())

    class Counting(real):
        def execute(self, *args, **kwargs):
            calls.append([c[0][0] for c in self.command_stack])
            return super().execute(*args, **kwargs)

    monkeypatch.setattr(
        client,
        "pipeline",
        lambda transaction=True: Counting(
            client.connection_pool, client.response_callbacks, transaction, None
        ),
    )
    version = cache.version_key(config.redis_prefix, alice.company_id, cache.REPORTS)
    flags.mark_claiming(client, keys, alice.company_id, 77, 60)
    flags.batch_recorded(client, keys, alice.company_id, 77)
    assert calls == [["DEL", "INCRBY", "HINCRBY", "HINCRBY"]]  # redis-py sends INCR as INCRBY
    assert client.get(version) == b"1"
    assert flags.batch_progress(client, keys, [(77, alice.company_id)]) == {}


@pytest.mark.parametrize("status", ["delivered", "read"])
def test_webhook_statuses_are_in_the_next_report(client, config, alice, status):
    shop = _campaign(alice, "PN1")
    before, after = fresh_after_write(
        client,
        config,
        alice,
        cache.REPORTS,
        _path(shop),
        lambda: _webhook(
            client, "PN1", statuses=[("wamid.PN1.0", status), ("wamid.PN1.1", status)]
        ),
    )
    assert (before["counts"][status], after["counts"][status]) == (0, 2)
    assert (before["delivered"], after["delivered"]) == (0, 2)


def test_a_confirmation_reply_is_in_the_next_report(client, config, alice):
    shop = _campaign(alice, "PN1")
    number = f"55119999{alice.company_id:02d}003"  # the awaiting row

    before, after = fresh_after_write(
        client,
        config,
        alice,
        cache.REPORTS,
        _path(shop),
        lambda: _webhook(client, "PN1", replies=[number]),
    )
    assert (before["counts"]["awaiting"], after["counts"]["awaiting"]) == (1, 0)
    assert after["counts"]["pending"] == before["counts"]["pending"] + 1
    assert after["confirmations"] == before["confirmations"] + 1


def test_the_engine_sweep_of_an_expired_lease_is_in_the_next_report(client, config, alice):
    shop = _campaign(alice, "PN1")
    batch_id = _plan(shop, alice, 2)
    with db.connection_context():
        assert batches.claim_batch(batch_id, 0.0) is not None  # its worker died at once
    duties = Duties(
        config, outbox=None, flags=RunFlags(get_redis(config.redis_url), Keys(config.redis_prefix))
    )

    def sweep():
        with db.connection_context():
            assert duties.sweep() == [(alice.company_id, shop.campaign_id)]

    before, after = fresh_after_write(client, config, alice, cache.REPORTS, _path(shop), sweep)
    assert (before["counts"]["sending"], after["counts"]["sending"]) == (2, 0)
    assert after["counts"]["unknown"] == 2  # no progress mark: they may have left


@pytest.mark.parametrize("command", ["pause", "cancel"])
def test_a_command_is_in_the_next_report(client, config, alice, command):
    """A status change needs no bump: the campaign's fields are the entry's key."""
    shop = _campaign(alice, "PN1")
    _plan(shop, alice, 2)

    def do():
        resp = client.simulate_post(
            f"/campaigns/{shop.campaign_id}/{command}", headers=alice.headers
        )
        assert resp.status_code == 204, resp.text

    before, after = fresh_after_write(
        client, config, alice, cache.REPORTS, _path(shop), do, bumps=False
    )
    assert before["status"] == "EM_ANDAMENTO"
    assert after["status"] == {"pause": "PAUSADA", "cancel": "CANCELADA"}[command]
    if command == "cancel":  # queued rows went back to pending in the same transaction
        assert (before["counts"]["queued"], after["counts"]["queued"]) == (2, 0)
    else:
        assert after["pauseReason"] == "paused by a user"


def test_the_engine_finishing_a_campaign_is_in_the_next_report(client, config, alice):
    shop = _campaign(alice, "PN1", pending=0)

    def finish():  # the engine's own statement (zapx/engine/lifecycle.py)
        with db.connection_context():
            Campaign.update(status="FINALIZADA", completed_at=utcnow(), updated_at=utcnow()).where(
                Campaign.id == shop.campaign_id
            ).execute()

    before, after = fresh_after_write(
        client, config, alice, cache.REPORTS, _path(shop), finish, bumps=False
    )
    assert (before["status"], after["status"]) == ("EM_ANDAMENTO", "FINALIZADA")
    assert before["completedAt"] is None and after["completedAt"] is not None


def test_waiting_because_is_read_fresh_on_a_hit(client, config, alice):
    shop = _campaign(alice, "PN1")
    first = get(client, alice, _path(shop)).json
    flags.note_waiting(
        get_redis(config.redis_url), Keys(config.redis_prefix), shop.campaign_id, "daily limit", 30
    )
    before = counts(config, alice.company_id, cache.REPORTS)
    second = get(client, alice, _path(shop)).json
    assert delta(before, counts(config, alice.company_id, cache.REPORTS))[:2] == (1, 0)
    assert (first["waitingBecause"], second["waitingBecause"]) == (None, "daily limit")
    assert {k: v for k, v in first.items() if k != "waitingBecause"} == {
        k: v for k, v in second.items() if k != "waitingBecause"
    }


def test_cached_bytes_equal_the_uncached_answer_and_each_entry_has_its_ttl(client, config, alice):
    running = _campaign(alice, "PN1")
    paused = _campaign(alice, "PN2")
    client.simulate_post(f"/campaigns/{paused.campaign_id}/pause", headers=alice.headers)
    uncached = falcon.testing.TestClient(
        create_app(
            Deps(
                config=dataclasses.replace(config, query_cache_ttl_s=0),
                redis=get_redis(config.redis_url),
            )
        )
    )
    path = _path(paused)
    get(client, alice, path)
    assert get(client, alice, path).content == get(uncached, alice, path).content
    get(client, alice, _path(running))
    redis = get_redis(config.redis_url)
    ttls = {}
    for key in redis.scan_iter(match=f"{config.redis_prefix}cache:{alice.company_id}:reports:*"):
        if not key.endswith(b":v"):
            ttls[redis.get(key).count(b"PAUSADA")] = redis.ttl(key)
    # The running one's rate and end depend on "now": the short TTL; the paused one's do not.
    assert 0 < ttls[0] <= config.query_cache_report_ttl_s
    assert config.query_cache_report_ttl_s < ttls[1] <= config.query_cache_ttl_s


def test_another_company_never_invalidates_nor_reads_the_report(client, config, alice, bob, worker):
    mine, theirs = _campaign(alice, "PN1"), _campaign(bob, "PN9")
    batch_id = _plan(theirs, bob, 2)
    warm = get(client, alice, _path(mine)).content
    before = counts(config, alice.company_id, cache.REPORTS)
    assert_error(client.simulate_get(_path(mine), headers=bob.headers), 404)
    get(client, bob, _path(theirs))
    _webhook(client, "PN9", statuses=[("wamid.PN9.0", "read")])
    _webhook(client, "PN9", statuses=[("wamid.PN1.0", "read")])  # alice's id, bob's signer
    delivery._claim_and_send(batch_id, bob.company_id, "delivery")
    client.simulate_post(f"/campaigns/{theirs.campaign_id}/pause", headers=bob.headers)
    client.simulate_delete("/cache", headers=bob.headers)
    assert get(client, alice, _path(mine)).content == warm
    assert delta(before, counts(config, alice.company_id, cache.REPORTS)) == (1, 0, 0)
    assert json.loads(warm)["counts"]["read"] == 0
