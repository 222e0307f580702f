"""What a ``user`` profile may do (``api/roles.py``, docs/API.md "Roles"), one test per family."""

from __future__ import annotations

import re
import types

import pytest

from api import Deps, roles, routes
from tests.api.helpers import assert_error, created, phone, seed, snapshot
from tests.api.test_imports import upload
from tests.conftest import login, make_user
from zapx.auth import Principal
from zapx.errors import Forbidden
from zapx.redis import get_redis


@pytest.fixture
def member(client, alice):
    """A ``user`` profile in alice's company, with alice's objects seeded by alice."""
    objects = seed(client, alice, "a")
    objects["campaign"] = created(
        client.simulate_post(
            "/campaigns",
            json={
                "name": "Spring sale",
                "contactListId": objects["list"]["id"],
                "whatsappId": objects["whatsapp"]["id"],
                "message1": "Hello {nome}",
            },
            headers=alice.headers,
        )
    )
    make_user(alice.company_id, "member@alice.test", profile="user")
    return login(client, "member@alice.test"), objects


def _refused(client, headers, attempts) -> None:
    before = snapshot()
    for method, url, body in attempts:
        resp = client.simulate_request(method, url, json=body, headers=headers)
        try:
            assert_error(resp, 403, "ERR_NO_PERMISSION", contains="administrators")
        except AssertionError as exc:
            raise AssertionError(f"{method} {url}: {exc}") from None
    assert snapshot() == before


def _allowed(client, headers, reads) -> None:
    for url in reads:
        resp = client.simulate_get(url, headers=headers)
        assert resp.status_code == 200, f"GET {url}: {resp.text}"


def test_every_authenticated_route_has_a_rule(config):
    deps = Deps(config=config, redis=get_redis(config.redis_url))
    templates = {t for t, resource, _ in routes(deps) if getattr(resource, "auth_required", True)}
    assert templates - set(roles.RULES) == set(), "classify these routes in api/roles.py"
    assert set(roles.RULES) - templates == set(), "api/roles.py names routes that do not exist"


def test_a_user_works_with_contacts_lists_items_and_imports(client, member):
    h, objects = member
    contact = created(
        client.simulate_post("/contacts", json={"name": "C", "number": phone()}, headers=h)
    )
    resp = client.simulate_put(f"/contacts/{contact['id']}", json={"name": "C2"}, headers=h)
    assert resp.status_code == 200 and resp.json["name"] == "C2"
    assert client.simulate_delete(f"/contacts/{contact['id']}", headers=h).status_code == 204
    lst = created(client.simulate_post("/contact-lists", json={"name": "Mine"}, headers=h))
    item = created(
        client.simulate_post(
            "/contact-list-items",
            json={"name": "I", "number": phone(), "contactListId": lst["id"]},
            headers=h,
        )
    )
    assert (
        client.simulate_put(
            f"/contact-list-items/{item['id']}", json={"name": "I2"}, headers=h
        ).status_code
        == 200
    )
    imported = upload(
        client,
        types.SimpleNamespace(headers=h),
        b"nome;numero\nAna;11987650001\n",
        path=f"/contact-lists/{lst['id']}/upload",
    )
    assert imported.status_code == 201, imported.text
    _allowed(client, h, [f"/imports/{imported.json['id']}", "/contacts", "/contact-lists/list"])
    assert client.simulate_delete(f"/contact-lists/{lst['id']}", headers=h).status_code == 204


def test_a_user_reads_connections_but_cannot_change_them(client, member):
    h, objects = member
    wid = objects["whatsapp"]["id"]
    _allowed(
        client,
        h,
        ["/whatsapps", "/whatsapps/list", f"/whatsapps/{wid}", "/whatsapp", f"/whatsapp/{wid}"],
    )
    body = {"name": "Mine", "provider": "sandbox"}
    _refused(
        client,
        h,
        [
            ("POST", "/whatsapps", body),
            ("POST", "/whatsapp", body),
            ("PUT", f"/whatsapps/{wid}", {"name": "Renamed"}),
            ("PUT", f"/whatsapp/{wid}", {"status": "DISCONNECTED"}),
            ("DELETE", f"/whatsapps/{wid}", None),
            ("DELETE", f"/whatsapp/{wid}", None),
        ],
    )


def test_a_user_reads_campaigns_but_cannot_create_change_or_run_them(client, member):
    h, objects = member
    cid = objects["campaign"]["id"]
    _allowed(
        client,
        h,
        ["/campaigns", "/campaigns/list", f"/campaigns/{cid}", f"/campaigns/{cid}/report"],
    )
    _refused(
        client,
        h,
        [
            ("POST", "/campaigns", {"name": "Mine", "contactListId": objects["list"]["id"]}),
            ("PUT", f"/campaigns/{cid}", {"name": "Renamed"}),
            ("PUT", f"/campaigns/{cid}", {"status": "PROGRAMADA"}),
            ("DELETE", f"/campaigns/{cid}", None),
            *(
                ("POST", f"/campaigns/{cid}/{c}", None)
                for c in ("pause", "resume", "cancel", "restart")
            ),
            ("POST", f"/campaigns/{cid}/media-upload", None),
            ("DELETE", f"/campaigns/{cid}/media-upload", None),
        ],
    )


def test_a_user_reads_campaign_settings_but_cannot_change_them(client, member, alice):
    h, _ = member
    _allowed(client, h, ["/campaign-settings"])
    _refused(client, h, [("POST", "/campaign-settings", {"settings": {"messageInterval": 1}})])
    # The control: the company's administrator may.
    resp = client.simulate_post(
        "/campaign-settings", json={"settings": {"messageInterval": 30}}, headers=alice.headers
    )
    assert resp.status_code == 200, resp.text


def test_a_user_manages_no_users_and_no_companies(client, member, alice):
    h, objects = member
    _refused(
        client,
        h,
        [
            ("GET", "/users", None),
            ("POST", "/users", {"name": "X", "email": "x@alice.test", "password": "password-123"}),
            ("DELETE", f"/users/{objects['user']['id']}", None),
        ],
    )
    before = snapshot()
    for method, url in (("GET", "/companies"), ("GET", f"/companies/{alice.company_id}")):
        assert_error(client.simulate_request(method, url, headers=h), 403, contains="super")
    assert snapshot() == before


def test_an_unlisted_route_is_for_administrators():
    user = Principal(1, 1, "user", False)
    admin = Principal(1, 1, "admin", False)
    with pytest.raises(Forbidden, match="administrators"):
        roles.require(user, "/some/new/route", "GET")
    roles.require(admin, "/some/new/route", "POST")  # no error
    assert all(re.fullmatch(r"/[\w\-/{}.]+", t) for t in roles.RULES)
