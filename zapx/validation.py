"""Declarative checks of JSON input, with messages that name the field and the problem.

A schema is a tuple of :class:`Field`; :func:`parse` turns a decoded JSON object into a dict of
model attribute names, or raises :class:`~zapx.errors.ValidationError`. Unknown keys are ignored
(the Whaticket frontend sends whole objects back on PUT, ``id`` and ``createdAt`` included).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from zapx.errors import ValidationError

_MISSING = object()
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    float: "a number",
    list: "an array",
    dict: "an object",
}


@dataclasses.dataclass(frozen=True)
class Field:
    """One input field: JSON name ``name`` stored as ``attr`` (default: same name)."""

    name: str
    type: type = str
    attr: str | None = None
    required: bool = False
    nullable: bool = False
    max_len: int | None = None
    min_len: int = 0
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    strip: bool = True
    #: Extra check/transform applied after the type checks; raises ValidationError.
    clean: Callable[[Any], Any] | None = None

    @property
    def key(self) -> str:
        return self.attr or self.name


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as PostgreSQL text or jsonb, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no unpaired surrogates)"
    return None


def _check(field: Field, value: Any) -> Any:
    name = field.name
    if value is None:
        if field.nullable:
            return None
        raise ValidationError(f"{name} must not be null", field=name)
    kind = field.type
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        # Only floats can be NaN/inf (math.isfinite overflows on a huge int, e.g. 10**400).
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ValidationError(f"{name} must be {_TYPE_NAMES[kind]}", field=name)
    if kind is str:
        if field.strip:
            value = value.strip()
        problem = text_problem(value)
        if problem:
            raise ValidationError(f"{name} {problem}", field=name)
    if kind in (str, list, dict):
        if field.max_len is not None and len(value) > field.max_len:
            unit = "characters" if kind is str else "items"
            raise ValidationError(f"{name} must be at most {field.max_len} {unit}", field=name)
        if len(value) < field.min_len:
            if field.min_len == 1 and kind is str:
                raise ValidationError(f"{name} must not be empty", field=name)
            raise ValidationError(f"{name} must be at least {field.min_len} long", field=name)
    if field.min is not None and value < field.min:
        raise ValidationError(f"{name} must be at least {field.min:g}", field=name)
    if field.max is not None and value > field.max:
        raise ValidationError(f"{name} must be at most {field.max:g}", field=name)
    if field.choices is not None and value not in field.choices:
        allowed = ", ".join(str(c) for c in field.choices)
        raise ValidationError(f"{name} must be one of: {allowed}", field=name)
    if field.clean is not None:
        value = field.clean(value)
    return value


def parse(body: Any, schema: tuple[Field, ...], *, partial: bool = False) -> dict[str, Any]:
    """Validate ``body`` against ``schema``.

    With ``partial`` (an update), absent fields are left out instead of being required.
    Returns ``{attr: value}`` for the fields present.
    """
    if not isinstance(body, Mapping):
        raise ValidationError("request body must be a JSON object")
    out: dict[str, Any] = {}
    for field in schema:
        value = body.get(field.name, _MISSING)
        if value is _MISSING:
            if field.required and not partial:
                raise ValidationError(f"{field.name} is required", field=field.name)
            continue
        out[field.key] = _check(field, value)
    return out


def positive_id(value: Any, name: str) -> int:
    """An id from a URL or body: a positive 32-bit integer (digits in a string allowed)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValidationError(f"{name} must be a positive integer id", field=name)
    return value


def extra_info(value: list) -> list[dict[str, str]]:
    """``extraInfo``: ``[{name, value}]`` custom fields; names unique, both strings."""
    out, seen = [], set()
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ValidationError(f"extraInfo[{i}] must be an object", field="extraInfo")
        name, val = item.get("name"), item.get("value", "")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ValidationError(
                f"extraInfo[{i}].name must be a non-empty string of at most 100 characters",
                field="extraInfo",
            )
        if isinstance(val, int | float) and not isinstance(val, bool):
            val = str(val)
        if not isinstance(val, str) or len(val) > 1000:
            raise ValidationError(
                f"extraInfo[{i}].value must be a string of at most 1000 characters",
                field="extraInfo",
            )
        for part, text in (("name", name), ("value", val)):
            problem = text_problem(text)
            if problem:
                raise ValidationError(f"extraInfo[{i}].{part} {problem}", field="extraInfo")
        if name.strip() in seen:
            raise ValidationError(f"extraInfo has a duplicate name {name!r}", field="extraInfo")
        seen.add(name.strip())
        out.append({"name": name.strip(), "value": val.strip()})
    return out
