"""The ZapExpress frontend's contract, call by call, on the real app (issue 11).

Every call of ``tests/api/frontend_calls.py`` marked ``covered`` is made here as the frontend
makes it: the same method, path (trailing slash and all), query parameters and body keys, with
the Bearer token it stores. The answer must be a success, carry every field the page ``reads``
with the type and nesting of the original backend's shape (``tests/api/contract.py``), and
validate against the response schema ``/openapi.json`` gives for that route and status, a schema
that declares each of those fields.

A call's data comes from its setup fixture, ``call_<name>`` (dots as underscores), which builds
what the page would have (through the API) and returns a :class:`Req`. To cover another call,
mark it ``covered=True`` in ``frontend_calls.py`` and add its fixture here; a test fails while
the two lists disagree.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
from collections.abc import Callable

import openpyxl
import pytest

from tests.api import frontend_calls
from tests.api.contract import (
    ContractError,
    check_reads,
    declares,
    multipart,
    parse_read,
    validate,
    walk_reads,
)
from tests.api.helpers import phone
from tests.conftest import PASSWORD
from zapx import __version__
from zapx.db import ContactListItem, db

COVERED = [c for c in frontend_calls.CALLS if c.covered]
COOKIE_NAME = "jrt"  # the original's refresh cookie (helpers/SendRefreshToken.ts)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclasses.dataclass
class Req:
    """What a setup gives the call: values of the path's placeholders, the query and body the
    frontend sends, the cookie, the status zapx answers, and checks of its own."""

    values: dict = dataclasses.field(default_factory=dict)
    query: dict = dataclasses.field(default_factory=dict)
    json: object = None
    form: list | None = None  # multipart fields: (name, filename, bytes, content type)
    cookies: dict | None = None
    status: int = 200
    #: Arrays the page reads that zapx always answers empty (it has no ticket queues).
    allow_empty: frozenset = frozenset()
    after: Callable | None = None


@dataclasses.dataclass
class Ctx:
    """A company admin's session and helpers that seed through the API, as the pages do."""

    client: object
    app: object
    acct: object

    @property
    def headers(self) -> dict:
        return self.acct.headers

    def post(self, path: str, body: dict) -> dict:
        resp = self.client.simulate_post(path, json=body, headers=self.headers)
        assert resp.status_code in (200, 201), resp.text
        return resp.json

    def get(self, path: str, **params) -> object:
        resp = self.client.simulate_get(path, params=params or None, headers=self.headers)
        assert resp.status_code == 200, resp.text
        return resp.json

    def contact_list(self, name: str = "Clientes") -> dict:
        return self.post("/contact-lists", {"name": name})

    def item(self, list_id: int, name: str = "Maria") -> dict:
        body = {"name": name, "number": phone(), "email": "", "contactListId": str(list_id)}
        return self.post("/contact-list-items", body)

    def contact(self, name: str = "Ana") -> dict:
        body = {"name": name, "number": phone(), "extraInfo": [{"name": "plano", "value": "A"}]}
        return self.post("/contacts", body)

    def connection(self, name: str = "Meu zap") -> dict:
        return self.post("/whatsapp", frontend_calls.WHATSAPP_FORM | {"name": name})

    def login(self):
        resp = self.client.simulate_post(
            "/auth/login",
            json={"email": self.acct.email, "password": PASSWORD, "recaptchaToken": "stub"},
        )
        assert resp.status_code == 200, resp.text
        return resp


@pytest.fixture
def ctx(client, app, alice):
    return Ctx(client, app, alice)


# --- the harness ---------------------------------------------------------------------------------


def _path(call: frontend_calls.Call, req: Req) -> str:
    path = call.path.format(**req.values)
    return path if path.startswith("/") else "/" + path  # axios joins with one '/'


def _sent_keys(call: frontend_calls.Call) -> set[str]:
    """Body keys the frontend always sends (not '*' echoes, nested notes or 'only once' keys)."""
    return {k for k, v in call.body.items() if k != "*" and "." not in k and "(only" not in v}


