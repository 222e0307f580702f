"""One source row -> one contact record, or the reason it is rejected; merging duplicates; and
the formula guard every CSV zapx writes goes through.

A record is a list ``[number, name, email, condominio, endereco, cargo, extra, assigned]`` with
``extra`` a dict of custom fields (name -> value) and ``assigned`` False for a well-formed
Brazilian number not in use, which only a list import keeps (``zapx.numbers.read_number``; the
item is marked as not on WhatsApp). Text is kept as written (trimmed): a cell starting with
``=``, ``+``, ``-`` or ``@`` is data to zapx and is stored as is; :func:`neutralize` defuses it
whenever zapx writes a CSV a spreadsheet may open.
"""

from __future__ import annotations

import csv
import functools
import io
from json.encoder import encode_basestring

from zapx.contact_fields import PERSON
from zapx.errors import ValidationError
from zapx.imports.headers import Columns
from zapx.numbers import read_number
from zapx.text import fold

NUMBER, NAME, EMAIL, CONDOMINIO, ENDERECO, CARGO, EXTRA, ASSIGNED = range(8)
MAX_TEXT = 255
MAX_CUSTOM_VALUE = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Rejected(Exception):
    """The row cannot be imported; ``str(exc)`` says why."""


class RowBuilder:
    """Turns cells into records for one header (``columns``), numbers read in ``region``;
    ``keep_unassigned`` keeps well-formed numbers not in use (list imports) instead of
    rejecting them."""

    def __init__(self, columns: Columns, region: str, *, keep_unassigned: bool = False):
        self.region = region
        self.keep_unassigned = keep_unassigned
        self.slots = [columns.index[f] for f in PERSON]
        self.custom = columns.custom
        self.width = len(columns.header)

    def build(self, cells: list[str]) -> list | None:
        """The record for ``cells``; None for a blank row; :class:`Rejected` for a bad one."""
        n = len(cells)
        values = [cells[i].strip() if i is not None and i < n else "" for i in self.slots]
        extra = None
        for i, name in self.custom:
            if i < n:
                value = cells[i].strip()
                if value:
                    if extra is None:
                        extra = {}
                    extra[name] = value
        if n > self.width:  # cells beyond the header keep their data as "column N"
            for i in range(self.width, n):
                value = cells[i].strip()
                if value:
                    if extra is None:
                        extra = {}
                    extra[f"column {i + 1}"] = value
        raw_number = values[NUMBER]
        if not raw_number:
            if not any(values) and extra is None:
                return None
            raise Rejected("number is empty")
        try:
            values[NUMBER], assigned = read_number(raw_number, self.region)
        except ValidationError as exc:
            raise Rejected(exc.message) from None
        if not (assigned or self.keep_unassigned):
            raise Rejected(f"number {raw_number!r} is not a valid phone number")
        for slot in (NAME, CONDOMINIO, ENDERECO, CARGO):
            if len(values[slot]) > MAX_TEXT:
                raise Rejected(f"{PERSON[slot]} is longer than {MAX_TEXT} characters")
        email = values[EMAIL]
        if email:
            if "@" not in email or " " in email or len(email) > MAX_TEXT:
                raise Rejected(f"email {email[:100]!r} is not a valid e-mail address")
            values[EMAIL] = email.lower()
        if extra is not None:
            for name, value in extra.items():
                if len(value) > MAX_CUSTOM_VALUE:
                    raise Rejected(f"{name} is longer than {MAX_CUSTOM_VALUE} characters")
        values.append(extra)
        values.append(assigned)
        return values


def merge(into: list, new: list) -> None:
    """Merge record ``new`` into ``into`` (same number): its non-empty values win."""
    for slot in (NAME, EMAIL, CONDOMINIO, ENDERECO, CARGO):
        if new[slot]:
            into[slot] = new[slot]
    if new[EXTRA]:
        if into[EXTRA] is None:
            into[EXTRA] = dict(new[EXTRA])
        else:
            into[EXTRA].update(new[EXTRA])


@functools.lru_cache(maxsize=65_536)
def _fold_word(word: str) -> str:
    return fold(word)


def search_of(name: str, number: str, email: str) -> str:
    """``zapx.text.search_text(name, number, email)``, faster: names repeat their words, so
    each word's accent-folding is cached (folding works word by word)."""
    if name and not name.isascii():
        name = " ".join([_fold_word(w) for w in name.split(" ")])
    else:
        name = name.lower()
    if email and not email.isascii():
        email = fold(email)
    return " ".join([p for p in (name, number, email) if p])


def extra_json(extra: dict | None) -> str:
    """``extraInfo`` as stored: ``[{"name": ..., "value": ...}]`` (without json.dumps' cost)."""
    if not extra:
        return "[]"
    items = [
        '{"name":' + encode_basestring(k) + ',"value":' + encode_basestring(v) + "}"
        for k, v in extra.items()
    ]
    return "[" + ",".join(items) + "]"


def neutralize(value: object) -> str:
    """A cell a spreadsheet will not run as a formula: ``=1+1`` -> ``'=1+1``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class SafeCsv:
    """CSV text with every cell through :func:`neutralize` (for CSVs people open in Excel)."""

    def __init__(self):
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\r\n")

    def row(self, cells) -> None:
        self._writer.writerow([neutralize(c) for c in cells])

    def take(self) -> str:
        text = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        return text
