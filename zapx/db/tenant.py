"""The one door to tenant data: every query of a company's rows goes through :class:`Tenant`.

A route never takes a company id from its input; the API builds a ``Tenant`` from the
authenticated user, and every lookup here filters on it, so another company's object is simply
not found (404), never read or written.
"""

from __future__ import annotations

from peewee import ModelSelect

from zapx.errors import not_found


def _is_id(value) -> bool:
    """A possible primary key: an ``int`` (not a ``bool``) that fits a PostgreSQL ``serial``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


class Tenant:
    """Company-scoped queries. ``company_id`` comes from the authenticated request only."""

    __slots__ = ("company_id",)

    def __init__(self, company_id: int):
        if isinstance(company_id, bool) or not isinstance(company_id, int) or company_id <= 0:
            raise ValueError(f"a tenant needs a positive company id, got {company_id!r}")
        self.company_id = company_id

    def select(self, model, *fields) -> ModelSelect:
        """``SELECT fields FROM model WHERE company_id = <this company>``.

        ``fields`` default to every column of ``model``; pass ``model`` among them to add columns.
        """
        return model.select(*fields).where(model.company == self.company_id)

    def get(self, model, object_id, *, label: str | None = None):
        """The row ``object_id`` of ``model`` in this company, or :class:`NotFound`."""
        row = None
        if _is_id(object_id):
            row = self.select(model).where(model.id == object_id).first()
        if row is None:
            raise not_found(label or model.__name__, object_id, model=model.__name__)
        return row

    def update(self, model, object_id, **values) -> int:
        """Update one row of this company; NotFound when it is not ours."""
        count = 0
        if _is_id(object_id):  # anything else would be a database error, not a NotFound
            count = (
                model.update(**values)
                .where((model.id == object_id) & (model.company == self.company_id))
                .execute()
            )
        if not count:
            raise not_found(model.__name__, object_id)
        return count

    def delete(self, model, object_id, *, label: str | None = None) -> None:
        """Delete one row of this company; NotFound when it is not ours."""
        count = 0
        if _is_id(object_id):
            count = (
                model.delete()
                .where((model.id == object_id) & (model.company == self.company_id))
                .execute()
            )
        if not count:
            raise not_found(label or model.__name__, object_id, model=model.__name__)

    def __repr__(self) -> str:
        return f"Tenant({self.company_id})"
