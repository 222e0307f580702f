"""Telling Office files apart by what they hold: an Office Open XML file (docx, xlsx, pptx) is a
ZIP with ``[Content_Types].xml`` and the main part of Word, Excel or PowerPoint; a 97-2003 file
(doc, xls, ppt) an OLE compound file (MS-CFB) whose main stream names the program.

Each function returns the file's extension when it is one of these, else a few words saying what
the file is (for the refusal's message). Macros and encryption are refused: a campaign sends the
file to thousands of people.
"""

from __future__ import annotations

import struct
import zipfile
from typing import BinaryIO


def zip_kind(f: BinaryIO) -> str:
    """Office Open XML is a ZIP with ``[Content_Types].xml`` and the main part of Word, Excel
    or PowerPoint; only the central directory is read (nothing is inflated)."""
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return "a damaged ZIP archive"
    if "[Content_Types].xml" in names:
        for ext, main in (
            ("docx", "word/document.xml"),
            ("xlsx", "xl/workbook.xml"),
            ("pptx", "ppt/presentation.xml"),
        ):
            if main in names:
                if main.split("/")[0] + "/vbaProject.bin" in names:
                    return "an Office document with macros"
                return ext
    if "mimetype" in names:
        return "an OpenDocument file (save it as DOCX, XLSX, PPTX or PDF)"
    if "AndroidManifest.xml" in names:
        return "an Android app (APK)"
    if "META-INF/MANIFEST.MF" in names:
        return "a Java archive (JAR)"
    return "a ZIP archive"


_END = 0xFFFFFFFA  # sector numbers from here up are markers (end of chain, free, FAT, DIFAT)


def ole_kind(f: BinaryIO) -> str:
    """A 97-2003 Office file is an OLE compound file whose main stream names the program."""
    names = _cfb_names(f)
    if names is None:
        return "a damaged OLE compound file"
    if "encryptedpackage" in names:
        return "a password-protected Office document"
    if names & {"macros", "_vba_project_cur", "vba"}:
        return "an Office document with macros"
    for stream, ext in (
        ("worddocument", "doc"),
        ("workbook", "xls"),
        ("book", "xls"),
        ("powerpoint document", "ppt"),
    ):
        if stream in names:
            return ext
    return "an OLE compound file that is not a Word, Excel or PowerPoint document (an installer?)"


def _cfb_names(f: BinaryIO, max_sectors: int = 100_000) -> set[str] | None:
    """The lower-cased names of every storage and stream in an OLE compound file (MS-CFB): the
    directory's sector chain is followed through the FAT, whose sectors the DIFAT lists."""
    try:
        f.seek(0)
        header = f.read(512)
        shift = struct.unpack_from("<H", header, 0x1E)[0]
        if shift not in (9, 12):
            return None
        size = 1 << shift
        per_sector = size // 4

        def sector(number: int) -> bytes:
            f.seek((number + 1) << shift)
            data = f.read(size)
            if len(data) < size:
                raise ValueError("sector past the end of the file")
            return data

        fat_sectors = list(struct.unpack_from("<109I", header, 0x4C))
        difat, seen = struct.unpack_from("<I", header, 0x44)[0], 0
        while difat < _END and seen < max_sectors:
            entries = struct.unpack(f"<{per_sector}I", sector(difat))
            fat_sectors += entries[:-1]
            difat, seen = entries[-1], seen + 1
        fat_sectors = [s for s in fat_sectors if s < _END]

        def following(number: int) -> int:
            index, offset = divmod(number, per_sector)
            if index >= len(fat_sectors):
                return _END
            f.seek(((fat_sectors[index] + 1) << shift) + offset * 4)
            return struct.unpack("<I", f.read(4))[0]

        names: set[str] = set()
        current, visited = struct.unpack_from("<I", header, 0x30)[0], set()
        while current < _END and current not in visited and len(visited) < max_sectors:
            visited.add(current)
            data = sector(current)
            for offset in range(0, size, 128):
                length, kind = struct.unpack_from("<HB", data, offset + 64)
                if kind in (1, 2) and 2 <= length <= 64:
                    raw = data[offset : offset + length - 2]
                    names.add(raw.decode("utf-16-le", errors="replace").lower())
            current = following(current)
        return names
    except (struct.error, OSError, ValueError):
        return None
