"""The alerts table's writers and readers: open-or-touch, resolve, list.

One open row per (company or the system, rule, subject), held by the unique partial index
``alerts_one_open``: :func:`raise_alert` is one ``INSERT ... ON CONFLICT DO UPDATE`` on it, so
two evaluators (two engine processes during a restart, the 131048 path and the periodic one)
never open the same alert twice; the second one touches it. Each open and each resolve writes
one log line with ``company_id`` (and ``campaign_id`` when the subject is a campaign).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging

from peewee import fn

from zapx.db import db, utcnow
from zapx.db.alert_models import (
    ALERT_OPEN,
    ALERT_RESOLVED,
    ALERT_STATUSES,
    RULES,
    SEVERITIES,
    Alert,
)
from zapx.errors import ValidationError
from zapx.paging import paginate

log = logging.getLogger("zapx.alerts")


@dataclasses.dataclass(frozen=True)
class Condition:
    """A rule found holding for a subject: what :func:`raise_alert` stores.

    ``value`` and ``threshold`` are in the rule's unit (seconds, a ratio 0..1, bytes, a count;
    docs/ALERTS.md). ``company_id`` None is a system alert.
    """

    rule: str
    subject: str
    company_id: int | None
    severity: str
    message: str
    value: float | None = None
    threshold: float | None = None

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"unknown alert rule {self.rule!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown alert severity {self.severity!r}")
        if not self.subject or len(self.subject) > 128:
            raise ValueError(f"an alert subject is 1..128 characters, got {self.subject!r}")

    @property
    def key(self) -> tuple[int | None, str, str]:
        return (self.company_id, self.rule, self.subject)


@dataclasses.dataclass(frozen=True)
class Event:
    """An alert opened or resolved: what the log line says and the webhook POSTs."""

    alert_id: int
    kind: str  # "opened" | "resolved"
    company_id: int | None
    rule: str
    subject: str


def campaign_of(subject: str) -> int | None:
    """The campaign id of a ``campaign:<id>`` subject, for the log line; else None."""
    kind, _, rest = subject.partition(":")
    return int(rest) if kind == "campaign" and rest.isdigit() else None


def _log(event: str, company_id, rule, subject, **extra) -> None:
    log.log(
        logging.WARNING if event == "alert opened" else logging.INFO,
        event,
        extra={
            "company_id": company_id,
            "campaign_id": campaign_of(subject),
            "rule": rule,
            "subject": subject,
            **extra,
        },
    )


_UPSERT = f"""
INSERT INTO alerts (created_at, updated_at, company_id, rule, subject, severity, status,
                    message, value, threshold, opened_at, last_seen_at, occurrences)
VALUES (%(now)s, %(now)s, %(company_id)s, %(rule)s, %(subject)s, %(severity)s,
        '{ALERT_OPEN}', %(message)s, %(value)s, %(threshold)s, %(now)s, %(now)s, 1)
ON CONFLICT (COALESCE(company_id, 0), rule, subject) WHERE status = '{ALERT_OPEN}'
DO UPDATE SET updated_at = EXCLUDED.updated_at, last_seen_at = EXCLUDED.last_seen_at,
              occurrences = alerts.occurrences + 1, value = EXCLUDED.value,
              threshold = EXCLUDED.threshold, message = EXCLUDED.message,
              severity = EXCLUDED.severity
