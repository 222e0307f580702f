"""Replaying the frontend's campaign-module calls (``tests/api/frontend_calls.py``) against the
app: the request as axios sends it, the fields its page reads walked in the real answer, and the
answer validated against the response schema ``/openapi.json`` states for the route.

A path walker of the notation of :mod:`tests.api.frontend_calls` (``records[].contactList.name
when contactListId``) and the report page's own counters, kept here until the campaign and the
session contract tests share one harness.
"""

from __future__ import annotations

import datetime
import json
import zoneinfo
from urllib.parse import urlencode

import jsonschema

from tests.api.frontend_calls import CALLS, Call

CALLS_BY_NAME = {c.name: c for c in CALLS}
#: The browser's time zone in these replays: the company's default one.
BROWSER_ZONE = zoneinfo.ZoneInfo("America/Sao_Paulo")

_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True  # the type keyword decides
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return True


def _tokens(path: str) -> list[str]:
    return path.replace("[]", ".[]").lstrip(".").split(".")


def _holds(condition: str, obj) -> bool:
    """``when`` of a read: ``contactListId`` (truthy) or ``shipping and contactList keys exist``."""
    if not condition:
        return True
    if not isinstance(obj, dict):
        return False
    if condition.endswith("keys exist"):
        names = [w for w in condition.split() if w not in ("and", "keys", "exist")]
        return all(n in obj for n in names)
    return bool(obj.get(condition))


def _visit(node, tokens: list[str], where: str) -> int:
    if not tokens:
        return 1
    token, rest = tokens[0], tokens[1:]
    if token == "[]":
        assert isinstance(node, list), f"{where}: an array expected, got {node!r:.80}"
        return sum(_visit(el, rest, f"{where}[{i}]") for i, el in enumerate(node))
    if token == "length":
        assert isinstance(node, list), f"{where}: an array expected for .length"
        return 1
    assert isinstance(node, dict), f"{where}: an object expected, got {node!r:.80}"
    assert token in node, f"{where}: no key {token!r} (has {sorted(node)[:12]})"
    return _visit(node[token], rest, f"{where}.{token}")


def walk(body, read: str) -> int:
    """Assert that what ``read`` names is in ``body`` (a key present, any value, ``null``
    included); returns how many values it reached (0 when an array was empty or the ``when``
    never held). ``*: ...`` reads (every key) and annotations after the path are not walked."""
    path, _, condition = read.partition(" when ")
    path = path.split(" ", 1)[0]
    if path.startswith("*"):
        return 1
    tokens = _tokens(path)
    first_array = tokens.index("[]") if "[]" in tokens[:2] else None
    if first_array is None:
        return _visit(body, tokens, "body") if _holds(condition, body) else 0
    # The condition is the array element's own field (records[].x when y: each record's y).
    outer = body
    for token in tokens[:first_array]:
        assert isinstance(outer, dict) and token in outer, f"body: no key {token!r}"
        outer = outer[token]
    assert isinstance(outer, list), f"{path}: an array expected, got {outer!r:.80}"
    return sum(
        _visit(el, tokens[first_array + 1 :], f"body[{i}]")
        for i, el in enumerate(outer)
        if _holds(condition, el)
    )


def walk_reads(call: Call, body) -> dict[str, int]:
    """Every read of ``call`` walked in ``body``: ``{read: values reached}``."""
    return {read: walk(body, read) for read in call.reads}


def url(call: Call, query: dict | None = None, **ids) -> str:
    """The URL axios requests for ``call`` (its path joined to the base with one ``/``)."""
    path = "/" + call.path.lstrip("/")
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, path
    return path + ("?" + urlencode(query) if query else "")


def template(call: Call) -> str:
    """The route template of ``call`` as zapx mounts it (no trailing slash, leading ``/``)."""
    return "/" + call.path.strip("/")


def response_schema(spec: dict, call: Call, status: int) -> dict:
    op = spec["paths"][template(call)][call.method.lower()]
    content = op["responses"][str(status)]["content"]
    return content["application/json"]["schema"]


