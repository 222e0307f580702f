"""The original backend's paths answer a 404 JSON that says whose they are; other unknown paths
say zapx has no such route."""

from __future__ import annotations

import pytest

from api import not_served
from tests.api import frontend_calls
from tests.api.helpers import assert_error

#: The original backend's calls the frontend makes and zapx does not serve (it serves a few, such
#: as the schedule dialog's `/contacts/list`).
OUT_OF_SCOPE = [c for c in frontend_calls.CALLS if c.scope == "out" and not c.covered]


@pytest.mark.parametrize("call", OUT_OF_SCOPE, ids=[c.name for c in OUT_OF_SCOPE])
def test_the_frontends_out_of_scope_calls_name_the_original_backend(client, alice, call):
    path = call.path.replace("{id}", "1").replace("{", "").replace("}", "")
    resp = client.simulate_request(call.method, path, headers=alice.headers)
    body = assert_error(resp, 404, "ERR_NOT_FOUND", field=None)
    assert "original Whaticket backend" in body["message"], body
    assert body["message"].startswith(f"{call.method} /{path.strip('/')} belongs to "), body


def test_every_out_of_scope_call_of_the_frontend_has_a_feature():
    assert len(OUT_OF_SCOPE) >= 5
    for call in OUT_OF_SCOPE:
        segment = call.path.lstrip("/").split("/", 1)[0]
        assert segment in not_served.ORIGINAL_FEATURES, call.name


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/tickets/12/messages"), ("POST", "/queue"), ("DELETE", "/chats/3")],
)
def test_the_answer_does_not_depend_on_a_token(client, method, path):
    body = assert_error(client.simulate_request(method, path), 404, "ERR_NOT_FOUND")
    assert "original Whaticket backend" in body["message"]


def test_an_unknown_path_of_zapxs_own_says_there_is_no_such_route(client, alice):
    resp = client.simulate_get("/campaigns/1/no-such-thing", headers=alice.headers)
    body = assert_error(resp, 404, "ERR_NOT_FOUND")
    assert body["message"] == "zapx has no route GET /campaigns/1/no-such-thing"
    resp = client.simulate_get("/nonsense", headers=alice.headers)
    assert assert_error(resp, 404)["message"] == "zapx has no route GET /nonsense"


def test_a_setting_of_the_original_is_a_404_naming_it(client, alice):
    resp = client.simulate_get("/settings/userCreation", headers=alice.headers)
    body = assert_error(resp, 404, "ERR_NOT_FOUND")
    assert body["message"].startswith("GET /settings/userCreation belongs to settings, ")
