"""File lists (``/files``, the frontend's Files page and the campaign form's picker): tenant-scoped
CRUD of a named list and its options, in the original's shapes.

A list is ``{id, companyId, name, message, createdAt, updatedAt}``; shown with its ``options``
(``{id, fileId, name, path, mediaType, message, ...}``, by id). Names are unique per company, as
the original's (a duplicate is a 409 ``ERR_RATING_NAME_ALREADY_EXISTS``, its code); a list of
another company, or an option of another list, is a 404 ``ERR_NO_FILE_FOUND``. An option's JSON
gives its name and message; its file comes from ``POST /files/uploadList/{id}``
(:mod:`zapx.file_uploads`), never from JSON: ``path`` and ``mediaType`` sent in a body are
ignored.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from peewee import IntegrityError

from zapx.db import FileList, FileOption, Tenant, db, utcnow
from zapx.errors import Conflict, ValidationError
from zapx.paging import paginate
from zapx.text import like_pattern
from zapx.validation import Field, parse, positive_id, text_problem

#: Options one list may hold (the frontend adds them one by one).
MAX_OPTIONS = 50
MAX_TEXT = 4096
DUPLICATE_NAME = "ERR_RATING_NAME_ALREADY_EXISTS"

LIST_FIELDS = (
    Field("name", required=True, min_len=3, max_len=255),
    Field("message", nullable=True, max_len=MAX_TEXT, strip=False),
    Field("options", list, max_len=MAX_OPTIONS),
)


def _iso(value):
    return value.isoformat() if value else None


def list_dict(row: FileList) -> dict:
    return {
        "id": row.id,
        "companyId": row.company_id,
        "name": row.name,
        "message": row.message,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
    }


def option_dict(row: FileOption) -> dict:
    return {
        "id": row.id,
        "fileId": row.file_id,
        "name": row.name,
        "path": row.path or None,
        "mediaType": row.media_type or None,
        "message": row.message,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
    }


def _text(item: Mapping, key: str, i: int, limit: int) -> str | None:
    """``options[i].key``: a string (``null`` or absent is None), at most ``limit`` characters."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(
            f"options[{i}].{key} must be a string of at most {limit} characters",
            field="options",
        )
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"options[{i}].{key} {problem}", field="options")
    return value


def _options(value: list) -> list[dict]:
    """``[{id?, name, message}]`` as the form sends them (``file: {}``, ``path``, ``mediaType``
    and the GET's other keys are ignored)."""
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ValidationError(f"options[{i}] must be an object", field="options")
        raw_id = item.get("id")
        out.append(
            {
                "id": None if raw_id is None else positive_id(raw_id, f"options[{i}].id"),
                "name": _text(item, "name", i, 255),
                "message": _text(item, "message", i, MAX_TEXT),
            }
        )
    return out


def _parse(body: object, *, partial: bool) -> dict:
    data = parse(body, LIST_FIELDS, partial=partial)
    if data.get("message") is None and "message" in data:
        data["message"] = ""  # null = empty, as the form sends it
    if "options" in data:
        data["options"] = _options(data["options"])
    return data


def _duplicate(name: str) -> Conflict:
    return Conflict(f"a file list named {name!r} already exists", field="name", code=DUPLICATE_NAME)


def _options_of(list_id: int) -> list[FileOption]:
    return list(FileOption.select().where(FileOption.file == list_id).order_by(FileOption.id))


def show_list(tenant: Tenant, list_id: int) -> dict:
    row = tenant.get(FileList, list_id, label="File list")
    return list_dict(row) | {"options": [option_dict(o) for o in _options_of(row.id)]}


def lists_page(tenant: Tenant, search: str | None, number: int) -> dict:
    """``{files, count, hasMore}``: 20 a page by name (the original's order and key)."""
    query = tenant.select(FileList).order_by(FileList.name, FileList.id)
    if search and search.strip():
        query = query.where(FileList.name.ilike(like_pattern(search)))
    page = paginate(query, number, list_dict)
    return {"files": page.pop("records"), **page}


def lists_all(tenant: Tenant) -> list[dict]:
    return [list_dict(r) for r in tenant.select(FileList).order_by(FileList.name, FileList.id)]


def create_list(tenant: Tenant, body: object) -> dict:
    data = _parse(body, partial=False)
    options = data.pop("options", [])
    try:
        with db.atomic():
            row = FileList.create(company=tenant.company_id, **data)
            _insert_options(tenant, row.id, options)
    except IntegrityError:
        raise _duplicate(data["name"]) from None
    return show_list(tenant, row.id)


def _insert_options(tenant: Tenant, list_id: int, options: list[dict]) -> None:
    now = utcnow()
    rows = [
        {
            "company": tenant.company_id,
            "file": list_id,
            "name": o["name"] or "",
            "message": o["message"] or "",
            "created_at": now,
            "updated_at": now,
        }
        for o in options
    ]
    if rows:
        FileOption.insert_many(rows).execute()


def update_list(tenant: Tenant, list_id: int, body: object, media_dir: str) -> dict:
    """Change the name and message; with ``options``, upsert them by id (an id must be one of
    this list's) and delete this list's options the array leaves out, with their files."""
    data = _parse(body, partial=True)
    options = data.pop("options", None)
    removed: list[str] = []
    try:
        with db.atomic():
            row = tenant.select(FileList).where(FileList.id == list_id).for_update().first()
            if row is None:
                tenant.get(FileList, list_id, label="File list")  # raises NotFound
            for key, value in data.items():
                setattr(row, key, value)
            row.save()
            if options is not None:
                removed = _replace_options(tenant, row.id, options)
    except IntegrityError:
        raise _duplicate(data.get("name", "")) from None
    for relative in removed:
        remove_file(media_dir, relative)
    return show_list(tenant, list_id)


def _replace_options(tenant: Tenant, list_id: int, options: list[dict]) -> list[str]:
    """Apply ``options`` to the list's; returns the stored files of the options deleted."""
    existing = {o.id: o for o in _options_of(list_id)}
    kept: set[int] = set()
    for i, given in enumerate(options):
        if given["id"] is None:
            continue
        option = existing.get(given["id"])
        if option is None:
            raise ValidationError(
                f"options[{i}].id {given['id']} is not an option of this file list",
                field="options",
            )
        kept.add(option.id)
        if given["name"] is not None:
            option.name = given["name"]
        if given["message"] is not None:
            option.message = given["message"]
        option.save()
    _insert_options(tenant, list_id, [o for o in options if o["id"] is None])
    gone = [o for oid, o in existing.items() if oid not in kept]
    if gone:
        FileOption.delete().where(FileOption.id.in_([o.id for o in gone])).execute()
    return [o.path for o in gone if o.path]


def delete_list(tenant: Tenant, list_id: int, media_dir: str) -> None:
    """Delete the list, its options and their stored files; a campaign naming it keeps going
    without it (``fileListId`` becomes null)."""
    with db.atomic():
        row = tenant.get(FileList, list_id, label="File list")
        paths = [o.path for o in _options_of(row.id) if o.path]
        row.delete_instance()  # options cascade; campaigns.file_list_id is set null
    for relative in paths:
        remove_file(media_dir, relative)


def remove_file(media_dir: str, relative: str) -> None:
    """Remove a stored option file with its random directory (``<company>/files/<token>/``)."""
    folder = (Path(media_dir) / relative).parent
    if folder.parent.name == "files":  # only ever a directory made by an upload
        shutil.rmtree(folder, ignore_errors=True)