def assert_valid(spec: dict, call: Call, resp) -> None:
    """The real answer validates against the schema ``/openapi.json`` states for it."""
    schema = response_schema(spec, call, resp.status_code)
    assert schema.get("properties") or schema.get("items"), f"{call.name}: no real schema"
    jsonschema.Draft202012Validator(schema, format_checker=_FORMATS).validate(resp.json)


def report_counters(campaign: dict) -> dict:
    """What ``pages/CampaignReport/index.js:71-98`` computes from ``GET /campaigns/{id}``, with
    its JavaScript semantics (lodash ``isNull(undefined)`` is false: a missing key counts)."""

    def not_null(row: dict, key: str) -> bool:
        return not (key in row and row[key] is None)

    out = {"valid": 0, "delivered": 0, "asked": 0, "confirmed": 0}
    if "shipping" not in campaign:
        return out
    if "contactList" in campaign:
        out["valid"] = sum(1 for c in campaign["contactList"]["contacts"] if c["isWhatsappValid"])
    rows = campaign["shipping"]
    out["delivered"] = sum(1 for r in rows if not_null(r, "deliveredAt"))
    out["asked"] = sum(1 for r in rows if not_null(r, "confirmationRequestedAt"))
    out["confirmed"] = sum(
        1 for r in rows if not_null(r, "deliveredAt") and not_null(r, "confirmationRequestedAt")
    )
    return out


def _moment(value: str, fmt: str) -> str:
    """``moment(value).format(fmt)`` in the browser's zone, for the two formats the form uses."""
    when = datetime.datetime.fromisoformat(value.replace(" ", "T"))
    if when.tzinfo is not None:
        when = when.astimezone(BROWSER_ZONE)
    formats = {"YYYY-MM-DDTHH:mm": "%Y-%m-%dT%H:%M", "YYYY-MM-DD HH:mm:ss": "%Y-%m-%d %H:%M:%S"}
    return when.strftime(formats[fmt])


def campaign_form(company_id: int, shown: dict | None = None) -> dict:
    """The CampaignModal's values: its initial state (``:96-114``), then, on edit, every key of
    ``GET /campaigns/{id}`` copied in (``null`` -> ``""``, ``scheduledAt`` to local time,
    ``:179-193``)."""
    form = {
        "name": "",
        **{f"message{i}": "" for i in range(1, 6)},
        **{f"confirmationMessage{i}": "" for i in range(1, 6)},
        "status": "INATIVA",
        "confirmation": False,
        "scheduledAt": "",
        "whatsappId": "",
        "contactListId": "",
        "tagListId": "Nenhuma",
        "companyId": company_id,
    }
    for key, value in (shown or {}).items():
        if key == "scheduledAt" and value not in ("", None):
            form[key] = _moment(value, "YYYY-MM-DDTHH:mm")
        else:
            form[key] = "" if value is None else value
    return form


def campaign_body(form: dict) -> dict:
    """What the CampaignModal posts for ``form`` (``:221-230``): ``""`` -> ``null``,
    ``scheduledAt`` as ``YYYY-MM-DD HH:mm:ss`` in the browser's local time, no offset."""
    out = {}
    for key, value in form.items():
        if key == "scheduledAt" and value not in ("", None):
            out[key] = _moment(value, "YYYY-MM-DD HH:mm:ss")
        else:
            out[key] = None if value == "" else value
    return out


def settings_page(rows: list) -> dict:
    """``CampaignsConfig/index.js:65-72``: ``Object.fromEntries`` of the parsed values, or the
    page's defaults when the answer is not a non-empty array."""
    if not isinstance(rows, list) or not rows:
        return {"messageInterval": 20, "longerIntervalAfter": 20, "greaterInterval": 60,
                "variables": []}  # fmt: skip
    return {row["key"]: json.loads(row["value"]) for row in rows}