def _operation(ctx: Ctx, spec: dict, call: frontend_calls.Call, path: str) -> tuple[str, dict]:
    found = ctx.app._router.find(path.rstrip("/") or "/")
    assert found is not None, f"{call.method} {path}: no route"
    template = found[3]
    operation = spec["paths"][template].get(call.method.lower())
    assert operation is not None, f"{call.method} {template} is not in /openapi.json"
    return template, operation


@pytest.mark.parametrize("call", COVERED, ids=[c.name for c in COVERED])
def test_the_frontends_call(call, ctx, spec, request):
    req: Req = request.getfixturevalue("call_" + call.name.replace(".", "_"))
    path = _path(call, req)
    assert set(req.query) == set(call.query), "send every query parameter the frontend sends"
    kwargs: dict = {"params": req.query or None, "headers": dict(ctx.headers)}
    if call.body_kind == "json":
        assert isinstance(req.json, dict) and _sent_keys(call) <= set(req.json), (
            f"the body must carry what the frontend sends: {sorted(_sent_keys(call))}"
        )
        kwargs["json"] = req.json
    elif call.body_kind == "multipart":
        assert {f[0] for f in req.form} == set(call.body), "the frontend's multipart fields"
        kwargs["body"], kwargs["headers"]["Content-Type"] = multipart(req.form)
    if req.cookies is not None:
        kwargs["cookies"] = req.cookies
    resp = ctx.client.simulate_request(call.method, path, **kwargs)
    assert resp.status_code == req.status, resp.text
    assert 200 <= resp.status_code < 300  # the frontend's success path

    template, operation = _operation(ctx, spec, call, path)
    answer = operation["responses"].get(str(resp.status_code))
    assert answer is not None, f"{call.method} {template}: {resp.status_code} is not documented"
    if resp.status_code == 204:
        assert resp.content == b"" and "content" not in answer
    else:
        schema = answer["content"]["application/json"]["schema"]
        assert "properties" in schema or "items" in schema, f"{template}: a bare schema"
        for text in call.reads:
            read = parse_read(text)
            assert read is None or declares(schema, read, spec), f"{template}: {text}"
        validate(resp.json, schema, spec)
        check_reads(resp.json, call.reads, call.original_shape, req.allow_empty)
    if req.after is not None:
        req.after(resp)


def test_every_covered_call_has_a_setup_and_every_setup_a_covered_call():
    fixtures = {name for name in globals() if name.startswith("call_")}
    wanted = {"call_" + c.name.replace(".", "_") for c in COVERED}
    assert fixtures == wanted
    # What the brief of issue 11 item 2 names for the session, contacts and connections.
    assert len(COVERED) >= 31


# --- the checks can fail -------------------------------------------------------------------------


def test_the_read_walker_catches_what_blanks_a_page():
    reads = ("contacts[].id", "contacts[].name", "hasMore")
    shape = frontend_calls.CALLS[[c.name for c in frontend_calls.CALLS].index("contacts.list")]
    shape = shape.original_shape
    good = {"contacts": [{"id": 1, "name": "Ana"}], "count": 1, "hasMore": False}
    assert check_reads(good, reads, shape) == 3
    with pytest.raises(ContractError, match="contacts is missing"):
        check_reads({"records": good["contacts"], "hasMore": False}, reads, shape)
    with pytest.raises(ContractError, match="is not int"):
        check_reads({"contacts": [{"id": "1", "name": "Ana"}], "hasMore": False}, reads, shape)
    with pytest.raises(ContractError, match="is empty"):
        check_reads({"contacts": [], "hasMore": False}, reads, shape)
    # "when": a nested object is read only when its id is set; then it must be there.
    reads = ("records[].contactList.name when contactListId",)
    rows = [{"contactListId": None}, {"contactListId": 3, "contactList": {"name": "L"}}]
    assert check_reads({"records": rows}, reads, {}) == 1
    with pytest.raises(ContractError, match="contactList is missing"):
        check_reads({"records": [{"contactListId": 3}]}, reads, {})
    # "when a and b keys exist" looks at the object holding the first nested one (the body).
    reads = ("contactList.contacts[].isWhatsappValid when shipping and contactList keys exist",)
    assert check_reads({"contactList": None}, reads, {}, {"contactList.contacts"}) == 0
    shown = {"shipping": [], "contactList": {"contacts": [{"isWhatsappValid": True}]}}
    assert check_reads(shown, reads, {}) == 1
    with pytest.raises(ContractError, match="contacts is missing"):
        check_reads({"shipping": [], "contactList": {}}, reads, {})
    # ".length" of an array; presence-only walks count what each read reaches.
    assert check_reads({"options": []}, ("options.length",), {}) == 1
    with pytest.raises(ContractError, match="not an array"):
        check_reads({"options": {}}, ("options.length",), {})
    call = frontend_calls.Call(
        name="x", caller="", page="", method="GET", path="/x", reads=("*: all", "a[].b", "c")
    )
    assert walk_reads(call, {"a": [], "c": None}) == {"a[].b": 0, "c": 1}


