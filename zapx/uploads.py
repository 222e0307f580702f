"""Writing an uploaded file to disk, streamed, within a size limit."""

from __future__ import annotations

from pathlib import Path

from zapx.errors import ValidationError

CHUNK_BYTES = 256 * 1024


def write_limited(stream, target: Path, max_bytes: int) -> int:
    """Copy ``stream`` to ``target`` (its directory must exist); returns the size in bytes.

    More than ``max_bytes`` is a 400 naming the limit; the partial file is removed on any error.
    """
    size = 0
    try:
        with open(target, "wb") as out:
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise ValidationError(
                        f"file is larger than the limit of {max_bytes} bytes", field="file"
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return size
