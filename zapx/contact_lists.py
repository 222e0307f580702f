"""Contact lists and their items: tenant-scoped CRUD, search pages, cached answers.

A list item keeps a Brazilian number that is well formed but not in use
(``zapx.numbers.read_number``), as the original keeps what it cannot check, marked
``isWhatsappValid: false``: campaigns never send to it. Item numbers are unique per list
(``zapx.people``). ``GET /contact-list-items`` answers ``{contacts, count, hasMore}``,
``GET /contact-lists`` ``{records, count, hasMore}``.
"""

from __future__ import annotations

from peewee import IntegrityError, fn

from zapx import realtime
from zapx.cache import LISTS, QueryCache, dumps
from zapx.campaigns import readiness
from zapx.db import ContactList, ContactListItem, Tenant, db, utcnow
from zapx.errors import Conflict, ValidationError
from zapx.paging import PAGE_SIZE, paginate
from zapx.people import (
    LIST_FIELDS,
    duplicate_number,
    item_dict,
    item_fields,
    list_dict,
    with_search,
)
from zapx.text import fold, folded, like_pattern
from zapx.validation import parse, positive_id

#: Part of every cached list answer's key (namespace ``lists``: the lists and their item
#: counts, bumped by :func:`lists_changed` after any write to a list or its items).
_LISTS_SHAPE = "lists-v1"


def _cached(cache: QueryCache | None, company_id: int, key_parts, compute) -> bytes:
    if cache is None:
        return dumps(compute())
    return cache.get_or_compute(company_id, LISTS, (_LISTS_SHAPE, *key_parts), compute)


def lists_changed(cache: QueryCache | None, company_id: int) -> None:
    """Invalidate the company's cached lists and counts; call after a write commits."""
    if cache is not None:
        cache.bump(company_id, LISTS)


def lists_page_json(
    tenant: Tenant, search: str | None, number: int, cache: QueryCache | None = None
) -> bytes:
    """:func:`lists_page` as JSON bytes, through the query cache when one is given (the key:
    the term as matched, folded, and the page number)."""
    term = fold(search.strip()) if search else ""
    return _cached(
        cache, tenant.company_id, ("page", term, number), lambda: lists_page(tenant, search, number)
    )


def lists_all_json(tenant: Tenant, cache: QueryCache | None = None) -> bytes:
    return _cached(cache, tenant.company_id, ("all",), lambda: lists_all(tenant))


def get_list_json(tenant: Tenant, list_id: int, cache: QueryCache | None = None) -> bytes:
    """:func:`get_list` as JSON bytes; another company's list is a 404 before any cache read
    (the entry's key is the id, within this company's namespace anyway)."""
    return _cached(cache, tenant.company_id, ("one", list_id), lambda: get_list(tenant, list_id))


def _items_count():
    return (
        ContactListItem.select(fn.COUNT(ContactListItem.id))
        .where(ContactListItem.contact_list == ContactList.id)
        .alias("contacts_count")
    )


def lists_page(tenant: Tenant, search: str | None, number: int) -> dict:
    query = tenant.select(ContactList, ContactList, _items_count())
    query = query.order_by(ContactList.name, ContactList.id)
    if search and search.strip():
        query = query.where(folded(ContactList.name) % like_pattern(search))
    return paginate(query, number, lambda cl: list_dict(cl, cl.contacts_count))


def lists_all(tenant: Tenant) -> list[dict]:
    query = tenant.select(ContactList).order_by(ContactList.name, ContactList.id)
    return [list_dict(cl) for cl in query]


def get_list(tenant: Tenant, list_id: int) -> dict:
    row = tenant.get(ContactList, list_id, label="ContactList")
    count = ContactListItem.select().where(ContactListItem.contact_list == row.id).count()
    return list_dict(row, count)


def create_list(tenant: Tenant, body: object, cache: QueryCache | None = None) -> dict:
    data = parse(body, LIST_FIELDS)
    try:
        with db.atomic():
            row = ContactList.create(company=tenant.company_id, **data)
    except IntegrityError:
        raise Conflict(
            f"a contact list named {data['name']!r} already exists", field="name"
        ) from None
    lists_changed(cache, tenant.company_id)
    out = list_dict(row, 0)
    realtime.publish(tenant.company_id, "ContactList", {"action": "create", "record": out})
    return out


def update_list(
    tenant: Tenant, list_id: int, body: object, cache: QueryCache | None = None
) -> dict:
    data = parse(body, LIST_FIELDS, partial=True)
    try:
        with db.atomic():
            tenant.update(ContactList, list_id, updated_at=utcnow(), **data)
    except IntegrityError:
        raise Conflict(
            f"a contact list named {data['name']!r} already exists", field="name"
        ) from None
    lists_changed(cache, tenant.company_id)
    out = get_list(tenant, list_id)
    realtime.publish(tenant.company_id, "ContactList", {"action": "update", "record": out})
    return out


