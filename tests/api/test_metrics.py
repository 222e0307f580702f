"""``GET /metrics`` through the Falcon app: who may read it, and what the page holds (the
scrape-time figures of PostgreSQL and Redis, every family checked by ``promtool``)."""

from __future__ import annotations

import dataclasses
import re
import subprocess

import falcon.testing

from api import Deps, create_app
from tests.api.helpers import assert_error
from zapx import metrics
from zapx.cache import stats_key
from zapx.db import Campaign, WhatsappConnection, db
from zapx.redis import get_redis

TOKEN = "m" * 40


def _client(config, **fields) -> falcon.testing.TestClient:
    cfg = dataclasses.replace(config, **fields)
    return falcon.testing.TestClient(create_app(Deps(config=cfg, redis=get_redis(cfg.redis_url))))


def _samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def test_without_a_token_or_a_bind_metrics_is_not_served(client):
    resp = client.simulate_get("/metrics")
    assert_error(resp, 404, "ERR_NOT_FOUND", contains="not served on this address")
    assert "zapx_" not in resp.text


def test_a_token_opens_it_and_nothing_else_does(config, clean_db, alice):
    client = _client(config, metrics_token=TOKEN)
    missing = client.simulate_get("/metrics")
    assert_error(missing, 401, "ERR_METRICS_TOKEN", contains="bearer token")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in ("Bearer " + "x" * 40, "Bearer " + TOKEN[:-1], "Basic " + TOKEN, TOKEN):
        resp = client.simulate_get("/metrics", headers={"Authorization": wrong})
        assert_error(resp, 401, "ERR_METRICS_TOKEN")
        assert "zapx_" not in resp.text
    # A user's JWT is not the metrics token.
    assert client.simulate_get("/metrics", headers=alice.headers).status_code == 401
    ok = client.simulate_get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert ok.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE zapx_queue_depth gauge" in ok.text


def test_the_page_counts_campaigns_connections_cache_and_redis(config, clean_db, alice, bob):
    client = _client(config, metrics_token=TOKEN)
    with db.connection_context():
        for account, n in ((alice, 2), (bob, 1)):
            wa = WhatsappConnection.create(
                company=account.company_id, name=f"wa{n}", provider="sandbox", status="CONNECTED"
            )
            for i in range(n):
                Campaign.create(
                    company=account.company_id, name=f"c{i}", whatsapp=wa, status="PAUSADA"
                )
    redis = get_redis(config.redis_url)
    redis.hset(
        stats_key(config.redis_prefix),
        mapping={"reports:hit": 7, "reports:miss": 3, "reports:invalidation": 2},
    )
    page = client.simulate_get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    got = _samples(page)
    assert got['zapx_campaigns{status="PAUSADA"}'] == 3  # both companies, one figure
    assert got['zapx_campaigns{status="EM_ANDAMENTO"}'] == 0
    assert got['zapx_connections{state="CONNECTED"}'] == 2
    assert got['zapx_cache_requests_total{namespace="reports",result="hit"}'] == 7
    assert got['zapx_cache_requests_total{namespace="reports",result="miss"}'] == 3
    assert got['zapx_cache_invalidations_total{namespace="reports"}'] == 2
    assert got["zapx_redis_used_memory_bytes"] > 0
    assert 'zapx_queue_depth{queue="delivery"}' in got
    assert got['zapx_breakers{kind="whatsapp",state="open"}'] == 0
    assert got['zapx_breakers{kind="postgres",state="closed"}'] >= 0  # merged into one family
    assert page.count("# TYPE zapx_breakers gauge") == 1
    assert all(v == 1 for k, v in got.items() if k.startswith("zapx_scrape_source_up"))
    # No label whose values grow with the tenants.
    ours = "\n".join(line for line in page.splitlines() if line.startswith("zapx_"))
    labels = set(re.findall(r"[{,]([a-z_]+)=", ours))
    assert not labels & {"company", "company_id", "campaign", "campaign_id", "whatsapp_id"}
    assert labels <= metrics.LABELS, labels - metrics.LABELS


def test_a_dead_source_is_left_out_not_a_500(config, clean_db, monkeypatch):
    client = _client(config, metrics_token=TOKEN)

    def down(self):
        raise ConnectionError("redis gone")

    monkeypatch.setattr(metrics.ScrapeCollector, "_redis_memory", down)
    resp = client.simulate_get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200
    got = _samples(resp.text)
    assert got['zapx_scrape_source_up{source="redis"}'] == 0
    assert got['zapx_scrape_source_up{source="database"}'] == 1
    assert "zapx_redis_used_memory_bytes" not in got


def test_the_page_passes_promtool(config, clean_db):
    metrics.message("sandbox", "sent", None, 0.02)
    metrics.message("cloud", "failed", "131026", 0.1)
    metrics.delay("rate limit contact", 0.5)
    metrics.step("claim", 0.003)
    client = _client(config, metrics_token=TOKEN)
    page = client.simulate_get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    # promtool: installed by scripts/test (scripts/lib.sh, ensure_promtool).
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=page, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
