"""Reading contact files as they come from the field, one row at a time, in constant memory.

CSV: the delimiter (``,`` ``;`` or tab) and the encoding (UTF-8 with or without BOM, UTF-16 with
BOM, else Windows-1252, or Mac Roman for a file whose lines end in CR alone) are detected from the
first 256 KiB; lines may end in CR LF, LF or CR alone (Excel's "CSV (Macintosh)"); quoted fields
may hold line breaks.
XLSX: the zip directory is checked for bombs before openpyxl opens the workbook (read-only,
streamed; the values Excel last computed, not formulas). Anything else is refused with a
:class:`~zapx.errors.ValidationError` that says what the file looks like.

Rows are numbered as a spreadsheet numbers them: the first record is row 1, a quoted field with a
line break does not start a new row, and blank rows count.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime
import io
import itertools
import os
import zipfile
import zlib
from collections.abc import Iterator

import openpyxl

from zapx.errors import ValidationError

SAMPLE_BYTES = 256 * 1024
DELIMITERS = (",", ";", "\t")
#: Zip-bomb guards, checked against the zip directory before any byte is inflated. zipfile never
#: inflates a member past the size its directory entry declares, so a lying entry cannot get
#: around them (it ends in a CRC error instead).
XLSX_MAX_MEMBERS = 10_000
XLSX_MAX_UNCOMPRESSED = 2 * 1024**3
XLSX_MAX_RATIO = 200  # for members over XLSX_RATIO_FROM bytes; real sheets compress 5-30x
XLSX_RATIO_FROM = 1024 * 1024

_MAGIC = (
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 (XLS) or other OLE file: save it as XLSX or CSV"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


def _fallback(exc: UnicodeError):
    """Decode error handler: a byte that is not valid in the detected encoding is read as
    Windows-1252 (Latin-1 for the five bytes 1252 leaves undefined), so a stray byte in a
    UTF-8 file costs an accent, never the import."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_CP1252[b] for b in bad), exc.end


_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]


codecs.register_error("zapx-cp1252", _fallback)
ERRORS = "zapx-cp1252"


@dataclasses.dataclass(frozen=True)
class Source:
    """A validated file: its format and how to read it."""

    path: str
    format: str  # "csv" | "xlsx"
    size: int
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""


def _problem(message: str, field: str = "file") -> ValidationError:
    return ValidationError(message, field=field)


def open_source(path: str, sheet: str | None = None) -> Source:
    """Sniff ``path`` and return how to read it, or raise ValidationError saying why not."""
    size = os.path.getsize(path)
    if size == 0:
        raise _problem("file is empty")
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    if sample.startswith(b"PK\x03\x04") or sample.startswith(b"PK\x05\x06"):
        return Source(path, "xlsx", size, sheet=_check_xlsx(path, sheet))
    for magic, what in _MAGIC:
        if sample.startswith(magic):
            raise _problem(f"not a CSV or XLSX file: it looks like {what}")
    if sheet:
        raise _problem("a sheet can only be chosen in an XLSX file", field="sheet")
    encoding = detect_encoding(sample, complete=size <= SAMPLE_BYTES)
    text = sample.decode(encoding, errors=ERRORS)
    if encoding.startswith("utf-16"):
        text = text.lstrip("\ufeff")
    if not text.strip():
        raise _problem("file is empty")
    if _looks_binary(text):
        raise _problem("not a CSV or XLSX file: it holds binary data")
    return Source(path, "csv", size, encoding=encoding, delimiter=detect_delimiter(text))