def test_the_schema_validator_catches_a_wrong_answer():
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "at": {"type": ["string", "null"]}},
        "required": ["id"],
    }
    validate({"id": 1, "at": None}, schema, {})
    for bad, reason in (
        ({}, "'id' is a required property"),
        ({"id": True}, r"^\$\.id: True is not of type 'integer'"),
        ([], "is not of type 'object'"),
    ):
        with pytest.raises(ContractError, match=reason):
            validate(bad, schema, {})
    for bad in ("yesterday", "2031-03-10T09:30:00"):  # a date-time carries its UTC offset
        with pytest.raises(ContractError, match="date-time"):
            validate(bad, {"type": "string", "format": "date-time"}, {})
    # A $ref is resolved in the OpenAPI document.
    root = {"components": {"schemas": {"Id": {"type": "integer"}}}}
    validate({"id": 1}, {"properties": {"id": {"$ref": "#/components/schemas/Id"}}}, root)
    with pytest.raises(ContractError, match="not of type 'integer'"):
        validate({"id": "1"}, {"properties": {"id": {"$ref": "#/components/schemas/Id"}}}, root)


# --- login, session, menu ------------------------------------------------------------------------


def _due_date_is_ahead(resp) -> None:
    due = datetime.datetime.fromisoformat(resp.json["user"]["company"]["dueDate"])
    assert due > datetime.datetime.now(datetime.UTC)  # else "Sua assinatura venceu"
    settings = resp.json["user"]["company"]["settings"]
    assert {"key": "campaignsEnabled", "value": "true"} in [
        {"key": s["key"], "value": s["value"]} for s in settings
    ]
    assert resp.cookies[COOKIE_NAME].http_only


@pytest.fixture
def call_auth_login(ctx):
    body = {"email": ctx.acct.email, "password": PASSWORD, "recaptchaToken": "stub"}
    return Req(json=body, allow_empty=frozenset({"user.queues"}), after=_due_date_is_ahead)


@pytest.fixture
def call_auth_refresh_token(ctx):
    cookie = ctx.login().cookies[COOKIE_NAME].value
    return Req(cookies={COOKIE_NAME: cookie}, allow_empty=frozenset({"user.queues"}))


@pytest.fixture
def call_auth_me(ctx):
    return Req()


@pytest.fixture
def call_version(ctx):
    def same_without_a_token(resp):
        assert ctx.client.simulate_get("/version").json == resp.json == {"version": __version__}

    return Req(after=same_without_a_token)


@pytest.fixture
def call_settings_system_title(ctx):
    def public(resp):
        assert resp.json == {"key": "system_title", "value": "zapx"}  # SYSTEM_TITLE's default
        assert ctx.client.simulate_get("/settings/system_title").json == resp.json

    return Req(after=public)


@pytest.fixture
def call_settings_viewregister(ctx):
    def public(resp):
        assert resp.json == {"key": "viewregister", "value": "disabled"}  # no sign-up here
        assert ctx.client.simulate_get("/settings/viewregister").json == resp.json

    return Req(after=public)


