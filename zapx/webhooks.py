"""Cloud API webhooks: the subscription check, signatures, message statuses and replies.

Statuses (sent, delivered, read, failed) update shipping rows by the provider's message id, in
any order and any number of times: a status only moves a row forward (read > delivered > sent),
timestamps are kept from the first report, and a duplicate changes nothing. A reply from a contact
with a confirmation outstanding re-opens that row for the campaign's main message.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging

from zapx.db import db
from zapx.errors import AuthError, ValidationError

log = logging.getLogger("zapx.webhooks")

#: Status rank: a row never moves to a lower one.
_RANK = {"sent": 1, "delivered": 2, "read": 3}


def verify_challenge(mode: str | None, token: str | None, challenge: str | None) -> str:
    """The ``hub.challenge`` to echo when ``hub.verify_token`` matches a connection's."""
    if mode != "subscribe" or not token or not challenge:
        raise ValidationError("expected hub.mode=subscribe, hub.verify_token and hub.challenge")
    row = db.execute_sql(
        "SELECT 1 FROM whatsapps WHERE provider IN ('cloud', 'sandbox') "
        "AND settings->>'verifyToken' = %s LIMIT 1",
        (token,),
    ).fetchone()
    if row is None:
        raise AuthError("hub.verify_token matches no connection")
    return challenge


def _phone_ids(payload: dict) -> set[str]:
    ids = set()
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or [] if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if isinstance(metadata, dict) and metadata.get("phone_number_id"):
                ids.add(str(metadata["phone_number_id"]))
    return ids


def check_signature(raw: bytes, header: str | None, payload: dict) -> None:
    """``X-Hub-Signature-256: sha256=<hex>`` must be the HMAC of the body with the app secret of
    a connection of the payload's phone number id."""
    if not header or not header.startswith("sha256="):
        raise AuthError("missing X-Hub-Signature-256 header")
    given = header[len("sha256=") :]
    ids = sorted(_phone_ids(payload))
    if not ids:
        raise ValidationError("payload names no metadata.phone_number_id")
    secrets = db.execute_sql(
        "SELECT DISTINCT settings->>'appSecret' FROM whatsapps "
        "WHERE provider IN ('cloud', 'sandbox') "
        "AND coalesce(settings->>'phoneNumberId', 'sandbox') = ANY(%s) "
        "AND coalesce(settings->>'appSecret', '') <> ''",
        (ids,),
    ).fetchall()
    for (secret,) in secrets:
        expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            return
    raise AuthError("X-Hub-Signature-256 does not match the app secret")


def _ts(raw) -> datetime.datetime:
    try:
        return datetime.datetime.fromtimestamp(int(raw), datetime.UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.datetime.now(datetime.UTC)


def apply(payload: dict) -> dict:
    """Apply every status and reply in ``payload``; returns counts, and the campaigns whose rows
    a reply re-opened (the caller tells the engine)."""
    statuses, replies = [], []
    for entry in payload.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            pid = str((value.get("metadata") or {}).get("phone_number_id") or "")
            for st in value.get("statuses") or []:
                if (
                    isinstance(st, dict)
                    and st.get("id")
                    and st.get("status")
                    in (
                        "sent",
                        "delivered",
                        "read",
                        "failed",
                    )
                ):
                    error = None
                    if st["status"] == "failed":
                        errs = st.get("errors") or [{}]
                        error = f"{errs[0].get('code')}: {errs[0].get('title') or ''}".strip()
                    statuses.append(
                        (str(st["id"])[:128], st["status"], _ts(st.get("timestamp")), error)
                    )
            for msg in value.get("messages") or []:
                if isinstance(msg, dict) and msg.get("from"):
                    replies.append((pid, "".join(c for c in str(msg["from"]) if c.isdigit())))
    updated = _apply_statuses(statuses)
    reopened = _apply_replies(replies)
    return {"statuses": len(statuses), "updated": updated, "reopened": reopened}


def _merge(statuses: list[tuple]) -> list[tuple]:
    """One entry per message id (an UPDATE touches a row once): the furthest status, the first
    delivered/read times, the first failure."""
    merged: dict[str, dict] = {}
    for mid, status, ts, error in statuses:
        m = merged.setdefault(mid, {"best": None, "delivered": None, "read": None, "failed": None})
        if status in _RANK and (m["best"] is None or _RANK[status] > _RANK[m["best"]]):
            m["best"] = status
        if status in ("delivered", "read"):
            m["delivered"] = min(filter(None, (m["delivered"], ts)))
        if status == "read":
            m["read"] = min(filter(None, (m["read"], ts)))
        if status == "failed" and m["failed"] is None:
            m["failed"] = (ts, error)
    return [
        (mid, m["best"], m["delivered"], m["read"], *(m["failed"] or (None, None)))
        for mid, m in merged.items()
    ]


def _apply_statuses(statuses: list[tuple]) -> int:
    if not statuses:
        return 0
    rows = _merge(statuses)
    values = ",".join(
        ["(%s, %s, %s::timestamptz, %s::timestamptz, %s::timestamptz, %s)"] * len(rows)
    )
    params = [v for r in rows for v in r]
    with db.atomic():
        cursor = db.execute_sql(
            f"""
            UPDATE campaign_shipping s SET
                status = CASE
                    WHEN s.status = 'awaiting' THEN s.status
                    WHEN v.best IN ('delivered', 'read') AND (
                        s.status IN ('sent', 'unknown', 'failed')
                        OR (s.status = 'delivered' AND v.best = 'read'))
                        THEN v.best
                    WHEN v.failed_ts IS NOT NULL AND v.best IS DISTINCT FROM 'delivered'
                        AND v.best IS DISTINCT FROM 'read' AND s.status IN ('sent', 'unknown')
                        THEN 'failed'
                    ELSE s.status END,
                delivered_at = COALESCE(s.delivered_at, v.delivered_ts),
                read_at = COALESCE(s.read_at, v.read_ts),
                failed_at = CASE WHEN v.failed_ts IS NOT NULL AND s.status IN ('sent', 'unknown')
                    AND v.delivered_ts IS NULL THEN COALESCE(s.failed_at, v.failed_ts)
                    ELSE s.failed_at END,
                error = CASE WHEN v.failed_ts IS NOT NULL AND s.status IN ('sent', 'unknown')
                    AND v.delivered_ts IS NULL THEN v.err ELSE s.error END,
                updated_at = now()
            FROM (VALUES {values}) AS v(mid, best, delivered_ts, read_ts, failed_ts, err)
            WHERE s.provider_message_id = v.mid
            """,
            params,
        )
    return cursor.rowcount


def _apply_replies(replies: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """Rows awaiting a confirmation from these numbers (on that phone id) back to pending."""
    reopened: set[tuple[int, int]] = set()
    for pid, number in replies:
        rows = db.execute_sql(
            """
            UPDATE campaign_shipping s SET status = 'pending', confirmed_at = now(),
                batch_id = NULL, next_attempt_at = NULL, updated_at = now()
            FROM campaigns c JOIN whatsapps w ON w.id = c.whatsapp_id
            WHERE s.campaign_id = c.id AND s.status = 'awaiting' AND s.number = %s
              AND coalesce(w.settings->>'phoneNumberId', 'sandbox') = %s
            RETURNING s.company_id, s.campaign_id
            """,
            (number, pid or "sandbox"),
        ).fetchall()
        reopened.update((r[0], r[1]) for r in rows)
    return sorted(reopened)
