"""JSON Schemas of the campaign module's answers (campaigns, campaign settings, file lists), as
``/openapi.json`` states them; tests validate real responses against them."""

from __future__ import annotations

from api.openapi import array_of, nullable, obj, page_of
from zapx.campaign_settings import DEFAULTS
from zapx.db import CAMPAIGN_STATUSES

INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
DATE = {"type": "string", "format": "date-time"}
NDATE, NSTR, NINT = nullable(DATE), nullable(STR), nullable(INT)

CONTACT_LIST_NESTED = obj(
    {"id": INT, "name": STR, "companyId": INT, "createdAt": DATE, "updatedAt": DATE}
)
WHATSAPP_NESTED = obj({"id": INT, "name": STR})

CAMPAIGN_ROW = obj(
    {
        "id": INT,
        "name": STR,
        "status": {"type": "string", "enum": list(CAMPAIGN_STATUSES)},
        "confirmation": BOOL,
        "scheduledAt": NDATE,
        "startedAt": NDATE,
        "completedAt": NDATE,
        "contactListId": NINT,
        "whatsappId": NINT,
        "fileListId": NINT,
        "mediaPath": NSTR,
        "mediaName": NSTR,
        "pauseReason": NSTR,
        "total": INT,
        "companyId": INT,
        "createdAt": DATE,
        "updatedAt": DATE,
        **{f"message{i}": STR for i in range(1, 6)},
        **{f"confirmationMessage{i}": STR for i in range(1, 6)},
        "contactList": nullable(CONTACT_LIST_NESTED),
        "whatsapp": nullable(WHATSAPP_NESTED),
    }
)
#: What the report page counts (``zapx.campaigns.views``): only those keys, always both.
SHIPPING_COUNTED = obj({"deliveredAt": NDATE, "confirmationRequestedAt": NDATE}) | {
    "additionalProperties": False
}
VALID_CONTACT = obj({"isWhatsappValid": {"const": True}}) | {"additionalProperties": False}
CAMPAIGN_SHOW = obj(
    {
        **CAMPAIGN_ROW["properties"],
        "successRate": {"type": "number", "minimum": 0, "maximum": 100},
        "shipping": array_of(SHIPPING_COUNTED),
        # Left out when the campaign has no list (the page reads contacts whenever it is there).
        "contactList": obj(
            {**CONTACT_LIST_NESTED["properties"], "contacts": array_of(VALID_CONTACT)}
        ),
    },
    optional=("contactList",),
)

SETTINGS = array_of(
    obj({"key": {"type": "string", "enum": list(DEFAULTS)}, "value": STR})
    | {"additionalProperties": False}
)

FILE_LIST = obj(
    {"id": INT, "companyId": INT, "name": STR, "message": STR, "createdAt": DATE, "updatedAt": DATE}
)
FILE_OPTION = obj(
    {
        "id": INT,
        "fileId": INT,
        "name": STR,
        "path": NSTR,
        "mediaType": NSTR,
        "message": STR,
        "createdAt": DATE,
        "updatedAt": DATE,
    }
)
FILE_LIST_SHOW = obj({**FILE_LIST["properties"], "options": array_of(FILE_OPTION)})

__all__ = [
    "CAMPAIGN_ROW",
    "CAMPAIGN_SHOW",
    "FILE_LIST",
    "FILE_LIST_SHOW",
    "SETTINGS",
    "array_of",
    "page_of",
]
