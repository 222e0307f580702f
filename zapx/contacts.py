"""Contacts, contact lists and list items: validation, tenant-scoped CRUD, search pages.

Contacts and list items share their person fields (name, number, email, condominio, endereco,
cargo, extraInfo); numbers are normalised (``zapx.numbers``) and unique per company (contacts) or
per list (items), so a duplicate is a 409 naming the number (``ERR_DUPLICATED_CONTACT``).

A contact's number must be a valid one (400 ``ERR_WAPP_INVALID_CONTACT``, as the original's
WhatsApp check answers). A list item keeps a Brazilian number that is well formed but not in use
(``zapx.numbers.read_number``), as the original keeps what it cannot check, marked
``isWhatsappValid: false``: campaigns never send to it.

Pages are the original's: ``GET /contacts`` and ``GET /contact-list-items`` answer
``{contacts, count, hasMore}``, ``GET /contact-lists`` ``{records, count, hasMore}``.
"""

from __future__ import annotations

from peewee import IntegrityError, fn

from zapx import realtime
from zapx.cache import CONTACTS, LISTS, QueryCache, dumps
from zapx.campaigns import readiness
from zapx.contact_fields import API_NAMES
from zapx.db import Contact, ContactList, ContactListItem, Tenant, db, utcnow
from zapx.errors import Conflict, ValidationError
from zapx.numbers import normalize_number, read_number
from zapx.paging import PAGE_SIZE, paginate, paginate_matches
from zapx.text import fold, folded, like_pattern, search_text
from zapx.validation import Field, extra_info, parse, positive_id


def _email(value: str) -> str:
    if value and ("@" not in value or " " in value):
        raise ValidationError(f"email {value!r} is not a valid e-mail address", field="email")
    return value.lower()


PERSON_FIELDS = (
    Field("name", required=True, min_len=1, max_len=255),
    Field("number", required=True, max_len=40),
    Field("email", max_len=255, clean=_email),
    Field("condominio", max_len=255),
    Field("endereco", max_len=255),
    Field("cargo", max_len=255),
    Field("extraInfo", list, attr="extra_info", max_len=50, clean=extra_info),
)
ITEM_FIELDS = PERSON_FIELDS + (
    Field("isWhatsappValid", bool, attr="is_whatsapp_valid", nullable=True),
)
LIST_FIELDS = (Field("name", required=True, min_len=1, max_len=255),)


def _person(body: object, region: str, *, schema=PERSON_FIELDS, partial=False) -> dict:
    data = parse(body, schema, partial=partial)
    if "number" in data:
        data["number"] = normalize_number(data["number"], region)
    return data


def _item(body: object, region: str, row: ContactListItem | None = None) -> dict:
    """An item's fields (of an update of ``row`` when given); a number not in use is kept and
    marks the item as not on WhatsApp."""
    data = parse(body, ITEM_FIELDS, partial=row is not None)
    if "number" not in data:
        return data
    data["number"], assigned = read_number(data["number"], region)
    # A new number drops the old one's mark, unless the client sets another (a form sends back
    # the old mark with whatever it changed).
    echoed = row is not None and data.get("is_whatsapp_valid", row.is_whatsapp_valid) == (
        row.is_whatsapp_valid
    )
    if echoed and data["number"] != row.number:
        data["is_whatsapp_valid"] = None
    if not assigned:
        data["is_whatsapp_valid"] = False
    return data


def _with_search(data: dict, row=None) -> dict:
    """Recompute ``search`` when a searchable field changes (name, number, email)."""
    if {"name", "number", "email"} & data.keys():
        parts = [
            data.get(k, getattr(row, k, "") if row else "") for k in ("name", "number", "email")
        ]
        data["search"] = search_text(*parts)
    return data


def _iso(value):
    return value.isoformat() if value else None


def _person_dict(row) -> dict:
    return {
        "id": row.id,
        **{name: getattr(row, column) for name, column in API_NAMES.items()},
        "companyId": row.company_id,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
    }


