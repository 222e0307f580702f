"""JSON schemas of the API's answers, for ``/openapi.json`` (``doc(response=...)``).

Each schema says what a client may rely on: the keys always present (``required``) and their
types. Objects stay open (a later key is not a breaking change). The contract tests validate
real answers against these (``tests/api/test_frontend_contract.py``), so a schema that drifts
from the code fails there.
"""

from __future__ import annotations

from zapx.accounts import OTHER_PLAN_FLAGS
from zapx.db.rate_limit_models import KINDS
from zapx.status import CampaignStatus, ImportState

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
DATE = {"type": "string", "format": "date-time"}
NULL = {"type": "null"}


def nullable(schema: dict) -> dict:
    """``schema`` or null."""
    kind = schema["type"]
    kinds = kind if isinstance(kind, list) else [kind]
    return {**schema, "type": [*kinds, "null"]}


def obj(properties: dict, *, optional: tuple[str, ...] = ()) -> dict:
    """An object with ``properties``, all required but ``optional``."""
    return {
        "type": "object",
        "properties": properties,
        "required": [k for k in properties if k not in optional],
    }


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def page(key: str, items: dict) -> dict:
    """A page: ``{<key>: [items], count, hasMore}`` (``key`` is ``records`` or the original's)."""
    return obj({key: array(items), "count": INT, "hasMore": BOOL})


# --- companies, users, sessions ------------------------------------------------------------------

COMPANY = obj(
    {
        "id": INT,
        "name": STR,
        "phone": STR,
        "email": STR,
        "status": BOOL,
        "dueDate": nullable(DATE),
        "maxUsers": INT,
        "maxConnections": INT,
        "maxCampaigns": INT,
        "useCampaigns": BOOL,
        "createdAt": DATE,
        "updatedAt": DATE,
    }
)
SESSION_COMPANY = obj(
    {
        **COMPANY["properties"],
        "dueDate": DATE,  # never null here: the frontend refuses the login then
        "settings": array(obj({"key": STR, "value": STR, "companyId": INT})),
    }
)
USER = obj(
    {
        "id": INT,
        "name": STR,
        "email": STR,
        "profile": {"type": "string", "enum": ["admin", "user"]},
        "super": BOOL,
        "companyId": INT,
        "createdAt": DATE,
        "updatedAt": DATE,
    }
)
SESSION_USER = obj(
    {
        **USER["properties"],
        "allTicket": STR,
        "whatsappId": nullable(INT),
        "queues": array(obj({"id": INT, "name": STR, "color": STR})),
        "company": SESSION_COMPANY,
    }
)
SESSION = obj({"token": STR, "user": SESSION_USER})
VERSION = obj({"version": STR})
PUBLIC_SETTING = obj({"key": STR, "value": STR})
#: The plan's module flags the login answer and listPlan carry (zapx serves the campaigns).
PLAN_FLAGS = ("useCampaigns", *OTHER_PLAN_FLAGS)
COMPANY_PLAN = obj(
    {
        "id": INT,
        "name": STR,
        "email": STR,
        "status": BOOL,
        "dueDate": DATE,
        "createdAt": DATE,
        "phone": STR,
        "plan": obj(
            {
                "id": INT,
                "name": STR,
                "users": INT,
                "connections": INT,
                "campaigns": INT,
                "queues": INT,
                "value": {"type": "number"},
                **dict.fromkeys(PLAN_FLAGS, BOOL),
            }
        ),
    }
)

# --- contacts, lists, items ----------------------------------------------------------------------

