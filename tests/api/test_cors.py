"""CORS for the frontend's origins (FRONTEND_URL): what a browser needs, nothing for others."""

from __future__ import annotations

import dataclasses

import falcon.testing
import pytest

from api import Deps, create_app
from api.app import routes
from zapx.redis import get_redis

FRONT = "https://app.example.com"
OTHER = "https://evil.example.net"
#: What the frontend's preflights ask (axios with withCredentials, JSON bodies, a Bearer token).
PREFLIGHT = {"Access-Control-Request-Headers": "authorization,content-type"}


@pytest.fixture
def cors_client(config, clean_db):
    cfg = dataclasses.replace(
        config, frontend_origins=(FRONT, "http://localhost:3000"), cors_max_age_s=600
    )
    return falcon.testing.TestClient(create_app(Deps(config=cfg, redis=get_redis(cfg.redis_url))))


def _preflight(client, path: str, origin: str, method: str = "GET"):
    headers = {"Origin": origin, "Access-Control-Request-Method": method, **PREFLIGHT}
    return client.simulate_options(path, headers=headers)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/campaigns", "GET"),  # authenticated: answered before authentication, no token
        ("/campaigns/7", "PUT"),
        ("/contact-lists/3/upload", "POST"),
        ("/auth/login", "POST"),  # public
    ],
)
def test_a_preflight_from_the_frontend_is_allowed_with_credentials(cors_client, path, method):
    resp = _preflight(cors_client, path, FRONT, method)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == FRONT
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert method in resp.headers["Access-Control-Allow-Methods"].split(", ")
    assert (
        resp.headers["Access-Control-Allow-Headers"] == PREFLIGHT["Access-Control-Request-Headers"]
    )
    assert resp.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in resp.headers["Vary"]


def test_a_preflight_from_another_origin_gets_no_cors_headers(cors_client):
    resp = _preflight(cors_client, "/campaigns", OTHER)
    assert not [h for h in resp.headers if h.lower().startswith("access-control-")]
    # without the middleware's answer the browser refuses; the app reveals nothing more
    assert resp.text == ""


def test_an_answer_to_the_frontend_names_its_exact_origin(cors_client, account):
    acct = account("acme")
    resp = cors_client.simulate_get(
        "/contact-lists", headers=acct.headers | {"Origin": "http://localhost:3000"}
    )
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"  # never *
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    exposed = resp.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"X-Request-Id", "Retry-After"} <= set(exposed)
    # the same call from another origin: the browser gets nothing it could read
    other = cors_client.simulate_get("/contact-lists", headers=acct.headers | {"Origin": OTHER})
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other.headers


def test_errors_carry_the_headers_too_so_the_page_sees_401(cors_client):
    # The frontend logs out on 401 and refreshes its token on 403: it must be able to read them.
    resp = cors_client.simulate_get("/campaigns", headers={"Origin": FRONT})
    assert resp.status_code == 401
    assert resp.headers["Access-Control-Allow-Origin"] == FRONT
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_letting_preflights_through_opens_no_real_method(cors_client, method):
    headers = {"Origin": FRONT, "Access-Control-Request-Method": method, **PREFLIGHT}
    resp = cors_client.simulate_request(method, "/campaigns/1", headers=headers)
    assert resp.status_code == 401


def test_no_route_has_a_responder_of_its_own_for_options(config):
    # The auth middleware lets OPTIONS through because Falcon's default responder only lists
    # the route's methods; a resource's own on_options would run without authentication.
    deps = Deps(config=config, redis=get_redis(config.redis_url))
    for template, resource, suffix in routes(deps):
        name = "on_options" + (f"_{suffix}" if suffix else "")
        assert not hasattr(resource, name), f"{template} defines {name}"


def test_without_frontend_url_no_origin_is_allowed(client):
    resp = _preflight(client, "/auth/login", FRONT, "POST")
    assert "Access-Control-Allow-Origin" not in resp.headers
