"""WhatsApp connections (``/whatsapps``): provider settings, secrets, the default connection.

Secrets (access tokens, API keys, app secrets) are stored in ``settings`` and never leave through
the API: responses list which secrets are set (``secretsSet``), not their values. An update that
omits a secret keeps the stored one.
"""

from __future__ import annotations

from peewee import IntegrityError, fn

from zapx import realtime
from zapx.campaigns import readiness
from zapx.campaigns.pacing import CAP_DEFAULTS
from zapx.db import CONNECTION_STATUSES, PROVIDERS, Company, Tenant, WhatsappConnection, db, utcnow
from zapx.errors import Conflict, LimitExceeded, ValidationError, not_found
from zapx.outbound import Outbound
from zapx.paging import paginate
from zapx.status import ConnectionStatus
from zapx.text import folded, like_pattern
from zapx.validation import Field, parse

#: Meta's messaging tiers: unique users per 24 h (0 = unlimited).
DAILY_TIERS = (0, 250, 1000, 2000, 10_000, 100_000)


_CAPS = (
    Field("messagesPerSecond", int, min=1, max=1000),  # the Cloud API's highest throughput
    Field("dailyLimit", int, choices=DAILY_TIERS),
)
# The sandbox is also a load-testing target: it may be driven far beyond a real number's cap.
_SANDBOX_CAPS = (
    Field("messagesPerSecond", int, min=1, max=1_000_000),
    Field("dailyLimit", int, choices=DAILY_TIERS),
)
#: provider -> (fields, secret field names, defaults)
SCHEMAS: dict[str, tuple[tuple[Field, ...], frozenset[str], dict]] = {
    "cloud": (
        (
            Field("phoneNumberId", required=True, min_len=1, max_len=64),
            Field("accessToken", required=True, min_len=1, max_len=1024),
            Field("apiVersion", max_len=16),
            Field("baseUrl", max_len=255),
            Field("appSecret", max_len=255),
            Field("verifyToken", max_len=255),
            Field("wabaId", max_len=64),
        )
        + _CAPS,
        frozenset({"accessToken", "appSecret", "verifyToken"}),
        {
            "apiVersion": "v21.0",
            "baseUrl": "https://graph.facebook.com",
            "messagesPerSecond": CAP_DEFAULTS["messagesPerSecond"],
        },
    ),
    "evolution": (
        (
            Field("baseUrl", required=True, max_len=255),
            Field("instance", required=True, min_len=1, max_len=128),
            Field("apiKey", required=True, min_len=1, max_len=1024),
        )
        + _CAPS,
        frozenset({"apiKey"}),
        {"messagesPerSecond": 20},
    ),
    "sandbox": (
        (
            Field("baseUrl", max_len=255),
            Field("phoneNumberId", min_len=1, max_len=64),
            Field("accessToken", max_len=1024),
            Field("appSecret", max_len=255),
            Field("verifyToken", max_len=255),
        )
        + _SANDBOX_CAPS,
        frozenset({"accessToken", "appSecret", "verifyToken"}),
        {"accessToken": "sandbox", "messagesPerSecond": 1000},
    ),
}

#: Settings zapx writes and clients may send back unchanged: ``phoneNumberIdConflict`` marks a
#: duplicate Cloud phone id kept by migration 005 (the next save needs an id of its own).
READ_ONLY_SETTINGS = frozenset({"phoneNumberIdConflict"})

CONNECTION_FIELDS = (
    Field("name", required=True, min_len=1, max_len=255),
    Field("provider", choices=PROVIDERS),
    Field("settings", dict, max_len=32),
    Field("isDefault", bool, attr="is_default"),
    Field("status", choices=CONNECTION_STATUSES),
    Field("number", max_len=20),
)


