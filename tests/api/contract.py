"""Checks for the frontend contract tests: what a page reads, and what ``/openapi.json`` says.

- :func:`check_reads` walks a ``reads`` path of ``tests/api/frontend_calls.py`` (``a.b``,
  ``a[].b``, a leading ``[]`` for an array body, ``... when key``) through a real answer and
  checks every value it reaches against the type the original backend's shape gives for it.
- :func:`validate` checks a value against a JSON schema: the subset ``api/schemas.py`` uses
  (``type`` with ``null``, ``properties``, ``required``, ``items``, ``enum``, ``$ref``, the
  ``date-time`` format), so no schema library is needed.
- :func:`multipart` builds a ``multipart/form-data`` body as a browser's ``FormData`` does.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import uuid

# --- what a page reads ---------------------------------------------------------------------------

_UNKNOWN = object()  # the original's shape says nothing about this value


@dataclasses.dataclass
class Read:
    """One ``reads`` entry: the path's steps, and the sibling key that must be set, if any."""

    text: str
    steps: list[str]
    when: str | None


def parse_read(text: str) -> Read | None:
    """The read of ``text`` (``"records[].contactList.name when contactListId"``); None for the
    ``*`` entries (every key, for forms that send back what they got)."""
    if text.startswith("*"):
        return None
    path, _, rest = text.partition(" ")
    when = rest[5:].split()[0] if rest.startswith("when ") else None
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
    return Read(text, steps, when)


class ContractError(AssertionError):
    pass


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
        reached = _walk(body, shape, read, 0, "", body, allow_empty)
        if reached == 0 and not _allowed(read, allow_empty):
            raise ContractError(f"{text}: no value to check (set up data that has it)")
        checked += reached
    return checked


def _allowed(read: Read, allow_empty) -> bool:
    prefix = ""
    for step in read.steps:
        if step == "[]":
            if prefix in allow_empty:
                return True
            continue
        prefix = f"{prefix}.{step}" if prefix else step
    return False


def _walk(value, shape, read: Read, i: int, where: str, element, allow_empty) -> int:
    steps = read.steps
    # "when key": a sibling of the innermost array's element (or of the body's top level).
    when_at = max((n + 1 for n, s in enumerate(steps) if s == "[]"), default=0)
    if i == when_at and read.when is not None and _get(element, read.when) in (None, _UNKNOWN):
        return 0  # the page reads it only when the sibling key is set
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
            _walk(item, inner, read, i + 1, f"{where}[{n}]", item, allow_empty)
            for n, item in enumerate(value)
        )
    if value is None and _nullable_object(shape):
        return 1  # the original's shape allows null here (the page guards it)
    if not isinstance(value, dict):
        raise ContractError(f"{read.text}: {where or 'the body'} is not an object: {value!r}")
    here = f"{where}.{step}" if where else step
    if step not in value:
        raise ContractError(f"{read.text}: {here} is missing (keys: {sorted(value)})")
    inner = shape.get(step, _UNKNOWN) if isinstance(shape, dict) else _UNKNOWN
    return _walk(value[step], inner, read, i + 1, here, element, allow_empty)


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


# --- JSON schema (the subset api/schemas.py uses) ------------------------------------------------

_JSON_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(value, schema: dict, root: dict, where: str = "$") -> None:
    """Raise :class:`ContractError` naming the first place where ``value`` breaks ``schema``
    (``$ref`` resolved in ``root``, the OpenAPI document)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        validate(value, target, root, where)
        return
    unknown = set(schema) - {
        "type",
        "properties",
        "required",
        "items",
        "enum",
        "format",
        "description",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
    }
    if unknown:
        raise ContractError(f"{where}: the validator does not know {sorted(unknown)}")
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_JSON_TYPES[k](value) for k in kinds):
            raise ContractError(f"{where}: {value!r} is not {' or '.join(kinds)}")
    if "enum" in schema and value not in schema["enum"]:
        raise ContractError(f"{where}: {value!r} is not one of {schema['enum']}")
    if schema.get("format") == "date-time" and isinstance(value, str) and not _is_date(value):
        raise ContractError(f"{where}: {value!r} is not a date-time")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                raise ContractError(f"{where}: {key!r} is required (keys: {sorted(value)})")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                validate(value[key], sub, root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value):
            validate(item, schema["items"], root, f"{where}[{n}]")


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
