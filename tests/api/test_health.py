"""``/health``: the real PostgreSQL and Redis checks, and a 503 naming the one that is down."""

from __future__ import annotations

import falcon.testing
import pytest
import redis
from playhouse.postgres_ext import PostgresqlExtDatabase

import api.middleware
import api.resources.health
from api import Deps, create_app
from tests.api.helpers import assert_error

#: Nothing listens on port 1, so connecting fails at once (connection refused).
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def dead_postgres():
    """A database object like ``zapx.db.db`` but pointing at a port where nothing listens."""
    dead = PostgresqlExtDatabase(
        "zapx", host="127.0.0.1", port=1, user="postgres", connect_timeout=1, autoconnect=False
    )
    yield dead
    dead.close()


def test_health_ok(client):
    resp = client.simulate_get("/health")  # public: no token
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgres", "redis"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert "error" not in check
        assert isinstance(check["ms"], int | float) and check["ms"] >= 0


def test_health_503_when_redis_is_down(config, clean_db):
    dead = redis.Redis.from_url(DEAD_REDIS, socket_connect_timeout=0.2)
    client = falcon.testing.TestClient(create_app(Deps(config=config, redis=dead)))
    resp = client.simulate_get("/health")
    assert resp.status_code == 503, resp.text
    body = resp.json
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["postgres"] == {"ok": True, "ms": body["checks"]["postgres"]["ms"]}


def test_health_503_when_postgres_is_down(client, dead_postgres, monkeypatch):
    # The health check runs its real query, through a connection that cannot be made.
    monkeypatch.setattr(api.resources.health, "db", dead_postgres)
    resp = client.simulate_get("/health")
    assert resp.status_code == 503, resp.text
    body = resp.json
    assert body["status"] == "unavailable"
    assert body["checks"]["postgres"]["ok"] is False
    assert body["checks"]["postgres"]["error"] == "OperationalError"
    assert body["checks"]["redis"]["ok"] is True
    # The control: the real database object answers.
    monkeypatch.undo()
    assert client.simulate_get("/health").status_code == 200


def test_both_down(config, clean_db, dead_postgres, monkeypatch):
    monkeypatch.setattr(api.resources.health, "db", dead_postgres)
    dead = redis.Redis.from_url(DEAD_REDIS, socket_connect_timeout=0.2)
    client = falcon.testing.TestClient(create_app(Deps(config=config, redis=dead)))
    body = client.simulate_get("/health").json
    assert {name: c["ok"] for name, c in body["checks"].items()} == {
        "postgres": False,
        "redis": False,
    }


def test_other_routes_answer_503_when_postgres_is_down(client, alice, dead_postgres, monkeypatch):
    """A dead database is a 503 with the error body everywhere, not a 500."""
    monkeypatch.setattr(api.middleware, "db", dead_postgres)
    resp = client.simulate_get("/contacts", headers=alice.headers)
    body = assert_error(resp, 503, "ERR_UNAVAILABLE")
    assert "unavailable" in body["message"]
    resp = client.simulate_post("/auth/login", json={"email": alice.email, "password": "x" * 8})
    assert_error(resp, 503, "ERR_UNAVAILABLE")