def provider_settings(provider: str, given: dict, stored: dict | None, outbound: Outbound) -> dict:
    """Validate ``given`` for ``provider``, keeping stored secrets that ``given`` omits.

    ``baseUrl`` must be one ``outbound`` lets a connection reach (``zapx/outbound.py``: https to a
    public host, the sandbox, or what ``CONNECTION_ALLOWED_HOSTS`` allows), checked again
    whenever the settings are saved, and by the workers on every new socket they open.
    """
    fields, secrets, defaults = SCHEMAS[provider]
    known = {f.name for f in fields}
    # Read-only marks come back from clients that PUT what they got; saving drops them.
    given = {k: v for k, v in given.items() if k not in READ_ONLY_SETTINGS}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValidationError(
            f"settings has unknown keys for provider {provider}: {', '.join(unknown)}",
            field="settings",
        )
    merged = dict(defaults)
    if provider == "sandbox":
        merged["baseUrl"] = outbound.sandbox_url
    if stored:
        merged.update({k: v for k, v in stored.items() if k in known})
    merged.update(given)
    try:
        settings = parse(merged, fields)
        if "baseUrl" in settings:
            settings["baseUrl"] = outbound.check_url(settings["baseUrl"], provider)
    except ValidationError as exc:
        raise ValidationError(f"settings: {exc.message}", field="settings") from None
    except ValueError as exc:
        raise ValidationError(f"settings: {exc}", field="settings") from None
    return settings


#: The original's connection keys that the frontend's pages and form read, for what zapx does not
#: have (tickets, queues, chatbots, QR-code sessions): ``type: null`` is what makes the
#: connections page offer the edit button, the rest fills the form's fields.
_FRONTEND_KEYS = {
    "type": None,
    "qrcode": "",
    "retries": 0,
    "greetingMessage": "",
    "complationMessage": "",
    "outOfHoursMessage": "",
    "ratingMessage": "",
    "farewellMessage": "",
    "token": "",
    "transferQueueId": None,
    "timeToTransfer": None,
    "promptId": None,
    "integrationId": None,
    "maxUseBotQueues": 3,
    "timeUseBotQueues": 0,
    "expiresTicket": 0,
    "expiresInactiveMessage": "",
    "wavoip": "",
}

#: The provider of a connection made with the frontend's form (``POST /whatsapp``), which sends
#: the original's Baileys flavours (``provider: "beta"``) and no provider settings: a sandbox
#: connection, CONNECTED, outside production; in production a DISCONNECTED placeholder (nothing
#: is sent through it) until an administrator gives it its provider and settings with
#: ``PUT /whatsapps/{id}``.
FORM_PROVIDER = "sandbox"


def from_form(body: object, *, production: bool) -> object:
    """The body of the frontend's connection form (a create) as zapx reads it: a provider zapx
    does not know (``beta``, ``stable``, none) makes a :data:`FORM_PROVIDER` connection; the
    form's ticket keys (``greetingMessage``, ``queueIds``, ``token``...) are ignored."""
    if not isinstance(body, dict) or body.get("provider") in PROVIDERS:
        return body
    out = {k: v for k, v in body.items() if k not in ("provider", "settings")}
    out["provider"] = FORM_PROVIDER
    if production:
        out["status"] = ConnectionStatus.DISCONNECTED
    return out


def connection_dict(w: WhatsappConnection) -> dict:
    _, secrets, _ = SCHEMAS.get(w.provider, ((), frozenset(), {}))
    settings = w.settings or {}
    return _FRONTEND_KEYS | {
        "queues": [],
        "id": w.id,
        "name": w.name,
        "provider": w.provider,
        "status": w.status,
        "isDefault": w.is_default,
        "number": w.number,
        "settings": {k: v for k, v in settings.items() if k not in secrets},
        "secretsSet": sorted(k for k in settings if k in secrets and settings[k]),
        "companyId": w.company_id,
        "createdAt": w.created_at.isoformat() if w.created_at else None,
        "updatedAt": w.updated_at.isoformat() if w.updated_at else None,
    }


#: The unique index of Cloud phone ids (migration 005).
_PHONE_ID_INDEX = "whatsapps_cloud_phone_number_id"


def _conflict(exc: IntegrityError, name: str, settings: dict | None) -> Conflict:
    """The 409 of a unique index: a Cloud phone id in use, else the company's connection name.

    The phone id message says only that another connection has it, never whose: it is the same
    whether that connection is the caller's company's or another's.
    """
    cause = exc.args[0] if exc.args else None
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None) or str(exc)
    if _PHONE_ID_INDEX in constraint:
        phone_id = (settings or {}).get("phoneNumberId")
        return Conflict(
            f"settings: phoneNumberId {phone_id} is already used by another connection",
            field="settings",
        )
    return Conflict(f"a connection named {name!r} already exists", field="name")


