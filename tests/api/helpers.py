"""Helpers shared by the API tests: error-body checks, database snapshots, seeding by API."""

from __future__ import annotations

import itertools

import falcon.testing

from api import Deps, create_app
from zapx.db import MODELS, db
from zapx.redis import get_redis

ERROR_KEYS = {"error", "message", "field"}
_numbers = itertools.count(1)


def phone() -> str:
    """A fresh valid Brazilian mobile number as people write it (DDD 11 + 9 digits)."""
    return f"119{next(_numbers):08d}"


def normalized(number: str) -> str:
    """What the API stores for a number made by :func:`phone`."""
    return "55" + number


def assert_error(resp, status: int, code: str | None = None, *, field=..., contains=None) -> dict:
    """``resp`` is ``status`` with the JSON error shape ``{error, message, field}``."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    body = resp.json
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, resp.text
    assert isinstance(body["error"], str) and body["error"].startswith("ERR_"), body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert body["field"] is None or isinstance(body["field"], str), body
    if code is not None:
        assert body["error"] == code, body
    if field is not ...:
        assert body["field"] == field, body
    for part in [contains] if isinstance(contains, str) else contains or ():
        assert part.lower() in body["message"].lower(), body
    return body


def fresh_client(config) -> falcon.testing.TestClient:
    """A new app instance with its own token-version cache, like another gunicorn worker."""
    deps = Deps(config=config, redis=get_redis(config.redis_url))
    return falcon.testing.TestClient(create_app(deps))


def snapshot() -> dict[str, list[dict]]:
    """Every row of every table, ordered by id: equal snapshots mean nothing was written."""
    with db.connection_context():
        return {m._meta.table_name: list(m.select().order_by(m.id).dicts()) for m in MODELS}


def counts() -> dict[str, int]:
    with db.connection_context():
        return {m._meta.table_name: m.select().count() for m in MODELS}


def row(model, object_id: int) -> dict | None:
    """One row as a dict (all columns, secrets included), or None when it does not exist."""
    with db.connection_context():
        return model.select().where(model.id == object_id).dicts().first()


def created(resp) -> dict:
    assert resp.status_code == 201, resp.text
    return resp.json


def seed(client, acct, tag: str) -> dict:
    """Through the API, one of each object in ``acct``'s company; returns their JSON by kind.

    ``tag`` goes into every name so a search can tell companies apart.
    """
    h = acct.headers
    out = {}
    out["contact"] = created(
        client.simulate_post(
            "/contacts", json={"name": f"Contact {tag}", "number": phone()}, headers=h
        )
    )
    out["list"] = created(
        client.simulate_post("/contact-lists", json={"name": f"List {tag}"}, headers=h)
    )
    out["item"] = created(
        client.simulate_post(
            "/contact-list-items",
            json={
                "name": f"Item {tag}",
                "number": phone(),
                "contactListId": out["list"]["id"],
            },
            headers=h,
        )
    )
    out["whatsapp"] = created(
        client.simulate_post(
            "/whatsapps",
            json={
                "name": f"Whats {tag}",
                "provider": "cloud",
                "settings": {
                    "phoneNumberId": f"pn-{tag}",
                    "accessToken": f"token-{tag}",
                    "appSecret": f"secret-{tag}",
                },
            },
            headers=h,
        )
    )
    out["user"] = created(
        client.simulate_post(
            "/users",
            json={
                "name": f"Member {tag}",
                "email": f"member-{tag}@example.test",
                "password": "member-password",
                "profile": "user",
            },
            headers=h,
        )
    )
    return out
