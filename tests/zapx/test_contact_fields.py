"""A contact's fields are listed once (zapx/contact_fields.py): the tables, the worker's row,
the import's records and header aliases agree with it, and no SQL text lists them by hand."""

import ast
import dataclasses
import pathlib

from zapx import contact_fields
from zapx.campaigns.batches import Row
from zapx.db import CampaignShipping, Contact, ContactListItem
from zapx.imports import headers, rows

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_person_table_has_the_columns():
    for model in (Contact, ContactListItem, CampaignShipping):
        columns = {f.column_name for f in model._meta.sorted_fields}
        assert set(contact_fields.COLUMNS) <= columns, model


def test_the_claimed_row_unpacks_the_columns_in_order():
    """The claim's SQL returns ``id, contact_id, <COLUMNS>, ...`` and ``Row(*r)`` unpacks it."""
    names = [f.name for f in dataclasses.fields(Row)]
    assert names[2 : 2 + len(contact_fields.COLUMNS)] == list(contact_fields.COLUMNS)


def test_import_records_and_aliases_follow_the_fields():
    positions = [rows.NUMBER, rows.NAME, rows.EMAIL, rows.CONDOMINIO, rows.ENDERECO, rows.CARGO]
    assert positions == list(range(len(contact_fields.PERSON)))
    assert len(contact_fields.PERSON) == rows.EXTRA
    assert set(headers.ALIASES) == set(contact_fields.PERSON)


def test_api_names_cover_the_columns():
    assert list(contact_fields.API_NAMES.values()) == list(contact_fields.COLUMNS)
    assert contact_fields.column_list("i.", ("number", "name")) == "i.number, i.name"


def test_no_source_lists_the_fields_by_hand():
    """Three fields in a row in a string literal is a hand-written column list."""
    by_hand = [", ".join(contact_fields.PERSON[i : i + 3]) for i in range(4)]
    found = []
    for pkg in ("zapx", "actors", "api"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "contact_fields.py":
                continue
            tree = ast.parse(path.read_text())
            docs = {
                id(n.value)
                for n in ast.walk(tree)
                if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
            }
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docs
                    and any(h in node.value for h in by_hand)
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