def contact_dict(c: Contact) -> dict:
    # The original's keys that the contacts page and dialog read, for what zapx has not
    # (profile pictures, Messenger and Instagram ids, contact groups, chatbots).
    return _person_dict(c) | {
        "isGroup": c.is_group,
        "profilePicUrl": "",
        "messengerId": None,
        "instagramId": None,
        "groupId": None,
        "group": None,
        "disableBot": False,
        "active": True,
    }


def item_dict(i: ContactListItem) -> dict:
    return _person_dict(i) | {
        "contactListId": i.contact_list_id,
        "isWhatsappValid": i.is_whatsapp_valid,
    }


def list_dict(cl: ContactList, contacts_count: int | None = None) -> dict:
    out = {
        "id": cl.id,
        "name": cl.name,
        "companyId": cl.company_id,
        "createdAt": _iso(cl.created_at),
        "updatedAt": _iso(cl.updated_at),
    }
    if contacts_count is not None:
        out["contactsCount"] = contacts_count
    return out


def _duplicate(number: str, where: str) -> Conflict:
    return Conflict(
        f"a contact with number {number} already exists in this {where}",
        field="number",
        code="ERR_DUPLICATED_CONTACT",
    )


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
    data = _with_search(_person(body, region))
    try:
        with db.atomic():
            row = Contact.create(company=tenant.company_id, **data)
    except IntegrityError:
        raise _duplicate(data["number"], "company") from None
    contacts_changed(cache, tenant.company_id)
    out = contact_dict(row)
    realtime.publish(tenant.company_id, "contact", {"action": "create", "contact": out})
    return out


def update_contact(
    tenant: Tenant, contact_id: int, body: object, region: str, cache: QueryCache | None = None
) -> dict:
    data = _person(body, region, partial=True)
    with db.atomic():
        row = tenant.get(Contact, contact_id, label="Contact")
        data = _with_search(data, row)
        try:
            with db.atomic():
                tenant.update(Contact, contact_id, updated_at=utcnow(), **data)
        except IntegrityError:
            raise _duplicate(data["number"], "company") from None
    contacts_changed(cache, tenant.company_id)
    out = get_contact(tenant, contact_id)
    realtime.publish(tenant.company_id, "contact", {"action": "update", "contact": out})
    return out


def delete_contact(tenant: Tenant, contact_id: int, cache: QueryCache | None = None) -> None:
    with db.atomic():
        tenant.delete(Contact, contact_id, label="Contact")
    contacts_changed(cache, tenant.company_id)
    realtime.publish(tenant.company_id, "contact", {"action": "delete", "contactId": contact_id})


# --- contact lists -----------------------------------------------------------------------------

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
    data = _with_search(_item(body, region))
    try:
        with db.atomic():
            row = ContactListItem.create(
                company=tenant.company_id, contact_list=contact_list.id, **data
            )
    except IntegrityError:
        raise _duplicate(data["number"], "list") from None
    lists_changed(cache, tenant.company_id)
    out = item_dict(row)
    realtime.publish(tenant.company_id, "ContactListItem", {"action": "create", "record": out})
    return out


def update_item(
    tenant: Tenant, item_id: int, body: object, region: str, cache: QueryCache | None = None
) -> dict:
    with db.atomic():
        row = tenant.get(ContactListItem, item_id, label="ContactListItem")
        data = _item(body, region, row)
        if isinstance(body, dict) and body.get("contactListId") is not None:
            list_id = positive_id(body["contactListId"], "contactListId")
            if list_id != row.contact_list_id:
                data["contact_list"] = _own_list(tenant, list_id).id
        data = _with_search(data, row)
        try:
            with db.atomic():
                tenant.update(ContactListItem, item_id, updated_at=utcnow(), **data)
        except IntegrityError:
            raise _duplicate(data.get("number", row.number), "list") from None
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