def delete_list(tenant: Tenant, list_id: int, cache: QueryCache | None = None) -> None:
    with db.atomic():
        readiness.check_unused(tenant, ContactList, list_id)  # 409 while a campaign uses it
        tenant.delete(ContactList, list_id, label="ContactList")
    lists_changed(cache, tenant.company_id)
    realtime.publish(tenant.company_id, "ContactList", {"action": "delete", "id": list_id})


# --- contact list items ------------------------------------------------------------------------


def _own_list(tenant: Tenant, list_id: object) -> ContactList:
    return tenant.get(ContactList, positive_id(list_id, "contactListId"), label="ContactList")


def items_page(tenant: Tenant, list_id: object, search: str | None, number: int) -> dict:
    query = tenant.select(ContactListItem).order_by(ContactListItem.name, ContactListItem.id)
    if list_id not in (None, ""):
        query = query.where(ContactListItem.contact_list == _own_list(tenant, list_id).id)
    if search and search.strip():
        query = query.where(ContactListItem.search % like_pattern(search))
    return paginate(query, number, item_dict, key="contacts")


def items_all(tenant: Tenant, list_id: object, limit: int = 10_000) -> list[dict]:
    query = tenant.select(ContactListItem).order_by(ContactListItem.name, ContactListItem.id)
    if list_id not in (None, ""):
        query = query.where(ContactListItem.contact_list == _own_list(tenant, list_id).id)
    return [item_dict(i) for i in query.limit(limit)]


def get_item(tenant: Tenant, item_id: int) -> dict:
    return item_dict(tenant.get(ContactListItem, item_id, label="ContactListItem"))


def create_item(tenant: Tenant, body: object, region: str, cache: QueryCache | None = None) -> dict:
    if not isinstance(body, dict) or "contactListId" not in body:
        parse(body, ())  # a non-object body gets the generic message
        raise ValidationError("contactListId is required", field="contactListId")
    contact_list = _own_list(tenant, body["contactListId"])
    data = with_search(item_fields(body, region))
    try:
        with db.atomic():
            row = ContactListItem.create(
                company=tenant.company_id, contact_list=contact_list.id, **data
            )
    except IntegrityError:
        raise duplicate_number(data["number"], "list") from None
    lists_changed(cache, tenant.company_id)
    out = item_dict(row)
    realtime.publish(tenant.company_id, "ContactListItem", {"action": "create", "record": out})
    return out


def update_item(
    tenant: Tenant, item_id: int, body: object, region: str, cache: QueryCache | None = None
) -> dict:
    with db.atomic():
        row = tenant.get(ContactListItem, item_id, label="ContactListItem")
        data = item_fields(body, region, row)
        if isinstance(body, dict) and body.get("contactListId") is not None:
            list_id = positive_id(body["contactListId"], "contactListId")
            if list_id != row.contact_list_id:
                data["contact_list"] = _own_list(tenant, list_id).id
        data = with_search(data, row)
        try:
            with db.atomic():
                tenant.update(ContactListItem, item_id, updated_at=utcnow(), **data)
        except IntegrityError:
            raise duplicate_number(data.get("number", row.number), "list") from None
    if "contact_list" in data:  # moved to another list: both counts changed
        lists_changed(cache, tenant.company_id)
    out = get_item(tenant, item_id)
    realtime.publish(tenant.company_id, "ContactListItem", {"action": "update", "record": out})
    return out


def delete_item(tenant: Tenant, item_id: int, cache: QueryCache | None = None) -> None:
    with db.atomic():
        tenant.delete(ContactListItem, item_id, label="ContactListItem")
    lists_changed(cache, tenant.company_id)
    realtime.publish(tenant.company_id, "ContactListItem", {"action": "delete", "id": item_id})


def publish_list_reload(tenant: Tenant, list_id: int) -> None:
    """After an import into a list: ``ContactListItem-{listId}`` ``reload`` with the list's
    first page (what a refetch would show; never every row of a large import) and the list's
    new ``contactsCount``."""

    def events():
        first = (
            tenant.select(ContactListItem)
            .where(ContactListItem.contact_list == list_id)
            .order_by(ContactListItem.name, ContactListItem.id)
            .limit(PAGE_SIZE)
        )
        records = [item_dict(i) for i in first]
        yield f"ContactListItem-{list_id}", {"action": "reload", "records": records}
        yield "ContactList", {"action": "update", "record": get_list(tenant, list_id)}

    realtime.publish_from(tenant.company_id, events)
