"""The person fields contacts and list items share: validation and their JSON.

Contacts and list items share their person fields (name, number, email, condominio, endereco,
cargo, extraInfo); numbers are normalised (``zapx.numbers``) and unique per company (contacts) or
per list (items), so a duplicate is a 409 naming the number (``ERR_DUPLICATED_CONTACT``).
``zapx.contacts`` and ``zapx.contact_lists`` build on them.
"""

from __future__ import annotations

from zapx.contact_fields import API_NAMES
from zapx.db import Contact, ContactList, ContactListItem
from zapx.errors import Conflict, ValidationError
from zapx.numbers import normalize_number, read_number
from zapx.text import search_text
from zapx.validation import Field, extra_info, parse


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


def person_fields(body: object, region: str, *, schema=PERSON_FIELDS, partial=False) -> dict:
    data = parse(body, schema, partial=partial)
    if "number" in data:
        data["number"] = normalize_number(data["number"], region)
    return data


def item_fields(body: object, region: str, row: ContactListItem | None = None) -> dict:
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


def with_search(data: dict, row=None) -> dict:
    """Recompute ``search`` when a searchable field changes (name, number, email)."""
    if {"name", "number", "email"} & data.keys():
        parts = [
            data.get(k, getattr(row, k, "") if row else "") for k in ("name", "number", "email")
        ]
        data["search"] = search_text(*parts)
    return data


def iso(value):
    return value.isoformat() if value else None


def person_dict(row) -> dict:
    return {
        "id": row.id,
        **{name: getattr(row, column) for name, column in API_NAMES.items()},
        "companyId": row.company_id,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def contact_dict(c: Contact) -> dict:
    # The original's keys that the contacts page and dialog read, for what zapx has not
    # (profile pictures, Messenger and Instagram ids, contact groups, chatbots).
    return person_dict(c) | {
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
    return person_dict(i) | {
        "contactListId": i.contact_list_id,
        "isWhatsappValid": i.is_whatsapp_valid,
    }


def list_dict(cl: ContactList, contacts_count: int | None = None) -> dict:
    out = {
        "id": cl.id,
        "name": cl.name,
        "companyId": cl.company_id,
        "createdAt": iso(cl.created_at),
        "updatedAt": iso(cl.updated_at),
    }
    if contacts_count is not None:
        out["contactsCount"] = contacts_count
    return out


def duplicate_number(number: str, where: str) -> Conflict:
    return Conflict(
        f"a contact with number {number} already exists in this {where}",
        field="number",
        code="ERR_DUPLICATED_CONTACT",
    )
