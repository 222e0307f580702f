"""The query cache behind ``GET /contacts``: hits, invalidation by every write, tenants, TTL,
and Redis down (the page still comes from PostgreSQL)."""

from __future__ import annotations

import dataclasses
import socket
import time

import falcon.testing
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from api import Deps, create_app
from tests.api.helpers import phone
from zapx import cache
from zapx.contacts import CONTACTS_NAMESPACE
from zapx.db import Contact, db
from zapx.redis import get_redis


def _create(client, acct, **fields):
    resp = client.simulate_post(
        "/contacts", json={"name": "Someone", "number": phone()} | fields, headers=acct.headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json


def _page(client, acct, term, number=1):
    resp = client.simulate_get(
        "/contacts", params={"searchParam": term, "pageNumber": number}, headers=acct.headers
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    return resp.json


def _names(page):
    return [r["name"] for r in page["contacts"]]


def _rename_behind_the_api(contact_id, name):
    """A change the API does not see (so nothing bumps): shows what the cache serves."""
    with db.connection_context():
        Contact.update(name=name).where(Contact.id == contact_id).execute()


def _stats(config):
    return cache.stats(get_redis(config.redis_url), config.redis_prefix).get(
        CONTACTS_NAMESPACE, {"hit": 0, "miss": 0}
    )


def _app_client(config, **changes):
    deps = Deps(config=dataclasses.replace(config, **changes), redis=get_redis(config.redis_url))
    return falcon.testing.TestClient(create_app(deps))


def test_second_read_is_a_hit_with_the_same_body(client, alice, config):
    _create(client, alice, name="Maria Silva")
    _create(client, alice, name="Mariana Souza")
    before = _stats(config)
    first = client.simulate_get("/contacts", params={"searchParam": "maria"}, headers=alice.headers)
    second = client.simulate_get(
        "/contacts", params={"searchParam": " MARIA ", "pageNumber": "1"}, headers=alice.headers
    )
    assert first.content == second.content  # the same entry: the term is matched folded
    assert first.json["count"] == 2 and first.json["hasMore"] is False
    after = _stats(config)
    assert (after["hit"] - before["hit"], after["miss"] - before["miss"]) == (1, 1)


def test_cached_bytes_equal_the_uncached_response(client, alice, config):
    for name in ("José Silva", "Joseane Lima", "Ana Josefa", "Zé Silva"):
        _create(client, alice, name=name, extraInfo=[{"name": "bloco", "value": "B"}])
    uncached = _app_client(config, query_cache_ttl_s=0)
    for term, number in (("jose", 1), ("silva", 1), ("", 1), ("zz", 1), ("jose", 2)):
        params = {"searchParam": term, "pageNumber": number}
        hit = [client.simulate_get("/contacts", params=params, headers=alice.headers)]
        hit.append(client.simulate_get("/contacts", params=params, headers=alice.headers))
        plain = uncached.simulate_get("/contacts", params=params, headers=alice.headers)
        assert hit[0].content == hit[1].content == plain.content


def test_the_cache_serves_until_a_write_bumps_it(client, alice):
    maria = _create(client, alice, name="Maria Silva")
    assert _names(_page(client, alice, "maria")) == ["Maria Silva"]
    _rename_behind_the_api(maria["id"], "Maria Changed")
    assert _names(_page(client, alice, "maria")) == ["Maria Silva"]  # served from the cache
    _create(client, alice, name="Someone Else")  # any write to the company's contacts
    assert _names(_page(client, alice, "maria")) == ["Maria Changed"]


def test_create_update_delete_are_seen_by_the_next_read(client, alice):
    _create(client, alice, name="Maria Silva")
    assert _page(client, alice, "maria")["count"] == 1
    assert _page(client, alice, "")["count"] == 1

    created = _create(client, alice, name="Maria Souza")
    page = _page(client, alice, "maria")
    assert page["count"] == 2 and _names(page) == ["Maria Silva", "Maria Souza"]
    assert _page(client, alice, "")["count"] == 2

    url = f"/contacts/{created['id']}"
    resp = client.simulate_put(url, json={"name": "Ana Souza"}, headers=alice.headers)
    assert resp.status_code == 200
    assert _names(_page(client, alice, "maria")) == ["Maria Silva"]
    assert _names(_page(client, alice, "souza")) == ["Ana Souza"]

    assert client.simulate_delete(url, headers=alice.headers).status_code == 204
    assert _page(client, alice, "souza")["count"] == 0
    assert _page(client, alice, "")["count"] == 1


def test_a_failed_write_changes_nothing_and_pages_stay_right(client, alice):
    taken = _create(client, alice, name="Maria Silva")
    assert _page(client, alice, "maria")["count"] == 1
    resp = client.simulate_post(
        "/contacts", json={"name": "Maria Dup", "number": taken["number"]}, headers=alice.headers
    )
    assert resp.status_code == 409
    assert _names(_page(client, alice, "maria")) == ["Maria Silva"]


def test_companies_never_share_or_invalidate_each_others_entries(client, alice, bob, config):
    _create(client, alice, name="Maria Alice")
    bobs = _create(client, bob, name="Maria Bob")
    assert _names(_page(client, alice, "maria")) == ["Maria Alice"]
    assert _names(_page(client, bob, "maria")) == ["Maria Bob"]  # same key parts, own entry

    r = get_redis(config.redis_url)
    alice_v = cache.version_key(config.redis_prefix, alice.company_id, CONTACTS_NAMESPACE)
    version = r.get(alice_v)
    _rename_behind_the_api(bobs["id"], "Maria Bob Renamed")
    alice_first = [c for c in _page(client, alice, "maria")["contacts"]][0]
    _create(client, bob, name="Maria Bob Two")  # bob writes...
    resp = client.simulate_put(f"/contacts/{bobs['id']}", json={"cargo": "x"}, headers=bob.headers)
    assert resp.status_code == 200
    assert client.simulate_delete(f"/contacts/{bobs['id']}", headers=bob.headers).status_code == 204
    assert r.get(alice_v) == version  # ...and alice's version never moves
    before = _stats(config)
    assert _page(client, alice, "maria")["contacts"][0] == alice_first
    assert _stats(config)["hit"] == before["hit"] + 1
    assert _names(_page(client, bob, "maria")) == ["Maria Bob Two"]


def test_entries_expire_after_their_ttl(client, alice, config):
    short = _app_client(config, query_cache_ttl_s=1)
    maria = _create(client, alice, name="Maria Silva")
    assert _names(_page(short, alice, "maria")) == ["Maria Silva"]
    _rename_behind_the_api(maria["id"], "Maria Later")
    assert _names(_page(short, alice, "maria")) == ["Maria Silva"]
    time.sleep(1.1)
    assert _names(_page(short, alice, "maria")) == ["Maria Later"]


def test_cache_off_reads_postgresql_every_time(client, alice, config):
    off = _app_client(config, query_cache_ttl_s=0)
    maria = _create(client, alice, name="Maria Silva")
    assert _names(_page(off, alice, "maria")) == ["Maria Silva"]
    _rename_behind_the_api(maria["id"], "Maria Now")
    assert _names(_page(off, alice, "maria")) == ["Maria Now"]


@pytest.fixture
def redis_down():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = redis.Redis(
        port=port, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    yield client
    cache.resume(client)


def test_redis_down_pages_and_writes_still_work(client, alice, config, redis_down):
    broken = falcon.testing.TestClient(create_app(Deps(config=config, redis=redis_down)))
    _create(broken, alice, name="Maria Silva")
    for _ in range(3):  # the first read fails over Redis, the next ones skip it (paused)
        page = _page(broken, alice, "maria")
        assert page["count"] == 1 and _names(page) == ["Maria Silva"]
    created = _create(broken, alice, name="Maria Souza")
    assert _page(broken, alice, "maria")["count"] == 2
    url = f"/contacts/{created['id']}"
    assert broken.simulate_put(url, json={"name": "Ana"}, headers=alice.headers).status_code == 200
    assert broken.simulate_delete(url, headers=alice.headers).status_code == 204
    assert _page(broken, alice, "")["count"] == 1
    assert cache.stats(redis_down, config.redis_prefix)["errors"] >= 1
