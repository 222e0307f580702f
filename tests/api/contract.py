"""The frontend contract tests' harness: what a page reads, what ``/openapi.json`` says, and the
calls of ``tests/api/frontend_calls.py`` replayed as the frontend sends them.

- :func:`check_reads` walks a ``reads`` path of ``tests/api/frontend_calls.py`` (``a.b``,
  ``a[].b``, a leading ``[]`` for an array body, ``a.length``, ``... when key`` or ``... when a
  and b keys exist``) through a real answer and checks every value it reaches against the type
  the original backend's shape gives for it; :func:`walk_reads` walks the same paths for
  presence only and counts what each reaches.
- :func:`validate` checks a value against a JSON schema with the ``jsonschema`` library
  (``$ref`` resolved in the OpenAPI document, ``date-time`` with its UTC offset).
- :func:`multipart` builds a ``multipart/form-data`` body as a browser's ``FormData`` does.
- :func:`replay` sends a call as the frontend does and checks its status, schema and reads;
  :func:`report_counters`, :func:`campaign_form`, :func:`campaign_body` and
  :func:`settings_page` compute what the campaign pages compute from an answer.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import uuid
import zoneinfo
from urllib.parse import urlencode

import jsonschema
from jsonschema.exceptions import best_match

from tests.api.frontend_calls import CALLS, Call

CALLS_BY_NAME = {c.name: c for c in CALLS}
#: The browser's time zone in the replays: the company's default one.
BROWSER_ZONE = zoneinfo.ZoneInfo("America/Sao_Paulo")

# --- what a page reads ---------------------------------------------------------------------------

_UNKNOWN = object()  # the original's shape says nothing about this value


@dataclasses.dataclass
class Read:
    """One ``reads`` entry: the path's steps, and the sibling keys that must be set (``when
    key``) or present (``when a and b keys exist``) for the page to read it."""

    text: str
    steps: list[str]
    when: tuple[str, ...] = ()
    when_present: bool = False  # "keys exist": present is enough, null included

    @property
    def when_at(self) -> int:
        """The step whose object holds the ``when`` keys: the one before the first nested
        object on the path (``records[].contactList.name``: each record; ``whatsapp.name``: the
        body), else the innermost array's element, else the body."""
        steps = self.steps
        for n in range(len(steps) - 1):
            if steps[n] not in ("[]", "length") and steps[n + 1] not in ("[]", "length"):
                return n
        return max((n + 1 for n, s in enumerate(steps) if s == "[]"), default=0)


def parse_read(text: str) -> Read | None:
    """The read of ``text`` (``"records[].contactList.name when contactListId"``); None for the
    ``*`` entries (every key, for forms that send back what they got). Words after the path
    that are not a ``when`` are a note (``"[].value (JSON.parse'd)"``)."""
    if text.startswith("*"):
        return None
    path, _, rest = text.partition(" ")
    when: tuple[str, ...] = ()
    present = False
    if rest.startswith("when "):
        words = rest[5:].split()
        present = words[-2:] == ["keys", "exist"]
        when = tuple(w for w in words[:-2] if w != "and") if present else (words[0],)
    steps = []
    for part in path.split("."):
        if part.startswith("[]"):  # the body itself is an array
            steps.append("[]")
            part = part[2:]
            if not part:
                continue
        if part.endswith("[]"):
            steps.extend([part[:-2], "[]"])
        else:
            steps.append(part)
    return Read(text, steps, when, present)


class ContractError(AssertionError):
    pass


class _Everything:
    """An ``allow_empty`` that allows every array to be empty."""

    def __contains__(self, item) -> bool:
        return True


def check_reads(body, reads, shape, allow_empty=frozenset()) -> int:
    """Check every read of ``reads`` on ``body``; returns how many values were checked.

    Every array on a path must have elements (else nothing would be checked) unless the path up
    to it is in ``allow_empty`` (``"user.queues"``); a read must reach at least one value or a
    ``null`` the original's shape allows (``"group": {..., "when": "or null"}``).
    """
    checked = 0
    for text in reads:
        read = parse_read(text)
        if read is None:
            continue
        reached = _walk(body, shape, read, 0, "", allow_empty)
        if reached == 0 and not _allowed(read, allow_empty):
            raise ContractError(f"{text}: no value to check (set up data that has it)")
        checked += reached
    return checked


def walk_reads(call: Call, body) -> dict[str, int]:
    """Every read of ``call`` walked in ``body`` for presence only (a key present, any value,
    ``null`` included): ``{read: values reached}``, 0 where an array was empty or the ``when``
    never held. The ``*`` reads (every key) are left out."""
    reads = [read for read in map(parse_read, call.reads) if read is not None]
    return {read.text: _walk(body, _UNKNOWN, read, 0, "", _Everything()) for read in reads}


def _allowed(read: Read, allow_empty) -> bool:
    prefix = ""
    for step in read.steps:
        if step == "[]":
            if prefix in allow_empty:
                return True
            continue
        prefix = f"{prefix}.{step}" if prefix else step
    return False


def _holds(read: Read, obj) -> bool:
    if read.when_present:
        return isinstance(obj, dict) and all(key in obj for key in read.when)
    return all(_get(obj, key) not in (None, _UNKNOWN) for key in read.when)