RETURNING id, (xmax = 0) AS inserted
"""


def raise_alert(condition: Condition, *, now: datetime.datetime | None = None) -> Event | None:
    """Open ``condition``'s alert, or touch it when it is already open (``last_seen_at``,
    ``occurrences`` + 1, the latest ``value``/``message``/``severity``).

    Returns the :class:`Event` when this call opened it (the caller sends the webhook), None
    when it only touched an open one. Needs a connection (the caller's unit of work).
    """
    params = {**dataclasses.asdict(condition), "now": now or utcnow()}
    with db.atomic():
        alert_id, inserted = db.execute_sql(_UPSERT, params).fetchone()
    if not inserted:
        return None
    _log(
        "alert opened",
        condition.company_id,
        condition.rule,
        condition.subject,
        alert_id=alert_id,
        severity=condition.severity,
        value=condition.value,
        threshold=condition.threshold,
        alert_message=condition.message,
    )
    return Event(alert_id, "opened", condition.company_id, condition.rule, condition.subject)


def _same_company(company_id: int | None):
    return Alert.company.is_null() if company_id is None else Alert.company == company_id


def resolve(
    company_id: int | None, rule: str, subject: str, *, now: datetime.datetime | None = None
) -> Event | None:
    """Resolve the open alert of (company, rule, subject); the :class:`Event`, or None when
    none was open."""
    now = now or utcnow()
    with db.atomic():
        row = (
            Alert.update(status=ALERT_RESOLVED, resolved_at=now, updated_at=now)
            .where(
                _same_company(company_id),
                Alert.rule == rule,
                Alert.subject == subject,
                Alert.status == ALERT_OPEN,
            )
            .returning(Alert.id)
            .execute()
        )
        ids = [r.id for r in row]
    if not ids:
        return None
    _log("alert resolved", company_id, rule, subject, alert_id=ids[0])
    return Event(ids[0], "resolved", company_id, rule, subject)


def resolve_cleared(
    rule: str, holding: set[tuple[int | None, str, str]], *, now: datetime.datetime | None = None
) -> list[Event]:
    """Resolve every open alert of ``rule`` whose key (company id, rule, subject) is not in
    ``holding``: what one evaluation of the rule did not find any more has cleared."""
    events = []
    with db.atomic():
        open_keys = [
            (a.company_id, a.rule, a.subject)
            for a in Alert.select(Alert.company, Alert.rule, Alert.subject).where(
                Alert.rule == rule, Alert.status == ALERT_OPEN
            )
        ]
    for key in open_keys:
        if key not in holding:
            event = resolve(*key, now=now)
            if event is not None:
                events.append(event)
    return events


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def serialize(alert: Alert) -> dict:
    """An alert as the API answers it (camelCase; instants ISO 8601 with their offset)."""
    return {
        "id": alert.id,
        "companyId": alert.company_id,
        "rule": alert.rule,
        "subject": alert.subject,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "openedAt": _iso(alert.opened_at),
        "lastSeenAt": _iso(alert.last_seen_at),
        "resolvedAt": _iso(alert.resolved_at),
        "occurrences": alert.occurrences,
    }


def alerts_query(company_id: int | None, status: str | None = None, *, system: bool = False):
    """Alerts newest first: one company's (``company_id``), or with ``company_id`` None every
    company's and the system's (super admins). ``system`` adds the system's to one company's
    (a super admin looking at their own company). ``status`` open|resolved filters."""
    if status is not None and status not in ALERT_STATUSES:
        raise ValueError(f"unknown alert status {status!r}")
    query = Alert.select()
    if company_id is not None:
        scope = Alert.company == company_id
        query = query.where(scope | Alert.company.is_null() if system else scope)
    if status is not None:
        query = query.where(Alert.status == status)
    return query.order_by(Alert.id.desc())


def open_alerts(company_id: int | None) -> list[dict]:
    """Open alerts, newest first, as the API answers them: one company's, or with None every
    company's and the system's (for super admins). Opens its own connection when the thread
    has none."""
    with db.connection_context():
        return [serialize(a) for a in alerts_query(company_id, ALERT_OPEN)]


def spam_reason(error: str | None) -> str:
    """The pause reason of a campaign whose send answered Cloud API 131048."""
    return f"spam rate limit hit (Cloud API 131048): {error or 'no detail'}"[:500]


def spam_rate_limit(company_id: int, campaign_id: int, reason: str) -> Event | None:
    """Open (or touch: None) the spam_rate_limit alert of a campaign the engine paused for
    131048, with the pause ``reason`` as its message. Needs a connection."""
    return raise_alert(
        Condition("spam_rate_limit", f"campaign:{campaign_id}", company_id, "critical", reason)
    )


def alerts_page(company_id: int | None, status: object, number: int) -> dict:
    """``GET /alerts``: ``{records, count, hasMore}``, newest first, one company's (or with None
    every company's and the system's); ``status`` open|resolved or None, else a 400."""
    if status in (None, ""):
        status = None
    elif status not in ALERT_STATUSES:
        raise ValidationError(
            f"status must be one of {', '.join(ALERT_STATUSES)}, got {status!r:.40}",
            field="status",
        )
    return paginate(alerts_query(company_id, status), number, serialize)


def open_counts() -> dict[str, int]:
    """Open alerts by rule, every rule present (0 when none): ``zapx_alerts_open{rule}``. One
    ``GROUP BY``; opens its own connection when the thread has none."""
    counts = dict.fromkeys(RULES, 0)
    with db.connection_context():
        query = (
            Alert.select(Alert.rule, fn.COUNT(Alert.id).alias("n"))
            .where(Alert.status == ALERT_OPEN)
            .group_by(Alert.rule)
        )
        for row in query:
            counts[row.rule] = row.n
    return counts
