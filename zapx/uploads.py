"""Uploaded files: the client's file name made safe to keep, and writing the file to disk,
streamed, within a size limit."""

from __future__ import annotations

import re
from pathlib import Path

from zapx.errors import ValidationError
from zapx.validation import text_problem

CHUNK_BYTES = 256 * 1024
MAX_NAME = 255
_CONTROLS = re.compile("[\x00-\x1f\x7f]")


def clean_filename(name: str) -> str:
    """The client's file name as zapx keeps and shows it: its last path segment (browsers on
    Windows may send ``C:\\fakepath\\x.csv``), control characters removed, at most 255
    characters (the extension kept); ``""`` when nothing is left. A NUL or an unpaired
    surrogate is a 400: it cannot be stored, and no real file name holds one."""
    problem = text_problem(name)
    if problem:
        raise ValidationError(f"the file name {problem}", field="file")
    name = _CONTROLS.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in (".", ".."):
        return ""
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = dot + ext if dot and len(ext) <= 16 else ""
        name = (name[: -len(ext)] if ext else name)[: MAX_NAME - len(ext)] + ext
    return name


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
