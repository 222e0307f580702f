"""A company's alert webhook: its settings (``alert_webhooks``), the event's body and the
Standard Webhooks signature (https://www.standardwebhooks.com), and one POST.

Signing: the secret is ``whsec_`` + base64 of 24 random bytes; the key is those bytes. Each
POST carries ``webhook-id`` (``alert_<id>_<opened|resolved>``: the same on every retry, so a
receiver drops a repeat), ``webhook-timestamp`` (epoch seconds of the attempt) and
``webhook-signature`` ``v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))>``.

The URL must pass the connections' rule against server-side request forgery
(``zapx.outbound``): checked when it is saved, and on the socket's peer when a worker opens it
(``zapx.providers.http``' guarded pool), so a name rebound to a private address later is
refused then, before a byte is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import urllib3
from peewee import EXCLUDED, SQL

from zapx.alerts._store import serialize
from zapx.db import Alert, AlertWebhook, Tenant, db, utcnow
from zapx.db.alert_models import ALERT_RESOLVED
from zapx.errors import ValidationError, not_found
from zapx.outbound import Outbound
from zapx.providers import http
from zapx.validation import Field, parse

SECRET_PREFIX = "whsec_"
#: Seconds a receiver should accept between ``webhook-timestamp`` and its clock (replays).
TOLERANCE_S = 300
KINDS = ("opened", "resolved")
SCHEMA = (
    Field("url", required=True, min_len=1, max_len=2048),
    Field("rotateSecret", bool, attr="rotate"),
)


class WebhookFailed(Exception):
    """The receiver did not take the event (transport error, 5xx, 408, 429): try again."""


class WebhookRefused(Exception):
    """The receiver or the guard refused the event for good (another 4xx, a refused address):
    retrying cannot help."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value for one POST."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str, headers: dict, body: bytes, now: float | None = None, tolerance_s=TOLERANCE_S
) -> bool:
    """What a receiver does: the timestamp within ``tolerance_s`` of ``now`` and one of the
    signatures (space-separated ``v1,<sig>``) equal to ours, compared in constant time."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
        given = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, g) for g in given)


def webhook_id(alert_id: int, kind: str) -> str:
    return f"alert_{alert_id}_{kind}"


# --- settings ------------------------------------------------------------------------------


def _shown(hook: AlertWebhook) -> dict:
    return {
        "url": hook.url,
        "secret": hook.secret,
        "createdAt": hook.created_at.isoformat(),
        "updatedAt": hook.updated_at.isoformat(),
    }


def get_webhook(tenant: Tenant) -> dict:
    """The company's webhook (URL and secret: company admins only), or NotFound."""
    hook = tenant.select(AlertWebhook).first()
    if hook is None:
        raise not_found("alert webhook", "of this company")
    return _shown(hook)


def set_webhook(tenant: Tenant, body: object, outbound: Outbound) -> tuple[dict, bool]:
    """Create or replace the company's webhook URL: ``{"url", "rotateSecret"?}``. The secret is
    made with the webhook and kept by later changes of its URL unless ``rotateSecret``.
    Returns (the webhook, whether it was created)."""
    data = parse(body, SCHEMA)
    try:
        url = outbound.check_url(data["url"], "webhook")
    except ValueError as exc:
        raise ValidationError(str(exc).replace("baseUrl", "url"), field="url") from None
    now = utcnow()
    update = {AlertWebhook.url: url, AlertWebhook.updated_at: now}
    if data.get("rotate"):
        update[AlertWebhook.secret] = EXCLUDED.secret
    with db.atomic():
        # One statement: two PUTs at once end with one webhook, never an IntegrityError.
        ((created,),) = (
            AlertWebhook.insert(
                company=tenant.company_id,
                url=url,
                secret=new_secret(),
                created_at=now,
                updated_at=now,
            )
            .on_conflict(conflict_target=[AlertWebhook.company], update=update)
            .returning(SQL("(xmax = 0)"))  # true: inserted, false: updated
            .tuples()
            .execute()
        )
        hook = tenant.select(AlertWebhook).first()
    return _shown(hook), created


def delete_webhook(tenant: Tenant) -> None:
    with db.atomic():
        deleted = AlertWebhook.delete().where(AlertWebhook.company == tenant.company_id).execute()
    if not deleted:
        raise not_found("alert webhook", "of this company")


# --- delivery ------------------------------------------------------------------------------


def event_body(alert: Alert, kind: str) -> bytes:
    """``{"type": "alert.opened"|"alert.resolved", "timestamp", "data": <the alert>}`` as the
    API shows it, at the time of the POST (a retry carries the alert's latest figures)."""
    at = alert.resolved_at if kind == ALERT_RESOLVED else alert.opened_at
    return json.dumps(
        {
            "type": f"alert.{kind}",
            "timestamp": at.isoformat() if at else None,
            "data": serialize(alert),
        },
        separators=(",", ":"),
    ).encode()


def post_event(
    alert_id: int, kind: str, outbound: Outbound, timeout_s: float, now=time.time
) -> int | None:
    """POST alert ``alert_id``'s ``kind`` event to its company's webhook; the HTTP status, or
    None when there is nothing to send (a system alert, no webhook, the alert deleted).

    Raises :class:`WebhookFailed` (retry) or :class:`WebhookRefused` (give up).
    """
    if kind not in KINDS:
        raise WebhookRefused(f"unknown alert event {kind!r}")
    with db.connection_context():
        alert = Alert.get_or_none(Alert.id == alert_id)
        if alert is None or alert.company_id is None:
            return None
        hook = AlertWebhook.get_or_none(AlertWebhook.company == alert.company_id)
        if hook is None:
            return None
        body = event_body(alert, kind)
    msg_id, timestamp = webhook_id(alert_id, kind), int(now())
    headers = {
        "content-type": "application/json",
        "user-agent": "zapx-alerts",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(hook.secret, msg_id, timestamp, body),
    }
    try:
        resp = http.pool(outbound).request(
            "POST",
            hook.url,
            body=body,
            headers=headers,
            redirect=False,  # a redirect could lead past the URL that was checked
            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
            preload_content=True,
        )
    except http.RefusedAddress as exc:
        raise WebhookRefused(str(exc)) from None
    except urllib3.exceptions.HTTPError as exc:
        raise WebhookFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
    if 200 <= resp.status < 300:
        return resp.status
    if resp.status >= 500 or resp.status in (408, 429):
        raise WebhookFailed(f"HTTP {resp.status}")
    raise WebhookRefused(f"HTTP {resp.status}")
