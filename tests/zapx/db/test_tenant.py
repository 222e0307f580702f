"""zapx.db.Tenant: every lookup is confined to one company; another company's row is NotFound."""

from __future__ import annotations

import pytest

from zapx.db import Company, Contact, Tenant, db
from zapx.errors import NotFound


@pytest.fixture
def two_companies(database_url):
    """Company A with two contacts and company B with one; returns (a, b, {name: id}).

    Everything happens in one transaction rolled back at the end (faster than a TRUNCATE), and
    the id sequences are put back, so tests that count on ids restarting at 1 still can.
    """
    with db.connection_context():
        with db.atomic() as txn:
            a = Company.create(name="A").id
            b = Company.create(name="B").id
            ids = {
                name: Contact.create(company=company, name=name, number=number).id
                for company, name, number in (
                    (a, "a1", "5511900000001"),
                    (a, "a2", "5511900000002"),
                    (b, "b1", "5511900000003"),
                )
            }
            yield a, b, ids
            txn.rollback()
        for model in (Company, Contact):
            table = model._meta.table_name
            db.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )


def names(company_id: int) -> list[str]:
    query = Contact.select().where(Contact.company == company_id).order_by(Contact.id)
    return [c.name for c in query]


@pytest.mark.parametrize("bad", [0, -1, "1", True, 1.0, None])
def test_tenant_needs_a_positive_int(bad):
    with pytest.raises(ValueError, match="positive company id"):
        Tenant(bad)


def test_tenant_repr():
    assert repr(Tenant(12)) == "Tenant(12)"


def test_select_filters_by_company(two_companies):
    a, b, _ = two_companies
    assert sorted(c.name for c in Tenant(a).select(Contact)) == ["a1", "a2"]
    assert [c.name for c in Tenant(b).select(Contact)] == ["b1"]
    assert Tenant(a).select(Contact).count() == 2
    assert list(Tenant(b + 1000).select(Contact)) == []
    # With explicit fields, and further filters added by the caller.
    rows = Tenant(a).select(Contact, Contact.name).where(Contact.name == "b1")
    assert list(rows) == []


def test_get_own_row(two_companies):
    a, _, ids = two_companies
    assert Tenant(a).get(Contact, ids["a1"]).name == "a1"


def test_get_another_companys_row_is_not_found(two_companies):
    a, _, ids = two_companies
    with pytest.raises(NotFound) as excinfo:
        Tenant(a).get(Contact, ids["b1"], label="Contact")
    assert excinfo.value.message == f"Contact {ids['b1']} not found"


@pytest.mark.parametrize("object_id", [0, -1, 2**31, 10**30, True, "1", None, 1.0])
def test_get_with_impossible_ids_is_not_found(two_companies, object_id):
    a, _, _ = two_companies
    with pytest.raises(NotFound):
        Tenant(a).get(Contact, object_id)


def test_update_own_row(two_companies):
    a, _, ids = two_companies
    assert Tenant(a).update(Contact, ids["a2"], name="renamed") == 1
    assert names(a) == ["a1", "renamed"]


def test_update_of_another_companys_row_is_not_found_and_changes_nothing(two_companies):
    a, b, ids = two_companies
    with pytest.raises(NotFound, match=f"Contact {ids['b1']} not found"):
        Tenant(a).update(Contact, ids["b1"], name="hijacked")
    assert names(b) == ["b1"]
    assert names(a) == ["a1", "a2"]


@pytest.mark.parametrize("object_id", [0, -1, 2**31, 10**30, True, "1", None])
def test_update_with_impossible_ids_is_not_found(two_companies, object_id):
    a, _, _ = two_companies
    with pytest.raises(NotFound):
        Tenant(a).update(Contact, object_id, name="x")
    assert names(a) == ["a1", "a2"]


def test_delete_own_row(two_companies):
    a, b, ids = two_companies
    Tenant(a).delete(Contact, ids["a1"])
    assert names(a) == ["a2"]
    assert names(b) == ["b1"]


def test_delete_of_another_companys_row_is_not_found_and_changes_nothing(two_companies):
    a, b, ids = two_companies
    with pytest.raises(NotFound, match=f"Contact {ids['b1']} not found"):
        Tenant(a).delete(Contact, ids["b1"], label="Contact")
    assert names(b) == ["b1"]
    assert names(a) == ["a1", "a2"]


@pytest.mark.parametrize("object_id", [0, 2**31, True, "1"])
def test_delete_with_impossible_ids_is_not_found(two_companies, object_id):
    a, _, _ = two_companies
    with pytest.raises(NotFound):
        Tenant(a).delete(Contact, object_id)
    assert names(a) == ["a1", "a2"]