_EXTRA_INFO = array(obj({"name": STR, "value": STR}))
_PERSON = {
    "id": INT,
    "name": STR,
    "number": STR,
    "email": STR,
    "condominio": STR,
    "endereco": STR,
    "cargo": STR,
    "extraInfo": _EXTRA_INFO,
    "companyId": INT,
    "createdAt": DATE,
    "updatedAt": DATE,
}
CONTACT = obj(
    {
        **_PERSON,
        "isGroup": BOOL,
        # The original's keys the contacts page reads, for what zapx does not have.
        "profilePicUrl": STR,
        "messengerId": NULL,
        "instagramId": NULL,
        "groupId": NULL,
        # Always null here (zapx has no contact groups); the original's is {id, name}.
        "group": nullable(obj({"id": INT, "name": STR})),
        "disableBot": BOOL,
        "active": BOOL,
    }
)
CONTACTS_PAGE = page("contacts", CONTACT)
CONTACT_BRIEF = obj({"id": INT, "name": STR, "number": STR, "email": STR})
CONTACT_LIST = obj(
    {
        "id": INT,
        "name": STR,
        "companyId": INT,
        "createdAt": DATE,
        "updatedAt": DATE,
        "contactsCount": INT,
    },
    optional=("contactsCount",),
)
CONTACT_LISTS_PAGE = page("records", CONTACT_LIST)
LIST_ITEM = obj({**_PERSON, "contactListId": INT, "isWhatsappValid": nullable(BOOL)})
LIST_ITEMS_PAGE = page("contacts", LIST_ITEM)

# --- imports -----------------------------------------------------------------------------------

IMPORT = obj(
    {
        "id": INT,
        "importId": INT,
        "state": {"type": "string", "enum": list(ImportState.ALL)},
        "target": {"type": "string", "enum": ["contacts", "list"]},
        "contactListId": nullable(INT),
        "filename": STR,
        "format": STR,
        "rowsRead": INT,
        "inserted": INT,
        "updated": INT,
        "unchanged": INT,
        "merged": INT,
        "rejected": INT,
        "percent": {"type": "number"},
        "rowsPerS": {"type": "number"},
        "error": nullable(STR),
        "rejectedUrl": STR,
        "createdAt": DATE,
        "startedAt": nullable(DATE),
        "finishedAt": nullable(DATE),
    }
)

# --- connections -------------------------------------------------------------------------------

CONNECTION = obj(
    {
        "id": INT,
        "name": STR,
        "provider": {"type": "string", "enum": ["cloud", "evolution", "sandbox"]},
        "status": STR,
        "isDefault": BOOL,
        "number": STR,
        "settings": {"type": "object"},
        "secretsSet": array(STR),
        "companyId": INT,
        "createdAt": DATE,
        "updatedAt": DATE,
        # The original's row keys the connections page and form read (tickets, queues and QR
        # sessions are the original backend's): constant here.
        "type": NULL,
        "qrcode": STR,
        "retries": INT,
        "queues": array(obj({"id": INT, "name": STR, "color": STR})),  # always empty here
        "greetingMessage": STR,
        "complationMessage": STR,
        "outOfHoursMessage": STR,
        "ratingMessage": STR,
        "farewellMessage": STR,
        "token": STR,
        "transferQueueId": NULL,
        "timeToTransfer": NULL,
        "promptId": NULL,
        "integrationId": NULL,
        "maxUseBotQueues": INT,
        "timeUseBotQueues": INT,
        "expiresTicket": INT,
        "expiresInactiveMessage": STR,
        "wavoip": STR,
    }
)
CONNECTIONS_PAGE = page("records", CONNECTION)

# --- rate limits -------------------------------------------------------------------------------