def _walk(value, shape, read: Read, i: int, where: str, allow_empty) -> int:
    steps = read.steps
    if i == read.when_at and read.when and not _holds(read, value):
        return 0  # the page reads it only when the sibling keys are set
    if i == len(steps):
        _check_leaf(value, shape, f"{read.text} at {where or 'the body'}")
        return 1
    step = steps[i]
    if step == "[]":
        if not isinstance(value, list):
            raise ContractError(f"{read.text}: {where or 'the body'} is not an array: {value!r}")
        if not value and where not in allow_empty:
            raise ContractError(f"{read.text}: {where or 'the body'} is empty")
        inner = shape[0] if isinstance(shape, list) and shape else _UNKNOWN
        return sum(
            _walk(item, inner, read, i + 1, f"{where}[{n}]", allow_empty)
            for n, item in enumerate(value)
        )
    if step == "length" and i == len(steps) - 1:  # the page reads an array's .length
        if not isinstance(value, list):
            raise ContractError(f"{read.text}: {where or 'the body'} is not an array: {value!r}")
        return 1
    if value is None and _nullable_object(shape):
        return 1  # the original's shape allows null here (the page guards it)
    if not isinstance(value, dict):
        raise ContractError(f"{read.text}: {where or 'the body'} is not an object: {value!r}")
    here = f"{where}.{step}" if where else step
    if step not in value:
        raise ContractError(f"{read.text}: {here} is missing (keys: {sorted(value)})")
    inner = shape.get(step, _UNKNOWN) if isinstance(shape, dict) else _UNKNOWN
    return _walk(value[step], inner, read, i + 1, here, allow_empty)


def _get(element, key: str):
    return element.get(key, _UNKNOWN) if isinstance(element, dict) else _UNKNOWN


def _nullable_object(shape) -> bool:
    return isinstance(shape, dict) and "null" in str(shape.get("when", ""))


_KINDS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bigint": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and v.isdigit())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "decimal": lambda v: (
        (isinstance(v, int | float) and not isinstance(v, bool))
        or (isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v) is not None)
    ),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "date": lambda v: isinstance(v, str) and _is_date(v),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _is_date(text: str) -> bool:
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_leaf(value, shape, where: str) -> None:
    if shape is _UNKNOWN or not isinstance(shape, str):
        if isinstance(shape, dict) and value is None and _nullable_object(shape):
            return
        if isinstance(shape, dict | list) and not isinstance(value, type(shape)):
            raise ContractError(f"{where}: expected {type(shape).__name__}, got {value!r}")
        return
    if shape.startswith("["):  # a description of an array ("[queue + options]")
        if not isinstance(value, list):
            raise ContractError(f"{where}: expected an array, got {value!r}")
        return
    kinds = re.split(r"[\s(]", shape, maxsplit=1)[0].split("|")
    if "null" in kinds and value is None:
        return
    for kind in kinds:
        if kind == "null":
            continue
        if kind not in _KINDS:
            raise ContractError(f"{where}: unknown type {kind!r} in the shape {shape!r}")
        if _KINDS[kind](value):
            return
    raise ContractError(f"{where}: {value!r} is not {shape}")


# --- JSON schema ---------------------------------------------------------------------------------

_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True  # the type keyword decides
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return True


def validate(value, schema: dict, root: dict) -> None:
    """Raise :class:`ContractError` naming the first place where ``value`` breaks ``schema``
    (``$ref`` resolved in ``root``, the OpenAPI document)."""
    # The refs point into the document (#/components/schemas/...): give the schema its parts.
    whole = {**schema, "components": root.get("components", {})}
    error = best_match(
        jsonschema.Draft202012Validator(whole, format_checker=_FORMATS).iter_errors(value)
    )
    if error is not None:
        raise ContractError(f"{error.json_path}: {error.message}")


def declares(schema: dict, read: Read, root: dict) -> bool:
    """Whether ``schema`` declares the path of ``read`` (a real schema, not a bare object)."""
    node = schema
    for step in read.steps:
        while "$ref" in node:
            target = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        if step == "[]":
            if "items" not in node:
                return False
            node = node["items"]
        else:
            if step not in node.get("properties", {}):
                return False
            node = node["properties"][step]
    return True


# --- multipart bodies ----------------------------------------------------------------------------


def multipart(fields: list[tuple[str, str | None, bytes, str | None]]) -> tuple[bytes, str]:
    """``(body, content type)`` of ``(name, filename or None, data, content type or None)``."""
    boundary = "----zapxContract" + uuid.uuid4().hex
    out = bytearray()
    for name, filename, data, content_type in fields:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


# --- replaying the frontend's calls -------------------------------------------------------------


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
    validate(resp.json, schema, spec)


def replay(client, spec, acct, name, *, status, query=None, json=None, body=None, empty=(), **ids):
    """Send call ``name`` as the frontend does (``body``: ``(bytes, content type)``, as
    :func:`multipart` gives it); check the status, the schema and every field the page reads:
    each must reach a value, but those in ``empty`` (an array the case leaves empty; True: any)."""
    call = CALLS_BY_NAME[name]
    headers = dict(acct.headers)
    if body is not None:
        body, headers["Content-Type"] = body
    resp = client.simulate_request(
        call.method, url(call, query, **ids), json=json, body=body, headers=headers
    )
    assert resp.status_code == status, f"{name}: {resp.status_code} {resp.text[:500]}"
    if status != 204:
        assert_valid(spec, call, resp)
        missed = {read for read, n in walk_reads(call, resp.json).items() if not n}
        assert empty is True or not missed - set(empty), f"{name}: read nothing at {missed}"
    return resp


def replays_into(registry: dict[str, tuple[str, ...]]):
    """A decorator that records in ``registry`` the calls a test replays (test name -> call
    names), for the test that checks every call of a module is replayed."""

    def replays(*names):
        def mark(func):
            registry[func.__name__] = names
            return func

        return mark

    return replays


# --- what the campaign pages compute ------------------------------------------------------------


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
