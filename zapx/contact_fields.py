"""A person's fields, as contacts, list items and campaign shipping rows all store them.

One statement of their names and order: the import's records, the SQL column lists (the
campaign snapshot, the worker's claim, the import's staging and upserts) and the API's person
dicts are built from it. The API name of each is its column name, except ``extraInfo``.
"""

from __future__ import annotations

from typing import Final

#: The text fields, number first (the order of an import record and of every column list).
PERSON: Final = ("number", "name", "email", "condominio", "endereco", "cargo")
#: The custom fields column: a JSON list of ``{name, value}``.
EXTRA_COLUMN: Final = "extra_info"
#: Every column of a person, in order.
COLUMNS: Final = (*PERSON, EXTRA_COLUMN)
#: API name -> column.
API_NAMES: Final = {**{f: f for f in PERSON}, "extraInfo": EXTRA_COLUMN}


def column_list(prefix: str = "", fields: tuple[str, ...] = COLUMNS) -> str:
    """``fields`` for SQL text, each after ``prefix``: ``column_list("i.")`` is
    ``"i.number, i.name, ..., i.extra_info"``."""
    return ", ".join(prefix + f for f in fields)