def detect_encoding(sample: bytes, complete: bool = True) -> str:
    """``utf-8-sig``, ``utf-16`` (with a BOM), ``utf-8`` when the sample decodes, else ``cp1252``
    (``mac_roman`` when the lines end in CR alone: only classic Mac software and Excel's "CSV
    (Macintosh)" write those, and both write Mac Roman).

    ``complete`` is False when the sample is a prefix: a multi-byte character cut at its end
    does not count against UTF-8.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        truncated = not complete and exc.start >= len(sample) - 3 and "end" in exc.reason
        if truncated:
            return "utf-8"
        return "mac_roman" if b"\r" in sample and b"\n" not in sample else "cp1252"
    return "utf-8"


def _looks_binary(text: str) -> bool:
    controls = sum(1 for c in text if c < " " and c not in "\t\r\n\f")
    return "\x00" in text or controls > len(text) // 100


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the sample's first records into the most consistent number of
    fields (more than one); ``,`` for a one-column file. Lines may end in CR LF, LF or CR."""
    body = text.rstrip("\r\n")
    cut = max(body.rfind("\n"), body.rfind("\r"))
    if cut >= 0:
        text = text[: cut + 1]  # drop a cut-off last line
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        # newline="": lines split at CR LF, LF and CR alone, as the reader of the rows splits them
        lines = io.StringIO(text, newline="")
        try:
            records = list(itertools.islice(csv.reader(lines, delimiter=delimiter), 50))
        except csv.Error:
            continue
        widths = [len(r) for r in records if any(cell.strip() for cell in r)]
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        score = (widths.count(mode) / len(widths), mode)
        if mode > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _check_xlsx(path: str, sheet: str | None) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
            total = 0
            if len(members) > XLSX_MAX_MEMBERS:
                raise _problem(f"XLSX file has {len(members)} parts; at most {XLSX_MAX_MEMBERS}")
            for m in members:
                total += m.file_size
                ratio = m.file_size / max(m.compress_size, 1)
                if m.file_size > XLSX_RATIO_FROM and ratio > XLSX_MAX_RATIO:
                    raise _problem(
                        f"refused: XLSX part {m.filename!r} inflates {ratio:.0f}x "
                        f"(a zip bomb?); at most {XLSX_MAX_RATIO}x"
                    )
            if total > XLSX_MAX_UNCOMPRESSED:
                raise _problem(
                    f"refused: XLSX file inflates to {total} bytes; at most {XLSX_MAX_UNCOMPRESSED}"
                )
    except zipfile.BadZipFile as exc:
        raise _problem(f"not a valid XLSX file: {exc}") from None
    if "xl/workbook.xml" not in names:
        if "content.xml" in names:
            raise _problem("not a CSV or XLSX file: an OpenDocument (ODS) file; save it as XLSX")
        raise _problem("not a CSV or XLSX file: a ZIP archive that is not an XLSX workbook")
    with _workbook(path) as wb:
        names = wb.sheetnames
        if sheet and sheet not in names:
            raise _problem(
                f"no sheet named {sheet!r}; the sheets are: {', '.join(names)}", field="sheet"
            )
        if not names:
            raise _problem("the workbook has no sheets")
        return sheet or names[0]


class _workbook:
    """``with _workbook(path) as wb``: a read-only workbook, closed on exit; errors become 400s."""

    def __init__(self, path: str):
        try:
            self.wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken file
            raise _problem(f"not a valid XLSX file: {type(exc).__name__}: {exc}"[:300]) from None

    def __enter__(self):
        return self.wb

    def __exit__(self, *exc):
        self.wb.close()


def cell_text(value) -> str:
    """An XLSX cell as text: integers without ``.0``, dates in ISO form, nothing as ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


class Rows:
    """Iterate ``(row number, cells)`` of a source; ``fraction()`` tells how far it got (0-1)."""

    def __init__(self, source: Source):
        self.source = source
        self._fraction = lambda: 0.0

    def fraction(self) -> float:
        return min(1.0, self._fraction())

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        if self.source.format == "xlsx":
            return self._xlsx()
        return self._csv()

    def _csv(self) -> Iterator[tuple[int, list[str]]]:
        src = self.source
        with open(src.path, "rb") as raw:
            fd = raw.fileno()
            self._fraction = lambda: os.lseek(fd, 0, os.SEEK_CUR) / src.size
            text = io.TextIOWrapper(raw, encoding=src.encoding, errors=ERRORS, newline="")
            # PostgreSQL text cannot hold NUL: drop it (no spreadsheet means it).
            lines = (ln.replace("\x00", "") if "\x00" in ln else ln for ln in text)
            reader = csv.reader(lines, delimiter=src.delimiter)
            number = 0
            try:
                for number, cells in enumerate(reader, 1):  # noqa: B007 - used in the error
                    yield number, cells
            except csv.Error as exc:
                raise _problem(f"row {number + 1} cannot be read as CSV: {exc}") from None
            finally:
                text.detach()

    def _xlsx(self) -> Iterator[tuple[int, list[str]]]:
        with _workbook(self.source.path) as wb:
            sheet = wb[self.source.sheet] if self.source.sheet else wb.worksheets[0]
            total = sheet.max_row or 0
            number = 0
            self._fraction = lambda: number / total if total else 0.0
            try:
                for number, values in enumerate(sheet.iter_rows(values_only=True), 1):  # noqa: B007
                    yield number, [cell_text(v).replace("\x00", "") for v in values]
            # A broken part surfaces from openpyxl as any of these, e.g. IndexError for a cell
            # that points past the end of the shared-strings table.
            except (
                zipfile.BadZipFile, zlib.error, SyntaxError, ValueError, KeyError, IndexError,
                TypeError, OverflowError, EOFError,
            ) as exc:  # fmt: skip
                what = (
                    "a cell refers to a shared string or style the file does not hold"
                    if isinstance(exc, IndexError)
                    else str(exc)
                )
                raise _problem(f"XLSX file is damaged after row {number}: {what}"[:300]) from None