@pytest.fixture
def call_auth_logout(ctx):
    cookie = ctx.login().cookies[COOKIE_NAME].value

    def ended(resp):
        assert resp.cookies[COOKIE_NAME].value == ""
        again = ctx.client.simulate_post("/auth/refresh_token", cookies={COOKIE_NAME: cookie})
        assert again.status_code == 401

    return Req(cookies={COOKIE_NAME: cookie}, status=204, after=ended)


@pytest.fixture
def call_companies_listPlan(ctx):  # noqa: N802 - the call's name
    return Req(values={"companyId": ctx.acct.company_id})


# --- connections ---------------------------------------------------------------------------------


@pytest.fixture
def call_whatsapp_provider_list(ctx):
    ctx.connection()
    return Req(query={"session": "0"})


@pytest.fixture
def call_whatsapp_picker(ctx):
    ctx.connection()
    return Req(query={"companyId": str(ctx.acct.company_id), "session": "0"})


@pytest.fixture
def call_whatsapp_show_for_edit(ctx):
    conn = ctx.connection()
    return Req(values={"id": conn["id"]}, query={"session": "0"}, allow_empty=frozenset({"queues"}))


@pytest.fixture
def call_whatsapp_qrcode(ctx):
    return Req(values={"id": ctx.connection()["id"]})


@pytest.fixture
def call_whatsapp_create(ctx):
    def made(resp):
        # The documented choice: a sandbox connection, CONNECTED outside production.
        assert (resp.json["provider"], resp.json["status"]) == ("sandbox", "CONNECTED")
        assert resp.json["type"] is None  # the connections page's edit button
        assert resp.json["isDefault"] is True  # the company's first connection

    return Req(json=dict(frontend_calls.WHATSAPP_FORM), status=201, after=made)


@pytest.fixture
def call_whatsapp_update(ctx):
    conn = ctx.connection()
    got = ctx.get(f"/whatsapp/{conn['id']}", session="0")
    body = {k: v for k, v in got.items() if k not in ("queues", "session")}
    body |= {"name": "Renomeado", "queueIds": [], "transferQueueId": None, "promptId": None}

    def renamed(resp):
        assert resp.json["name"] == "Renomeado" and resp.json["provider"] == "sandbox"

    return Req(values={"id": conn["id"]}, json=body, after=renamed)


@pytest.fixture
def call_whatsapp_delete(ctx):
    conn = ctx.connection()

    def gone(resp):
        again = ctx.client.simulate_get(f"/whatsapp/{conn['id']}", headers=ctx.headers)
        assert again.status_code == 404 and again.json["error"] == "ERR_NO_WAPP_FOUND"
        assert ctx.get("/whatsapp/", session="0") == []

    return Req(values={"id": conn["id"]}, status=204, after=gone)


# --- contact lists and their items ---------------------------------------------------------------


