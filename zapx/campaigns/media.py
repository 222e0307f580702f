"""A campaign's media file: stored under ``MEDIA_DIR``, fetched by providers from a public URL.

Files live at ``<company>/<campaign>/<random token>/<safe name>.<ext>``; the random token makes
the public URL unguessable (providers fetch it without credentials, as the Cloud API requires).
The type is detected from the content when the file is uploaded and the extension says it: the
public URL serves it with that type and nothing else (``media_types.served``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path

from zapx.campaigns import lifecycle, media_types
from zapx.campaigns.media_types import MediaType
from zapx.db import Tenant, db, utcnow
from zapx.db.campaign_models import Campaign
from zapx.errors import NotFound, ValidationError
from zapx.uploads import write_limited

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PART = re.compile(r"[A-Za-z0-9._-]{1,128}")


def safe_name(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _SAFE.sub("_", os.path.basename(ascii_name)).strip("._") or "file"
    return cleaned[-100:]


def public_url(base: str, media_path: str) -> str:
    return f"{base}/public/media/{media_path}"


@dataclasses.dataclass(frozen=True)
class Stored:
    """An upload written and checked, not yet the campaign's (see :func:`store`)."""

    relative: str  # <company>/<campaign>/<token>/<safe name>.<detected extension>
    name: str  # the name shown to recipients, with an extension of the detected type
    type: MediaType
    size: int  # bytes


def _locked(tenant: Tenant, campaign_id: int) -> Campaign:
    row = tenant.select(Campaign).where(Campaign.id == campaign_id).for_update().first()
    if row is None:
        raise NotFound(f"Campaign {campaign_id} not found")
    lifecycle.check_editable(row.status)
    return row


def store(
    tenant: Tenant, campaign_id: int, media_dir: str, filename: str, stream, max_bytes: int
) -> Stored:
    """Write the upload (streamed, at most ``max_bytes``) into a new random directory and check
    its type by content (:mod:`zapx.campaigns.media_types`); the campaign is not changed yet.

    The stored name takes the detected type's extension, which is what the public URL serves
    it as. Any error removes what was written. ``filename`` is the client's (cleaned) name.
    """
    lifecycle.check_editable(tenant.get(Campaign, campaign_id, label="Campaign").status)
    parent = Path(media_dir) / str(tenant.company_id) / str(campaign_id)
    stored, name, found, size = write_detected(parent, filename, stream, max_bytes)
    relative = f"{tenant.company_id}/{campaign_id}/{stored}"
    return Stored(relative, name[:255], found, size)


def write_detected(
    parent: Path,
    filename: str | None,
    stream,
    max_bytes: int,
    *,
    field: str = "file",
    empty: str = "file is empty",
) -> tuple[str, str, MediaType, int]:
    """Write an upload (streamed, at most ``max_bytes``) into a new random directory under
    ``parent`` and read its type from its content; anything refused is removed at once.

    Returns ``(<token>/<safe name>.<detected extension>, the name recipients see, the type,
    bytes)``. Errors name ``field``, the form's field (``file``, ``files``).
    """
    token = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
    folder = parent / token
    folder.mkdir(parents=True, exist_ok=True)
    upload = folder / ".upload"  # no URL can name it: parts never start with "."
    try:
        size = write_limited(stream, upload, max_bytes)
        if size == 0:
            raise ValidationError(empty, field=field)
        try:
            found = media_types.detect(upload, filename)
        except ValidationError as exc:
            if exc.field == field:
                raise
            raise ValidationError(exc.message, field=field) from None
        name = media_types.display_name(filename or "file", found)
        stored = f"{safe_name(name.rsplit('.', 1)[0])[:90]}.{found.ext}"
        upload.rename(folder / stored)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return f"{token}/{stored}", name, found, size


def attach(tenant: Tenant, campaign_id: int, media_dir: str, upload: Stored) -> dict:
    """Point the campaign at ``upload`` and remove its previous file.

    The status is checked again under the row lock; the upload is removed if the campaign moved
    on while it was written.
    """
    try:
        with db.atomic():
            row = _locked(tenant, campaign_id)
            old = row.media_path
            row.media_path, row.media_name = upload.relative, upload.name
            row.media_type = upload.type.kind
            row.updated_at = utcnow()
            row.save()
    except BaseException:
        discard(media_dir, upload)
        raise
    if old:
        _remove(media_dir, old)
    return {
        "mediaPath": upload.relative,
        "mediaName": upload.name,
        "mediaType": upload.type.kind,
        "contentType": upload.type.mime,
        "size": upload.size,
    }


def discard(media_dir: str, upload: Stored) -> None:
    """Remove an upload that will not be attached."""
    _remove(media_dir, upload.relative)


def delete(tenant: Tenant, campaign_id: int, media_dir: str) -> None:
    with db.atomic():
        row = _locked(tenant, campaign_id)
        old = row.media_path
        if not old:
            raise NotFound(f"Campaign {campaign_id} has no media")
        row.media_path = row.media_name = row.media_type = ""
        row.updated_at = utcnow()
        row.save()
    _remove(media_dir, old)


def _remove(media_dir: str, relative: str) -> None:
    shutil.rmtree((Path(media_dir) / relative).parent, ignore_errors=True)


def resolve(media_dir: str, parts: list[str]) -> Path:
    """The file for a public URL's path parts, or NotFound (no traversal: parts are checked)."""
    if len(parts) != 4 or not all(_PART.fullmatch(p) and not p.startswith(".") for p in parts):
        raise NotFound("no such media")
    path = Path(media_dir).joinpath(*parts)
    if not path.is_file():
        raise NotFound("no such media")
    return path
