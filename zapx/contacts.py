"""Contacts: tenant-scoped CRUD and search pages (lists and their items: ``zapx.contact_lists``).

A contact's number must be a valid one (400 ``ERR_WAPP_INVALID_CONTACT``, as the original's
WhatsApp check answers), normalised and unique per company (``zapx.people``).
``GET /contacts`` answers the original's page, ``{contacts, count, hasMore}``.
"""

from __future__ import annotations

from peewee import IntegrityError

from zapx import realtime
from zapx.cache import CONTACTS, QueryCache, dumps
from zapx.db import Contact, Tenant, db, utcnow
from zapx.paging import paginate, paginate_matches
from zapx.people import (
    contact_dict,
    duplicate_number,
    person_fields,
    with_search,
)
from zapx.text import fold, like_pattern

# --- contacts ----------------------------------------------------------------------------------


def contacts_query(tenant: Tenant, search: str | None):
    """The ordered query behind :func:`contacts_page` (also what the benchmark EXPLAINs)."""
    query = tenant.select(Contact).order_by(Contact.name, Contact.id)
    if search and search.strip():
        query = query.where(Contact.search % like_pattern(search))
    return query


#: The trigram index narrows ``LIKE '%term%'`` from this many characters on. A shorter term reads
#: the whole table anyway and matches most of it, so walking the name index finds its page first.
TRIGRAM_MIN_CHARS = 3


#: The query-cache namespace of the contacts pages (``zapx.cache``): every write to a company's
#: contacts must call ``zapx.cache.bump(redis, prefix, company_id, CONTACTS_NAMESPACE)`` after it
#: commits (:func:`contacts_changed`).
CONTACTS_NAMESPACE = CONTACTS
#: Part of every cached page's key: a new page shape never serves entries of an older one.
_PAGE_SHAPE = "contacts-v2"


def contacts_page(tenant: Tenant, search: str | None, number: int) -> dict:
    query = contacts_query(tenant, search)
    if search and len(fold(search.strip())) >= TRIGRAM_MIN_CHARS:
        # One pass over the matches through the trigram index (docs/BENCHMARKS.md).
        return paginate_matches(query, number, contact_dict, key="contacts")
    return paginate(query, number, contact_dict, key="contacts")


def contacts_page_json(
    tenant: Tenant, search: str | None, number: int, cache: QueryCache | None = None
) -> bytes:
    """:func:`contacts_page` as JSON bytes, through the query cache when one is given.

    The key is what the query depends on: the term as it is matched (stripped and folded, so
    ``" José"`` and ``"jose"`` share an entry) and the page number.
    """
    if cache is None:
        return dumps(contacts_page(tenant, search, number))
    term = fold(search.strip()) if search else ""
    return cache.get_or_compute(
        tenant.company_id,
        CONTACTS_NAMESPACE,
        (_PAGE_SHAPE, term, number),
        lambda: contacts_page(tenant, search, number),
    )


def contacts_changed(cache: QueryCache | None, company_id: int) -> None:
    """Invalidate the company's cached contacts pages; call after a write commits."""
    if cache is not None:
        cache.bump(company_id, CONTACTS_NAMESPACE)


def contacts_all(tenant: Tenant, limit: int = 10_000) -> list[dict]:
    """``GET /contacts/list``: every contact (id, name, number, email), bounded by ``limit``."""
    query = (
        tenant.select(Contact, Contact.id, Contact.name, Contact.number, Contact.email)
        .order_by(Contact.name, Contact.id)
        .limit(limit)
        .dicts()
    )
    return list(query)


def get_contact(tenant: Tenant, contact_id: int) -> dict:
    return contact_dict(tenant.get(Contact, contact_id, label="Contact"))


def create_contact(
    tenant: Tenant, body: object, region: str, cache: QueryCache | None = None
) -> dict:
    data = with_search(person_fields(body, region))
    try:
        with db.atomic():
            row = Contact.create(company=tenant.company_id, **data)
    except IntegrityError:
        raise duplicate_number(data["number"], "company") from None
    contacts_changed(cache, tenant.company_id)
    out = contact_dict(row)
    realtime.publish(tenant.company_id, "contact", {"action": "create", "contact": out})
    return out


def update_contact(
    tenant: Tenant, contact_id: int, body: object, region: str, cache: QueryCache | None = None
) -> dict:
    data = person_fields(body, region, partial=True)
    with db.atomic():
        row = tenant.get(Contact, contact_id, label="Contact")
        data = with_search(data, row)
        try:
            with db.atomic():
                tenant.update(Contact, contact_id, updated_at=utcnow(), **data)
        except IntegrityError:
            raise duplicate_number(data["number"], "company") from None
    contacts_changed(cache, tenant.company_id)
    out = get_contact(tenant, contact_id)
    realtime.publish(tenant.company_id, "contact", {"action": "update", "contact": out})
    return out


def delete_contact(tenant: Tenant, contact_id: int, cache: QueryCache | None = None) -> None:
    with db.atomic():
        tenant.delete(Contact, contact_id, label="Contact")
    contacts_changed(cache, tenant.company_id)
    realtime.publish(tenant.company_id, "contact", {"action": "delete", "contactId": contact_id})