def sample_sheet() -> bytes:
    """frontend/src/assets/planilha.xlsx as the frontend ships it: its header and its two rows,
    the numbers as numeric cells."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Planilha1"
    sheet.append(list(frontend_calls.SAMPLE_SHEET["header"]))
    for row in frontend_calls.SAMPLE_SHEET["rows"]:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def call_contact_lists_picker(ctx):
    ctx.contact_list()
    return Req(query={"companyId": str(ctx.acct.company_id)})


@pytest.fixture
def call_contact_lists_list(ctx):
    ctx.item(ctx.contact_list()["id"])
    return Req(query={"searchParam": "", "pageNumber": "1"})


@pytest.fixture
def call_contact_lists_show(ctx):
    return Req(values={"id": ctx.contact_list()["id"]})


@pytest.fixture
def call_contact_lists_create(ctx):
    return Req(json={"name": "Clientes VIP"}, status=201)


@pytest.fixture
def call_contact_lists_update(ctx):
    lst = ctx.contact_list()
    body = ctx.get(f"/contact-lists/{lst['id']}") | {"name": "Renomeada"}
    return Req(values={"id": lst["id"]}, json=body)


@pytest.fixture
def call_contact_lists_delete(ctx):
    return Req(values={"id": ctx.contact_list()["id"]}, status=204)


@pytest.fixture
def call_contact_lists_upload(ctx):
    lst = ctx.contact_list()

    def imported(resp):
        # The frontend's own sample sheet imports: its numbers are well formed but not in use,
        # so the items are kept and marked as not on WhatsApp (campaigns skip them).
        assert (resp.json["rowsRead"], resp.json["inserted"], resp.json["rejected"]) == (2, 2, 0)
        page = ctx.get("/contact-list-items", contactListId=str(lst["id"]))
        got = {(c["name"], c["number"], c["email"], c["isWhatsappValid"]) for c in page["contacts"]}
        assert got == {
            ("Contato 6", "5585888889999", "contato6@test.tom.br", False),
            ("Contato 12", "5585888889991", "", False),
        }

    form = [("file", "planilha.xlsx", sample_sheet(), XLSX)]
    return Req(values={"id": lst["id"]}, form=form, status=201, after=imported)


@pytest.fixture
def call_contact_list_items_list(ctx):
    lst = ctx.contact_list()
    ctx.item(lst["id"])
    return Req(query={"searchParam": "", "pageNumber": "1", "contactListId": str(lst["id"])})


@pytest.fixture
def call_contact_list_items_show(ctx):
    return Req(values={"id": ctx.item(ctx.contact_list()["id"])["id"]})


@pytest.fixture
def call_contact_list_items_create(ctx):
    lst = ctx.contact_list()
    body = {
        "name": "João",
        "number": "(85) 98888-7777",
        "email": "",
        "companyId": ctx.acct.company_id,
        "contactListId": str(lst["id"]),  # the route's parameter, a string
    }
    return Req(json=body, status=201)


@pytest.fixture
def call_contact_list_items_update(ctx):
    lst = ctx.contact_list()
    item = ctx.item(lst["id"])
    body = ctx.get(f"/contact-list-items/{item['id']}") | {
        "name": "Maria Clara",
        "companyId": ctx.acct.company_id,
        "contactListId": str(lst["id"]),
    }
    return Req(values={"id": item["id"]}, json=body)


@pytest.fixture
def call_contact_list_items_delete(ctx):
    item = ctx.item(ctx.contact_list()["id"])

    def gone(resp):
        with db.connection_context():
            assert ContactListItem.get_or_none(ContactListItem.id == item["id"]) is None

    return Req(values={"id": item["id"]}, status=204, after=gone)


# --- contacts ------------------------------------------------------------------------------------


@pytest.fixture
def call_contacts_list(ctx):
    ctx.contact()
    return Req(query={"searchParam": "", "pageNumber": "1", "groupId": ""})


@pytest.fixture
def call_contacts_list_all(ctx):
    ctx.contact()
    return Req(query={"companyId": str(ctx.acct.company_id)})


@pytest.fixture
def call_contacts_show(ctx):
    return Req(values={"id": ctx.contact()["id"]})


@pytest.fixture
def call_contacts_create(ctx):
    body = {
        "name": "Bruno",
        "number": "11 98765-0001",
        "email": "",
        "disableBot": False,
        "groupId": "",  # the dialog does not null it
        "extraInfo": [{"name": "plano", "value": "ouro"}],
    }
    return Req(json=body, status=201)


@pytest.fixture
def call_contacts_update(ctx):
    contact = ctx.contact()
    body = ctx.get(f"/contacts/{contact['id']}") | {"name": "Ana Paula"}
    return Req(values={"id": contact["id"]}, json=body)


@pytest.fixture
def call_contacts_delete(ctx):
    return Req(values={"id": ctx.contact()["id"]}, status=204)


@pytest.fixture
def call_contacts_upload(ctx):
    book = openpyxl.Workbook()
    book.active.append(["nome", "numero", "e-mail"])
    book.active.append(["Carla", 5511987650123, "carla@example.test"])
    data = io.BytesIO()
    book.save(data)

    def imported(resp):
        assert (resp.json["inserted"], resp.json["rejected"]) == (1, 0)
        assert [c["name"] for c in ctx.get("/contacts/")["contacts"]] == ["Carla"]

    form = [("file", "contatos.xlsx", data.getvalue(), XLSX)]
    return Req(form=form, status=201, after=imported)