RATE_LIMIT = obj(
    {
        "kind": {"type": "string", "enum": list(KINDS)},
        "limit": INT,
        "periodS": {"type": "number"},
    }
)
RATE_LIMITS = obj({"companyId": INT, "limits": array(RATE_LIMIT)})
_NUM = {"type": "number"}
#: ``GET /whatsapps/{id}/pacing`` (``zapx.pacing_state``): times are Redis epoch seconds.
PACING = obj(
    {
        "whatsappId": INT,
        "now": _NUM,
        "paced": BOOL,
        "messageIntervalS": _NUM,
        "jitter": _NUM,
        "maxPerS": _NUM,
        "ratePerS": _NUM,
        "throttleFactor": _NUM,
        "throttledUntil": nullable(_NUM),
        "throttleSignals": INT,
        "nextSlotAt": _NUM,
        "waitingBecause": nullable(STR),
        "lastSendAt": nullable(_NUM),
        "dailySent": INT,
        "dailyCap": INT,
        "sendsSincePause": INT,
        "longerIntervalAfter": INT,
        "greaterIntervalS": _NUM,
        "holder": nullable(STR),
        "leaseUntil": nullable(_NUM),
    }
)
#: ``GET /breakers`` (``zapx.circuits``): the shared breakers of the company's connections and
#: campaigns.
BREAKER = obj(
    {
        "name": {"type": "string", "enum": ["whatsapp", "campaign"]},
        "id": INT,
        "companyId": INT,
        "state": {"type": "string", "enum": ["closed", "open", "half_open"]},
        "calls": INT,
        "failures": INT,
        "failureRate": _NUM,
        "since": nullable(DATE),
        "lastError": nullable(STR),
        "reason": nullable(STR),
    }
)
BREAKERS = array(BREAKER)
#: ``GET /ops/state`` (``zapx.ops``): what the ops page shows.
_OPS_CONNECTION = obj(
    {
        "id": INT,
        "companyId": INT,
        "companyName": STR,
        "name": STR,
        "provider": STR,
        "status": STR,
        "ratePerS": _NUM,
        "limitPerS": _NUM,
        "limitBy": STR,
        "maxPerS": _NUM,
        "throttleFactor": _NUM,
        "dailySent": INT,
        "dailyCap": INT,
        "waitingBecause": nullable(STR),
        "breaker": {"type": "string", "enum": ["closed", "open", "half_open"]},
        "breakerSince": nullable(DATE),
        "breakerError": nullable(STR),
    }
)
_OPS_CAMPAIGN = obj(
    {
        "id": INT,
        "companyId": INT,
        "companyName": STR,
        "name": STR,
        "status": {"type": "string", "enum": [CampaignStatus.EM_ANDAMENTO, CampaignStatus.PAUSADA]},
        "whatsappId": nullable(INT),
        "whatsappName": nullable(STR),
        "sent": INT,
        "failed": INT,
        "unknown": INT,
        "total": INT,
        "remaining": INT,
        "progress": _NUM,
        "ratePerMin": _NUM,
        "estimatedEndAt": nullable(DATE),
        "pauseReason": nullable(STR),
        "waitingBecause": nullable(STR),
        "breaker": {"type": "string", "enum": ["closed", "open", "half_open"]},
        "canControl": BOOL,
    }
)
_OPS_QUEUE = obj({"name": STR, "depth": INT, "delayed": INT, "dead": INT, "oldestAgeS": _NUM})
_OPS_ERROR = obj({"code": STR, "count": INT, "lastAt": DATE, "example": STR})
#: An open alert as ``zapx.alerts.serialize`` gives it (companyId null: the system's).
_OPS_ALERT = obj(
    {
        "id": INT,
        "companyId": nullable(INT),
        "rule": STR,
        "subject": STR,
        "severity": {"type": "string", "enum": ["warning", "critical"]},
        "status": STR,
        "message": STR,
        "value": nullable(_NUM),
        "threshold": nullable(_NUM),
        "openedAt": DATE,
        "lastSeenAt": DATE,
        "resolvedAt": nullable(DATE),
        "occurrences": INT,
    }
)
OPS_STATE = obj(
    {
        "generatedAt": DATE,
        "companyId": nullable(INT),
        "allCompanies": BOOL,
        "connections": array(_OPS_CONNECTION),
        "campaigns": array(_OPS_CAMPAIGN),
        "queues": array(_OPS_QUEUE),
        "workersAlive": INT,
        "errorWindowS": INT,
        "errors": array(_OPS_ERROR),
        "alerts": array(_OPS_ALERT),
    }
)
