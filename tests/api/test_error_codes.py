"""The error-code table of docs/API.md: the original's codes are the original's, and each case
answers the status and code the table gives."""

from __future__ import annotations

import pathlib
import re

import pytest

from tests.api import frontend_calls
from tests.api.helpers import assert_error, phone
from tests.conftest import PASSWORD, make_user
from zapx.errors import NOT_FOUND_CODES

API_MD = pathlib.Path(__file__).resolve().parents[2] / "docs" / "API.md"
ORIGINAL = set(frontend_calls.BACKEND_ERRORS) | {code for code, *_ in frontend_calls.THROWN}


def _table() -> list[dict]:
    text = API_MD.read_text(encoding="utf-8")
    section = text.split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("case", "---"):
            continue
        codes = re.findall(r"`(ERR_[A-Z_<>]+)`", cells[2])
        rows.append({"case": cells[0], "status": cells[1], "codes": codes, "from": cells[3]})
        rows[-1]["shows"] = cells[4]
    return rows


def test_the_table_names_the_originals_codes_as_the_originals():
    rows = _table()
    assert len(rows) >= 20
    for row in rows:
        assert row["codes"], row
        for code in row["codes"]:
            if row["from"] == "original":
                assert code in ORIGINAL, f"{code} is not a code of the original backend"
            else:
                assert code not in ORIGINAL, f"{code} is the original's: say so"
        # A translation quoted in the table is the frontend's own text.
        quoted = re.match(r'"([^"]+)"', row["shows"])
        if quoted:
            pt, _ = frontend_calls.BACKEND_ERRORS[row["codes"][0]]
            assert quoted.group(1) == pt, row
    listed = {code for row in rows for code in row["codes"]}
    assert set(NOT_FOUND_CODES.values()) <= listed


#: (path of a missing object, who asks, the table's code)
UNKNOWN = [
    ("/contacts/999999", "ERR_NO_CONTACT_FOUND"),
    ("/whatsapp/999999", "ERR_NO_WAPP_FOUND"),
    ("/whatsapps/999999", "ERR_NO_WAPP_FOUND"),
    ("/users/999999", "ERR_NO_USER_FOUND"),
    ("/campaigns/999999", "ERR_NO_CAMPAIGN_FOUND"),
    ("/contact-lists/999999", "ERR_NO_CONTACTLIST_FOUND"),
    ("/contact-list-items/999999", "ERR_NO_CONTACTLISTITEM_FOUND"),
    ("/companies/listPlan/999999", "ERR_NO_COMPANY_FOUND"),
    ("/imports/999999", "ERR_NOT_FOUND"),
    ("/no-such-route", "ERR_NOT_FOUND"),
]


@pytest.mark.parametrize(("path", "code"), UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_an_unknown_object_answers_the_originals_code(client, alice, path, code):
    assert_error(client.simulate_get(path, headers=alice.headers), 404, code)


def test_the_tables_other_cases(client, account):
    acme = account("acme", max_users=1)
    h = acme.headers
    assert_error(client.simulate_get("/contacts"), 401, "ERR_SESSION_EXPIRED")
    bad = {"Authorization": "Bearer not.a.jwt"}
    assert_error(client.simulate_get("/contacts", headers=bad), 401, "ERR_SESSION_EXPIRED")
    wrong = {"email": acme.email, "password": "wrong-password"}
    assert_error(client.simulate_post("/auth/login", json=wrong), 401, "ERR_INVALID_CREDENTIALS")
    user = {"name": "X", "email": "x@acme.test", "password": "password-123"}
    assert_error(client.simulate_post("/users", json=user, headers=h), 400, "ERR_PLAN_LIMIT")
    number = phone()
    body = {"name": "Ana", "number": number}
    assert client.simulate_post("/contacts", json=body, headers=h).status_code == 201
    resp = client.simulate_post("/contacts", json=body, headers=h)
    assert_error(resp, 409, "ERR_DUPLICATED_CONTACT", field="number")
    resp = client.simulate_post("/contacts", json={"name": "X", "number": "123"}, headers=h)
    assert_error(resp, 400, "ERR_WAPP_INVALID_CONTACT", field="number")
    resp = client.simulate_post("/contacts", json={"number": number}, headers=h)
    assert_error(resp, 400, "ERR_VALIDATION", field="name")
    make_user(acme.company_id, "worker@acme.test", profile="user")
    login = {"email": "worker@acme.test", "password": PASSWORD}
    token = client.simulate_post("/auth/login", json=login).json["token"]
    resp = client.simulate_get("/users", headers={"Authorization": f"Bearer {token}"})
    assert_error(resp, 403, "ERR_NO_PERMISSION")
