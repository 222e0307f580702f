"""A campaign's media file: stored under ``MEDIA_DIR``, fetched by providers from a public URL.

Files live at ``<company>/<campaign>/<random token>/<safe name>``; the random token makes the
public URL unguessable (providers fetch it without credentials, as the Cloud API requires).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path

from zapx.campaigns import lifecycle
from zapx.db import Tenant, db, utcnow
from zapx.db.campaign_models import Campaign
from zapx.errors import NotFound, ValidationError
from zapx.uploads import write_limited

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PART = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Content type prefix -> WhatsApp media type.
_KINDS = (("image/", "image"), ("video/", "video"), ("audio/", "audio"))


def safe_name(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _SAFE.sub("_", os.path.basename(ascii_name)).strip("._") or "file"
    return cleaned[-100:]


def media_kind(content_type: str | None) -> str:
    for prefix, kind in _KINDS:
        if (content_type or "").startswith(prefix):
            return kind
    return "document"


def public_url(base: str, media_path: str) -> str:
    return f"{base}/public/media/{media_path}"


def _locked(tenant: Tenant, campaign_id: int) -> Campaign:
    row = tenant.select(Campaign).where(Campaign.id == campaign_id).for_update().first()
    if row is None:
        raise NotFound(f"Campaign {campaign_id} not found")
    lifecycle.check_editable(row.status)
    return row


def save(
    tenant: Tenant,
    campaign_id: int,
    media_dir: str,
    filename: str,
    content_type: str | None,
    stream,
    max_bytes: int,
) -> dict:
    """Store the upload (streamed, at most ``max_bytes``) and point the campaign at it.

    The file is written before the campaign row is locked, so a slow upload holds no lock; the
    status is checked again under the lock and the file removed if the campaign moved on.
    """
    lifecycle.check_editable(tenant.get(Campaign, campaign_id, label="Campaign").status)
    name = safe_name(filename or "file")
    token = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
    relative = f"{tenant.company_id}/{campaign_id}/{token}/{name}"
    target = Path(media_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        size = write_limited(stream, target, max_bytes)
        if size == 0:
            raise ValidationError("file is empty", field="file")
        with db.atomic():
            row = _locked(tenant, campaign_id)
            old = row.media_path
            row.media_path, row.media_name = relative, (filename or name)[:255]
            row.media_type = media_kind(content_type)
            row.updated_at = utcnow()
            row.save()
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    if old:
        _remove(media_dir, old)
    return {
        "mediaPath": relative,
        "mediaName": row.media_name,
        "mediaType": row.media_type,
        "size": size,
    }


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
    if len(parts) != 4 or not all(_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        raise NotFound("no such media")
    path = Path(media_dir).joinpath(*parts)
    if not path.is_file():
        raise NotFound("no such media")
    return path
