"""Text helpers: the accent-free, lower-case form that ``search`` columns and search terms share."""

from __future__ import annotations

import unicodedata

from peewee import fn


def fold(text: str) -> str:
    """``"João Condomínio"`` -> ``"joao condominio"``: strip accents, lower-case."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def search_text(*parts: str) -> str:
    """The ``search`` column value: the searchable fields folded and joined by spaces."""
    return " ".join(fold(p) for p in parts if p)


def like_pattern(term: str) -> str:
    """A ``LIKE '%term%'`` pattern for a user's search term, with wildcards escaped."""
    folded = fold(term.strip())
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Latin letters with accents, and what ``fold`` makes of each (one character each).
_ACCENTED = "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖòóôõöÙÚÛÜùúûüÝýÿ"
_PLAIN = fold(_ACCENTED)
assert len(_PLAIN) == len(_ACCENTED)


def folded(column):
    """SQL for ``column`` folded like :func:`fold` (Latin accents), to match a ``like_pattern``.

    For name columns without a ``search`` copy: ``folded(Model.name) % like_pattern(term)``.
    """
    return fn.lower(fn.translate(column, _ACCENTED, _PLAIN))
