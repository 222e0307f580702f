"""Cloud API webhooks: the subscription check, signatures, message statuses and replies.

A notification acts for the connection whose app secret signed it, and for nothing else: its
statuses and replies touch only rows of that connection's campaigns, so another company's message
id or contact number is treated exactly like an unknown one. (Before, a status matched its message
id in any company, and a reply the awaiting rows of every connection with that phone id.)

Statuses (sent, delivered, read, failed) update shipping rows by the provider's message id, in
any order and any number of times: a status only moves a row forward (read > delivered > sent),
timestamps are kept from the first report, and a duplicate changes nothing. A reply from a contact
with a confirmation outstanding re-opens that row for the campaign's main message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging

from zapx.db import db
from zapx.errors import AuthError, ValidationError
from zapx.status import RowStatus, sql
from zapx.webhook_payload import Change, read

log = logging.getLogger("zapx.webhooks")

#: Status rank: a row never moves to a lower one.
_RANK = {RowStatus.SENT: 1, RowStatus.DELIVERED: 2, RowStatus.READ: 3}
#: ``verifyToken`` is at most 255 characters; the challenge Meta sends is a short number.
_MAX_QUERY_CHARS = 255
# Row statuses as SQL literals, for the statements below.
_PENDING, _AWAITING, _SENT, _UNKNOWN = map(
    sql, (RowStatus.PENDING, RowStatus.AWAITING, RowStatus.SENT, RowStatus.UNKNOWN)
)
_DELIVERED, _READ, _FAILED = map(sql, (RowStatus.DELIVERED, RowStatus.READ, RowStatus.FAILED))

__all__ = ["Signer", "apply", "check_signature", "read", "verify_challenge"]


def verify_challenge(mode: str | None, token: str | None, challenge: str | None) -> str:
    """The ``hub.challenge`` to echo when ``hub.verify_token`` is a Cloud or sandbox
    connection's ``verifyToken`` (the same connections a signature is checked against).

    The handshake only proves that someone knows a verify token; it writes nothing, and every
    notification is still checked against the app secret of the connection it names.
    """
    if mode != "subscribe" or not token or not challenge:
        raise ValidationError("expected hub.mode=subscribe, hub.verify_token and hub.challenge")
    for name, value in (("hub.verify_token", token), ("hub.challenge", challenge)):
        if len(value) > _MAX_QUERY_CHARS or not value.isprintable():
            raise ValidationError(
                f"{name} must be at most {_MAX_QUERY_CHARS} printable characters", field=name
            )
    row = db.execute_sql(
        "SELECT 1 FROM whatsapps WHERE provider IN ('cloud', 'sandbox') "
        "AND settings->>'verifyToken' = %s LIMIT 1",
        (token,),
    ).fetchone()
    if row is None:
        raise AuthError("hub.verify_token matches no connection")
    return challenge


@dataclasses.dataclass(frozen=True)
class Signer:
    """A connection whose app secret signed the request: the only one the request acts for."""

    connection_id: int
    company_id: int
    phone_id: str


def check_signature(
    raw: bytes, header: str | None, changes: tuple[Change, ...]
) -> tuple[Signer, ...]:
    """The connections, among those of the phone ids ``changes`` name, whose app secret gives
    ``X-Hub-Signature-256: sha256=<hex>`` (the HMAC of the body); :class:`AuthError` when none.

    A Cloud ``phoneNumberId`` belongs to one connection (a unique index), so there is one
    candidate per Cloud id. Sandbox connections share the id ``sandbox`` unless given their own,
    and an install from before migration 005 may keep old duplicates: then each candidate's
    secret is tried, and a request acts only for the ones that signed it.
    """
    if not header or not header.startswith("sha256="):
        raise AuthError("missing X-Hub-Signature-256 header")
    given = header[len("sha256=") :].encode("utf-8", "replace")
    ids = sorted({c.phone_id for c in changes})
    if not ids:
        raise ValidationError("payload names no metadata.phone_number_id")
    candidates = db.execute_sql(
        "SELECT id, company_id, coalesce(settings->>'phoneNumberId', 'sandbox'), "
        "settings->>'appSecret' FROM whatsapps "
        "WHERE provider IN ('cloud', 'sandbox') "
        "AND coalesce(settings->>'phoneNumberId', 'sandbox') = ANY(%s) "
        "AND coalesce(settings->>'appSecret', '') <> ''",
        (ids,),
    ).fetchall()
    signers = tuple(
        Signer(connection_id, company_id, phone_id)
        for connection_id, company_id, phone_id, secret in candidates
        if hmac.compare_digest(
            hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode(), given
        )
    )
    if not signers:
        log.warning("webhook signature matches no connection", extra={"phone_ids": ids})
        raise AuthError("X-Hub-Signature-256 does not match the app secret")
    return signers


def apply(changes: tuple[Change, ...], signers: tuple[Signer, ...]) -> dict:
    """Apply the statuses and replies of ``changes`` to the rows of the connections that signed
    them, each change to the signers of its own phone id. Returns counts, and the campaigns whose
    rows a reply re-opened (the caller tells the engine) and the companies whose rows changed
    (the caller invalidates their cached reports).

    Another company's message id or contact number answers exactly like an unknown one: the
    statement matches rows of the signer's campaigns only.
    """
    by_phone: dict[str, list[Signer]] = {}
    for signer in signers:
        by_phone.setdefault(signer.phone_id, []).append(signer)
    statuses, replies, count = [], set(), 0
    for change in changes:
        owners = by_phone.get(change.phone_id, ())
        if owners:
            count += len(change.statuses)
        for signer in owners:
            key = (signer.connection_id, signer.company_id)
            statuses.extend((*key, s.message_id, s.status, s.at, s.error) for s in change.statuses)
            replies.update((*key, number) for number in change.replies)
    updated = _apply_statuses(statuses)
    reopened = _apply_replies(sorted(replies))
    for signer in signers:
        log.info(
            "webhook applied",
            extra={
                "company_id": signer.company_id,
                "whatsapp_id": signer.connection_id,
                "updated": updated.get(signer.connection_id, 0),
                "reopened_campaigns": [c for w, _, c in reopened if w == signer.connection_id],
            },
        )
    changed = {s.company_id for s in signers if updated.get(s.connection_id)}
    return {
        "statuses": count,
        "updated": sum(updated.values()),
        "reopened": sorted({(company, campaign) for _, company, campaign in reopened}),
        #: Companies whose rows changed (their cached campaign reports are stale).
        "companies": sorted(changed | {company for _, company, _ in reopened}),
    }


def _merge(statuses: list[tuple]) -> list[tuple]:
    """One entry per (connection, company, message id) (an UPDATE touches a row once): the
    furthest status, the first delivered/read times, the first failure."""
    merged: dict[tuple, dict] = {}
    for wid, cid, mid, status, ts, error in statuses:
        m = merged.setdefault(
            (wid, cid, mid), {"best": None, "delivered_at": None, "read_at": None, "failure": None}
        )
        if status in _RANK and (m["best"] is None or _RANK[status] > _RANK[m["best"]]):
            m["best"] = status
        if status in (RowStatus.DELIVERED, RowStatus.READ):
            m["delivered_at"] = min(filter(None, (m["delivered_at"], ts)))
        if status == RowStatus.READ:
            m["read_at"] = min(filter(None, (m["read_at"], ts)))
        if status == RowStatus.FAILED and m["failure"] is None:
            m["failure"] = (ts, error)
    return [
        (*key, m["best"], m["delivered_at"], m["read_at"], *(m["failure"] or (None, None)))
        for key, m in merged.items()
    ]


def _apply_statuses(statuses: list[tuple]) -> dict[int, int]:
    """Rows updated, by connection id."""
    if not statuses:
        return {}
    rows = _merge(statuses)
    values = ",".join(
        [
            "(%s::int, %s::int, %s, %s, %s::timestamptz, %s::timestamptz, %s::timestamptz, %s)",
        ]
        * len(rows)
    )
    params = [v for r in rows for v in r]
    with db.atomic():
        cursor = db.execute_sql(
            f"""
            UPDATE campaign_shipping s SET
                status = CASE
                    WHEN s.status = {_AWAITING} THEN s.status
                    WHEN v.best IN ({_DELIVERED}, {_READ}) AND (
                        s.status IN ({_SENT}, {_UNKNOWN}, {_FAILED})
                        OR (s.status = {_DELIVERED} AND v.best = {_READ}))
                        THEN v.best
                    WHEN v.failed_ts IS NOT NULL AND v.best IS DISTINCT FROM {_DELIVERED}
                        AND v.best IS DISTINCT FROM {_READ} AND s.status IN ({_SENT}, {_UNKNOWN})
                        THEN {_FAILED}
                    ELSE s.status END,
                delivered_at = COALESCE(s.delivered_at, v.delivered_ts),
                read_at = COALESCE(s.read_at, v.read_ts),
                failed_at = CASE WHEN v.failed_ts IS NOT NULL AND s.status IN ({_SENT}, {_UNKNOWN})
                    AND v.delivered_ts IS NULL THEN COALESCE(s.failed_at, v.failed_ts)
                    ELSE s.failed_at END,
                error = CASE WHEN v.failed_ts IS NOT NULL AND s.status IN ({_SENT}, {_UNKNOWN})
                    AND v.delivered_ts IS NULL THEN v.err ELSE s.error END,
                updated_at = now()
            FROM (VALUES {values})
                AS v(wid, cid, mid, best, delivered_ts, read_ts, failed_ts, err),
                campaigns c
            WHERE s.provider_message_id = v.mid AND s.company_id = v.cid
              AND c.id = s.campaign_id AND c.whatsapp_id = v.wid
            RETURNING v.wid
            """,
            params,
        )
        updated: dict[int, int] = {}
        for (wid,) in cursor.fetchall():
            updated[wid] = updated.get(wid, 0) + 1
    return updated


def _apply_replies(replies: list[tuple[int, int, str]]) -> list[tuple[int, int, int]]:
    """Rows of these (connection, company)'s campaigns awaiting a confirmation from these
    numbers, back to pending; returns the (connection, company, campaign) re-opened."""
    if not replies:
        return []
    values = ",".join(["(%s::int, %s::int, %s)"] * len(replies))
    params = [v for r in replies for v in r]
    with db.atomic():
        rows = db.execute_sql(
            f"""
            UPDATE campaign_shipping s SET status = {_PENDING}, confirmed_at = now(),
                batch_id = NULL, next_attempt_at = NULL, updated_at = now()
            FROM (VALUES {values}) AS v(wid, cid, number), campaigns c
            WHERE s.status = {_AWAITING} AND s.number = v.number AND s.company_id = v.cid
              AND c.id = s.campaign_id AND c.whatsapp_id = v.wid
            RETURNING v.wid, s.company_id, s.campaign_id
            """,
            params,
        ).fetchall()
    return sorted(set(rows))
