"""API-test fixtures: a clean query cache and clean login counters for every test, and the
app's ``/openapi.json`` (``spec``).

``clean_db`` restarts the id sequences after each test, so the next test's company 1 is another
company than this one's. The query cache (``zapx.cache``) keys entries by company id, which real
ids never reuse; here the entries must go with the rows. Every test client calls from the same
address, so the failed-login counters (``zapx.login_limits``) would add up over the session.
"""

from __future__ import annotations

import pytest

from zapx.redis import get_redis


def _drop_cache_keys(redis_url: str, prefix: str) -> None:
    client = get_redis(redis_url)
    for pattern in ("cache:*", "{login}:*"):
        keys = list(client.scan_iter(match=prefix + pattern, count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _clean_query_cache(redis_url, redis_prefix):
    _drop_cache_keys(redis_url, redis_prefix)
    yield
    _drop_cache_keys(redis_url, redis_prefix)


@pytest.fixture
def spec(client):
    resp = client.simulate_get("/openapi.json")  # public: no token
    assert resp.status_code == 200, resp.text
    return resp.json