def _clear_default(tenant: Tenant, keep_id: int | None) -> None:
    """Unset ``isDefault`` on the company's other connections (at most one default)."""
    where = (WhatsappConnection.company == tenant.company_id) & WhatsappConnection.is_default
    if keep_id is not None:
        where &= WhatsappConnection.id != keep_id
    WhatsappConnection.update(is_default=False).where(where).execute()


def connections_page(tenant: Tenant, search: str | None, number: int) -> dict:
    query = tenant.select(WhatsappConnection).order_by(WhatsappConnection.name)
    if search and search.strip():
        query = query.where(folded(WhatsappConnection.name) % like_pattern(search))
    return paginate(query, number, connection_dict)


def connections_all(tenant: Tenant) -> list[dict]:
    query = tenant.select(WhatsappConnection).order_by(WhatsappConnection.name)
    return [connection_dict(w) for w in query]


def get_connection(tenant: Tenant, connection_id: int) -> dict:
    return connection_dict(tenant.get(WhatsappConnection, connection_id, label="Whatsapp"))


def create_connection(tenant: Tenant, body: object, outbound: Outbound) -> dict:
    data = parse(body, CONNECTION_FIELDS)
    provider = data.setdefault("provider", "sandbox")
    data["settings"] = provider_settings(provider, data.get("settings", {}), None, outbound)
    if provider == "sandbox":
        data.setdefault("status", ConnectionStatus.CONNECTED)
    with db.atomic():
        company = Company.select().where(Company.id == tenant.company_id).for_update().first()
        if company is None:
            raise not_found("Company", tenant.company_id)
        count = tenant.select(WhatsappConnection, fn.COUNT(WhatsappConnection.id)).scalar()
        if count >= company.max_connections:
            raise LimitExceeded(
                f"the plan allows {company.max_connections} connections and the company has {count}"
            )
        if count == 0:
            data["is_default"] = True  # the first connection is the default one
        if data.get("is_default"):
            _clear_default(tenant, None)
        try:
            with db.atomic():
                row = WhatsappConnection.create(company=tenant.company_id, **data)
        except IntegrityError as exc:
            raise _conflict(exc, data["name"], data["settings"]) from None
    out = connection_dict(row)
    realtime.publish(tenant.company_id, "whatsapp", {"action": "update", "whatsapp": out})
    return out


def update_connection(tenant: Tenant, connection_id: int, body: object, outbound: Outbound) -> dict:
    data = parse(body, CONNECTION_FIELDS, partial=True)
    with db.atomic():
        row = tenant.get(WhatsappConnection, connection_id, label="Whatsapp")
        provider = data.get("provider", row.provider)
        if "settings" in data or provider != row.provider:
            stored = row.settings if provider == row.provider else None
            data["settings"] = provider_settings(
                provider, data.get("settings", {}), stored, outbound
            )
        if data.get("is_default"):
            _clear_default(tenant, row.id)
        try:
            with db.atomic():
                tenant.update(WhatsappConnection, connection_id, updated_at=utcnow(), **data)
        except IntegrityError as exc:
            settings = data.get("settings", row.settings)
            raise _conflict(exc, data.get("name", row.name), settings) from None
    out = get_connection(tenant, connection_id)
    publish_connection(tenant, out, session="status" in data)
    return out


def delete_connection(tenant: Tenant, connection_id: int) -> None:
    with db.atomic():
        readiness.check_unused(tenant, WhatsappConnection, connection_id)  # 409 while in use
        tenant.delete(WhatsappConnection, connection_id, label="Whatsapp")
    realtime.publish(
        tenant.company_id, "whatsapp", {"action": "delete", "whatsappId": connection_id}
    )


def publish_connection(tenant: Tenant, connection: int | dict, session: bool = True) -> None:
    """``whatsapp`` ``update`` with the whole row and, when its status may have changed,
    ``whatsappSession`` with the fields the connections page and QR dialog read."""

    def events():
        out = connection if isinstance(connection, dict) else get_connection(tenant, connection)
        yield "whatsapp", {"action": "update", "whatsapp": out}
        if session:
            fields = {"id": out["id"], "status": out["status"], "updatedAt": out["updatedAt"]}
            # qrcode "" closes the QR dialog; no provider of zapx pairs by QR code.
            fields |= {"qrcode": out.get("qrcode") or "", "retries": out.get("retries") or 0}
            yield "whatsappSession", {"action": "update", "session": fields}

    realtime.publish_from(tenant.company_id, events)
