"""Fixtures for the import core: companies and lists made directly in the database."""

from __future__ import annotations

import pytest

from tests.conftest import make_company
from zapx.db import Contact, ContactList, ContactListItem, Tenant, db


@pytest.fixture
def company(clean_db):
    """Factory: a new company's Tenant."""

    def make(name: str = "acme") -> Tenant:
        return Tenant(make_company(name))

    return make


def make_list(tenant: Tenant, name: str = "leads") -> int:
    with db.connection_context(), db.atomic():
        return ContactList.create(company=tenant.company_id, name=name).id


def contacts_of(tenant: Tenant) -> dict[str, dict]:
    """number -> the person fields of every contact of ``tenant``."""
    with db.connection_context():
        rows = tenant.select(Contact).dicts()
        return {r["number"]: _person(r) for r in rows}


def items_of(list_id: int) -> dict[str, dict]:
    with db.connection_context():
        rows = ContactListItem.select().where(ContactListItem.contact_list == list_id).dicts()
        return {r["number"]: _person(r) for r in rows}


def _person(r: dict) -> dict:
    keys = ("name", "email", "condominio", "endereco", "cargo", "extra_info", "search")
    return {k: r[k] for k in keys}
