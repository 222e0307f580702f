"""``/openapi.json`` documents exactly what the app serves (compared with ``falcon.inspect``)."""

from __future__ import annotations

import re

import falcon.inspect
import falcon.testing
import pytest

from api import Deps, create_app, routes
from api.openapi import build, doc
from api.resources.base import Resource
from zapx.redis import get_redis

METHODS = {"get", "post", "put", "patch", "delete"}


def served(app) -> set[tuple[str, str]]:
    """``(uri template, method)`` of every responder the app defines (Falcon's own excluded)."""
    return {
        (route.path, info.method.lower())
        for route in falcon.inspect.inspect_routes(app)
        for info in route.methods
        if not info.internal
    }


def documented(spec: dict) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def spec_gaps(app, spec: dict) -> tuple[set, set]:
    """``(served but undocumented, documented but not served)``; both empty when they agree."""
    have, docs = served(app), documented(spec)
    return have - docs, docs - have


@pytest.fixture
def deps(config):
    return Deps(config=config, redis=get_redis(config.redis_url))


def test_spec_documents_exactly_the_served_routes(app, spec):
    undocumented, unserved = spec_gaps(app, spec)
    assert undocumented == set(), f"served but not in /openapi.json: {sorted(undocumented)}"
    assert unserved == set(), f"in /openapi.json but not served: {sorted(unserved)}"
    # Not vacuous: every path family and method is there.
    have = served(app)
    assert len(have) >= 45
    assert ("/contact-list-items/{id}", "put") in have
    assert ("/whatsapp", "get") in have
    assert {m for _, m in have} == {"get", "post", "put", "delete"}


class _Undocumented(Resource):
    def on_get(self, req, resp):
        resp.media = {}

    @doc("documented")
    def on_post(self, req, resp):
        resp.media = {}


def test_the_comparison_catches_an_undocumented_responder(config, deps):
    table = routes(deps) + [("/extra", _Undocumented(deps), None)]
    app = falcon.App()
    for template, resource, suffix in table:
        app.add_route(template, resource, suffix=suffix)
    undocumented, unserved = spec_gaps(app, build(table, "test"))
    assert undocumented == {("/extra", "get")}
    assert unserved == set()


def test_the_comparison_catches_a_documented_route_that_is_not_served(app, spec):
    bogus = dict(spec, paths=spec["paths"] | {"/ghost/{id}": {"delete": {}}})
    assert spec_gaps(app, bogus) == (set(), {("/ghost/{id}", "delete")})
    missing = dict(spec, paths={k: v for k, v in spec["paths"].items() if k != "/contacts/{id}"})
    undocumented, _ = spec_gaps(app, missing)
    assert undocumented == {("/contacts/{id}", m) for m in ("get", "put", "delete")}


COMMANDS = {"pause", "resume", "cancel", "restart"}


def test_every_request_body_lists_its_properties(spec):
    bodies = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody")
            if body is None:
                # Commands (POST /campaigns/{id}/pause ...) and the refresh (its credential is
                # the cookie) carry no body; any other write does.
                command = method == "post" and path.rsplit("/", 1)[-1] in COMMANDS
                bodiless = command or (path, method) == ("/auth/refresh_token", "post")
                assert method in ("get", "delete") or bodiless, (
                    f"{method.upper()} {path} has no requestBody"
                )
                continue
            bodies += 1
            # Uploads are multipart (a file property), every other body is JSON.
            (media_type, content), *more = body["content"].items()
            assert not more, (path, method)
            schema = content["schema"]
            upload = any(p.get("format") == "binary" for p in schema["properties"].values())
            assert media_type == ("multipart/form-data" if upload else "application/json"), path
            uploads = ("upload", "media-upload", "/files/uploadList/{id}")
            assert upload == path.endswith(uploads), (path, method)
            assert schema["type"] == "object", (path, method)
            assert schema["properties"], f"{method.upper()} {path}: no properties"
            assert set(schema.get("required", [])) <= set(schema["properties"]), (path, method)
            for name, prop in schema["properties"].items():
                assert prop.get("type"), f"{method.upper()} {path}: {name} has no type"
    assert bodies >= 15


