"""The files of a file list's options: ``POST /files/uploadList/{id}``, as the frontend's FileModal
sends it (multipart ``fileId``, ``typeArch``, then per file ``files``, ``mediaType``, ``name``,
``message``, ``id``, repeated fields in that order).

Each file is written under ``MEDIA_DIR/<company>/files/<random token>/`` and its type read from
its content (:mod:`zapx.campaigns.media_types`: the accepted WhatsApp media types; the client's
``mediaType`` and file name are not believed). Nothing is kept unless every file passes and every
``id`` is an option of the list: then the options change in one transaction and the files they
had are removed.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from zapx.campaigns import media_types
from zapx.campaigns.media import write_detected
from zapx.db import FileList, FileOption, Tenant, db, utcnow
from zapx.errors import ValidationError
from zapx.files import remove_file, show_list
from zapx.validation import positive_id, text_problem

log = logging.getLogger("zapx.files")

#: The text fields of the form, repeated once per file.
TEXT_FIELDS = ("mediaType", "name", "message", "id")


@dataclasses.dataclass(frozen=True)
class Staged:
    """A file written and checked, not yet any option's."""

    relative: str  # <company>/files/<token>/<safe name>.<detected extension>
    name: str  # the client's file name, cleaned
    type: media_types.MediaType
    size: int  # bytes


def check_list(tenant: Tenant, list_id: int) -> None:
    """A 404 (``ERR_NO_FILE_FOUND``) before any byte is written when the list is not ours."""
    tenant.get(FileList, list_id, label="File list")


def stage(tenant: Tenant, media_dir: str, filename: str, stream, max_bytes: int) -> Staged:
    """Write one uploaded file (streamed, at most ``max_bytes``) into a new random directory and
    check its type by content; anything refused is removed at once."""
    parent = Path(media_dir) / str(tenant.company_id) / "files"
    stored, _, found, size = write_detected(
        parent, filename, stream, max_bytes, field="files", empty="a file in 'files' is empty"
    )
    return Staged(f"{tenant.company_id}/files/{stored}", filename, found, size)


def discard(media_dir: str, staged: list[Staged]) -> None:
    for s in staged:
        remove_file(media_dir, s.relative)


def _field(values: list[str], i: int, name: str, limit: int) -> str | None:
    if i >= len(values):
        return None
    value = values[i]
    if len(value) > limit or text_problem(value):
        raise ValidationError(f"{name}[{i}] must be text of at most {limit} characters", field=name)
    return value


def attach(
    tenant: Tenant, list_id: int, media_dir: str, staged: list[Staged], fields: dict
) -> dict:
    """Give ``staged[i]`` to the option ``fields["id"][i]`` with ``name[i]`` and ``message[i]``
    (when sent); ``fields["fileId"]``, when sent, must be the list's id. Returns the list as
    ``GET /files/{id}`` shows it. On any error the staged files are removed."""
    try:
        if not staged:
            raise ValidationError("no multipart field named 'files'", field="files")
        file_id = fields.get("fileId") or []
        if file_id and file_id[0] != str(list_id):
            raise ValidationError(
                f"fileId {file_id[0][:20]!r} is not the list of the URL ({list_id})",
                field="fileId",
            )
        ids = fields.get("id") or []
        if len(ids) < len(staged):
            raise ValidationError(
                f"{len(staged)} files but {len(ids)} option ids: send an 'id' for each file",
                field="id",
            )
        targets = [positive_id(v, "id") for v in ids[: len(staged)]]
        if len(set(targets)) != len(targets):
            raise ValidationError("an option id is given twice", field="id")
        old = _store(tenant, list_id, staged, targets, fields)
    except BaseException:
        discard(media_dir, staged)
        raise
    for relative in old:
        remove_file(media_dir, relative)
    log.info(
        "file list files stored",
        extra={
            "company_id": tenant.company_id,
            "file_list_id": list_id,
            "files": len(staged),
            "bytes": sum(s.size for s in staged),
        },
    )
    return show_list(tenant, list_id)


def _store(
    tenant: Tenant, list_id: int, staged: list[Staged], targets: list[int], fields: dict
) -> list[str]:
    """Point each target option at its file; returns the files they had before."""
    names, messages = fields.get("name") or [], fields.get("message") or []
    with db.atomic():
        row = tenant.select(FileList).where(FileList.id == list_id).for_update().first()
        if row is None:
            tenant.get(FileList, list_id, label="File list")  # raises NotFound
        options = {
            o.id: o
            for o in FileOption.select().where(
                (FileOption.file == row.id) & FileOption.id.in_(targets)
            )
        }
        old = []
        now = utcnow()
        for i, (upload, option_id) in enumerate(zip(staged, targets, strict=True)):
            option = options.get(option_id)
            if option is None:
                raise ValidationError(
                    f"id[{i}] {option_id} is not an option of file list {list_id}", field="id"
                )
            if option.path:
                old.append(option.path)
            name = _field(names, i, "name", 255)
            message = _field(messages, i, "message", 4096)
            option.path, option.media_type = upload.relative, upload.type.mime
            option.name = name if name else option.name or upload.name[:255]
            if message is not None:
                option.message = message
            option.updated_at = now
            option.save()
    return old
