"""zapx.text: folding, the search column value, LIKE patterns (checked against PostgreSQL too)."""

from __future__ import annotations

import pytest

from zapx.db import db
from zapx.text import fold, like_pattern, search_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("João Condomínio", "joao condominio"),
        ("ÁÉÍÓÚ ÂÊÔ ÃÕ Ç À Ü", "aeiou aeo ao c a u"),
        ("São Paulo", "sao paulo"),
        ("PLAIN ascii 123", "plain ascii 123"),
        ("", ""),
        ("ﬁ", "fi"),  # compatibility ligature
        ("İstanbul", "istanbul"),  # no stray combining dot
        ("Ñandú", "nandu"),
    ],
)
def test_fold(raw, expected):
    assert fold(raw) == expected


def test_fold_is_idempotent_and_agrees_with_ascii_lowercase():
    for text in ("Maria José", "ACME Ltda.", "Conceição"):
        assert fold(fold(text)) == fold(text)
    assert fold("ABC") == "ABC".lower()


def test_search_text_joins_folded_non_empty_parts():
    assert search_text("João", "", "Síndico", "Bloco B") == "joao sindico bloco b"
    assert search_text() == ""
    assert search_text("", "") == ""


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("João", "%joao%"),
        ("  Maria  ", "%maria%"),
        ("50%", "%50\\%%"),
        ("a_b", "%a\\_b%"),
        ("100%_off", "%100\\%\\_off%"),
        ("back\\slash", "%back\\\\slash%"),
        ("", "%%"),
    ],
)
def test_like_pattern(term, expected):
    assert like_pattern(term) == expected


@pytest.mark.parametrize(
    ("text", "term", "matches"),
    [
        ("100% real", "0% r", True),
        ("100 real", "0% r", False),  # an unescaped % would match anything between
        ("a_b", "a_b", True),
        ("axb", "a_b", False),  # an unescaped _ would match any character
        ("c:\\dir", "c:\\d", True),
        ("c:dir", "c:\\d", False),
        ("joao condominio", "JOÃO", True),
    ],
)
def test_like_pattern_in_postgresql(database_url, text, term, matches):
    with db.connection_context():
        row = db.execute_sql("SELECT %s LIKE %s", (fold(text), like_pattern(term))).fetchone()
    assert row[0] is matches