def test_request_bodies_match_what_the_api_validates(spec):
    paths = spec["paths"]

    def body(path, method):
        return paths[path][method]["requestBody"]["content"]["application/json"]["schema"]

    assert body("/contact-list-items", "post")["required"] == ["name", "number", "contactListId"]
    assert body("/contacts", "post")["properties"]["name"]["maxLength"] == 255
    assert body("/auth/login", "post")["required"] == ["email", "password"]
    settings = body("/campaign-settings", "post")["properties"]["settings"]
    assert set(settings["properties"]) == {
        "messageInterval",
        "longerIntervalAfter",
        "greaterInterval",
        "jitter",
        "variables",
        "timezone",
    }
    assert body("/whatsapps/{id}", "put")["properties"]["provider"]["enum"] == [
        "cloud",
        "evolution",
        "sandbox",
    ]


def test_operations_are_well_formed(spec):
    public = set()
    ids = []
    for path, item in spec["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for method, op in item.items():
            ids.append(op["operationId"])
            in_path = [p["name"] for p in op["parameters"] if p["in"] == "path"]
            assert in_path == names, (path, method)
            assert op["summary"], (path, method)
            assert "4XX" in op["responses"]
            if op.get("security") == []:
                public.add((path, method))
            if op.get("parameters") and any(p["name"] == "pageNumber" for p in op["parameters"]):
                assert method == "get"
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert public == {
        ("/health", "get"),
        ("/metrics", "get"),
        ("/version", "get"),
        ("/settings/{key}", "get"),
        ("/auth/login", "post"),
        ("/auth/refresh_token", "post"),
        ("/auth/logout", "delete"),
        ("/openapi.json", "get"),
        ("/webhooks/cloud", "get"),
        ("/webhooks/cloud", "post"),
        ("/public/media/{company}/{campaign}/{token}/{name}", "get"),
        # The ops page's shell, script and style: no data (its JSON, /ops/state, needs a token).
        ("/ops", "get"),
        ("/ops/ops.js", "get"),
        ("/ops/ops.css", "get"),
    }
    assert spec["openapi"].startswith("3.")
    assert spec["security"] == [{"bearer": []}]


def test_spec_matches_a_freshly_built_app(deps, spec):
    """The served document is built from the same table ``create_app`` mounts."""
    other = create_app(deps)
    assert spec_gaps(other, spec) == (set(), set())
    fresh = falcon.testing.TestClient(other).simulate_get("/openapi.json").json
    assert fresh == spec


def test_uploads_are_multipart_and_document_their_201_and_202(spec):
    for path in ("/contacts/upload", "/contact-lists/{id}/upload"):
        op = spec["paths"][path]["post"]
        content = op["requestBody"]["content"]
        assert list(content) == ["multipart/form-data"], path
        assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
        for status in ("201", "202"):
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            assert {"importId", "state", "rowsRead", "rejected"} <= set(schema["required"])


def test_the_frontends_answers_have_real_schemas(spec):
    """Each answer the frontend reads has its keys in the spec (the contract tests validate real
    answers against them), not a bare object."""

    def ok(path, method="get"):
        responses = spec["paths"][path][method]["responses"]
        status = next(s for s in responses if s.startswith("2"))
        return responses[status]["content"]["application/json"]["schema"]

    assert set(ok("/contacts")["properties"]) == {"contacts", "count", "hasMore"}
    assert set(ok("/contact-list-items")["properties"]) == {"contacts", "count", "hasMore"}
    assert "records" in ok("/contact-lists")["properties"]
    assert ok("/whatsapp")["items"]["properties"]["type"] == {"type": "null"}
    user = ok("/auth/login", "post")["properties"]["user"]
    assert {"queues", "company", "allTicket"} <= set(user["required"])
    assert "settings" in user["properties"]["company"]["required"]
    assert "plan" in ok("/companies/listPlan/{id}")["required"]
