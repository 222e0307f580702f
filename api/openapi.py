"""OpenAPI 3.1 description of the API, built from the route table and the validation schemas.

A responder is documented with :func:`doc`; :func:`build` walks the routes the app mounted and
emits one operation per documented responder. A responder without ``@doc`` is left out of the
spec, and ``tests/api/test_openapi.py`` compares the spec with ``falcon.inspect`` so that gap fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zapx.validation import Field

_JSON_TYPES = {
    str: "string",
    int: "integer",
    bool: "boolean",
    float: "number",
    list: "array",
    dict: "object",
}
_PAGE_QUERY = ("searchParam", "pageNumber")
_ERROR = {"$ref": "#/components/schemas/Error"}


def doc(
    summary: str,
    *,
    body: tuple[Field, ...] | dict | None = None,
    query: Iterable[str] = (),
    status: int = 200,
    returns: str = "object",
    public: bool = False,
    paged: bool = False,
    response: dict | None = None,
    also: dict[int, dict] | None = None,
    multipart: bool = False,
):
    """Attach an OpenAPI operation description to a responder (``on_get`` etc.).

    ``response`` is the JSON schema of the ``status`` answer (``api/schemas.py``; without it
    only ``returns`` says object or array), ``also`` maps other success statuses to their schemas
    (the 202 of a queued import), ``multipart`` makes ``body`` a ``multipart/form-data`` body.
    """

    def attach(func):
        func.__apidoc__ = {
            "summary": summary,
            "body": body,
            "query": tuple(query) + (_PAGE_QUERY if paged else ()),
            "status": status,
            "returns": returns,
            "public": public,
            "response": response,
            "also": dict(also or {}),
            "multipart": multipart,
        }
        return func

    return attach


def nullable(schema: dict) -> dict:
    """``schema`` or ``null``."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return schema | {"type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict, *, optional: Iterable[str] = ()) -> dict:
    """An object whose every property is required except ``optional``; others allowed."""
    skip = set(optional)
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in skip],
    }


def array_of(item: dict) -> dict:
    return {"type": "array", "items": item}


def page_of(key: str, item: dict) -> dict:
    """A page as the Whaticket frontend reads it: ``{<key>: [...], count, hasMore}``."""
    return obj({key: array_of(item), "count": {"type": "integer"}, "hasMore": {"type": "boolean"}})


def field_schema(field: Field) -> dict:
    schema: dict = {"type": _JSON_TYPES[field.type]}
    if field.nullable:
        schema["type"] = [schema["type"], "null"]
    if field.max_len is not None:
        key = "maxLength" if field.type is str else "maxItems"
        schema[key] = field.max_len
    if field.min_len:
        schema["minLength" if field.type is str else "minItems"] = field.min_len
    if field.min is not None:
        schema["minimum"] = field.min
    if field.max is not None:
        schema["maximum"] = field.max
    if field.choices is not None:
        schema["enum"] = list(field.choices)
    return schema


def body_schema(body: tuple[Field, ...] | dict) -> dict:
    if isinstance(body, dict):
        return body
    return {
        "type": "object",
        "properties": {f.name: field_schema(f) for f in body},
        "required": [f.name for f in body if f.required],
    }


def _operation(path: str, method: str, info: dict) -> dict:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1}
            if name in ("id", "company", "campaign")
            else {"type": "string"},
        }
        for name in re.findall(r"{(\w+)}", path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in info["query"]
    ]
    status = str(info["status"])
    if status == "204":
        ok = {"description": "done, no content"}
    elif info["returns"] == "text":  # a text page (/metrics), not JSON
        ok = {"description": "success", "content": {"text/plain": {"schema": {"type": "string"}}}}
    else:
        kind = {"type": "array"} if info["returns"] == "array" else {"type": "object"}
        schema = info.get("response") or kind
        ok = {"description": "success", "content": {"application/json": {"schema": schema}}}
    error = {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
    responses = {status: ok}
    for other, schema in sorted(info.get("also", {}).items()):
        responses[str(other)] = {
            "description": "success",
            "content": {"application/json": {"schema": schema}},
        }
    op = {
        "summary": info["summary"],
        "operationId": f"{method}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
        "parameters": params,
        "responses": {**responses, "4XX": error},
    }
    if info["body"] is not None:
        schema = body_schema(info["body"])
        # A body with a file in it is an upload: multipart, not JSON (docs/API.md, Content-Type).
        files = any(p.get("format") == "binary" for p in schema.get("properties", {}).values())
        media_type = "multipart/form-data" if files or info.get("multipart") else "application/json"
        op["requestBody"] = {"required": True, "content": {media_type: {"schema": schema}}}
    if info["public"]:
        op["security"] = []
    return op


def build(routes: Iterable[tuple[str, object, str | None]], version: str) -> dict:
    """The spec for ``routes``: ``(uri template, resource, suffix)`` as mounted on the app."""
    paths: dict[str, dict] = {}
    for template, resource, suffix in routes:
        item = paths.setdefault(template, {})
        for method in ("get", "post", "put", "patch", "delete"):
            name = f"on_{method}" + (f"_{suffix}" if suffix else "")
            responder = getattr(resource, name, None)
            info = getattr(responder, "__apidoc__", None)
            if info is not None:
                item[method] = _operation(template, method, info)
    return {
        "openapi": "3.1.0",
        "info": {"title": "zapx", "version": version},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                    },
                    "required": ["error", "message"],
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
