"""Alerts (issue 15): ``alerts``, one row per episode of a rule holding for a subject, and
``alert_webhooks``, the optional URL a company's alerts are POSTed to.

An alert is opened when its rule's condition starts to hold, touched (``last_seen_at``,
``occurrences``, ``value``) while it holds, and resolved when it clears; the unique partial index
``alerts_one_open`` keeps at most one *open* row per (company, rule, subject), so evaluators in
several processes cannot open the same alert twice. ``company_id`` NULL is a system alert
(Redis memory, a queue's dead letters), seen by super admins only.

The CHECK constraints hold the names ``zapx.alerts`` uses, so no writer can store another rule,
severity or status.
"""

from __future__ import annotations

from peewee import (
    BigAutoField,
    CharField,
    Check,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from zapx.db.fields import TimestampTZField, utcnow
from zapx.db.models import BaseModel, Company

#: The rules (BRIEF's shared names: also the alert names of deploy/prometheus/alerts.yml).
RULES = (
    "breaker_open",
    "queue_stale",
    "campaign_error_rate",
    "spam_rate_limit",
    "redis_memory_high",
    "connection_down",
    "dead_letters_growing",
)
SEVERITIES = ("warning", "critical")
#: An alert's ``status``: holding, or cleared (``resolved_at`` set).
ALERT_OPEN = "open"
ALERT_RESOLVED = "resolved"
ALERT_STATUSES = (ALERT_OPEN, ALERT_RESOLVED)


def _one_of(column: str, names: tuple[str, ...]) -> Check:
    return Check(f"{column} IN ({', '.join(repr(n) for n in names)})")


class Alert(BaseModel):
    id = BigAutoField()
    #: NULL: a system alert (no company's), for super admins.
    company = ForeignKeyField(
        Company, null=True, backref="alerts", on_delete="CASCADE", index=False
    )
    rule = CharField(max_length=32, constraints=[_one_of("rule", RULES)])
    #: What the rule holds for: ``whatsapp:12``, ``campaign:5``, ``queue:delivery``, ``redis``.
    subject = CharField(max_length=128)
    severity = CharField(max_length=8, constraints=[_one_of("severity", SEVERITIES)])
    status = CharField(max_length=8, constraints=[_one_of("status", ALERT_STATUSES)])
    message = TextField(default="")
    #: The measured figure and the threshold it crossed, in the rule's unit (docs/ALERTS.md).
    value = DoubleField(null=True)
    threshold = DoubleField(null=True)
    opened_at = TimestampTZField(default=utcnow)
    last_seen_at = TimestampTZField(default=utcnow)
    resolved_at = TimestampTZField(null=True)
    #: Evaluations (or events) that found the condition holding, the opening one included.
    occurrences = IntegerField(default=1)

    class Meta:
        table_name = "alerts"
        indexes = (
            # GET /alerts: a company's newest first (and the system's: company_id IS NULL).
            (("company", "id"), False),
        )


class AlertWebhook(BaseModel):
    """A company's alert webhook: ``url`` (checked by ``zapx.outbound``) and the Standard
    Webhooks signing secret ``whsec_<base64 of 24 random bytes>``."""

    company = ForeignKeyField(Company, backref="alert_webhooks", on_delete="CASCADE", unique=True)
    url = CharField(max_length=2048)
    secret = CharField(max_length=128)

    class Meta:
        table_name = "alert_webhooks"


ALERT_MODELS = (Alert, AlertWebhook)

#: The one-open-alert rule: peewee cannot declare an index on an expression with a WHERE.
ALERT_INDEXES = (
    (
        "alerts",
        "alerts_one_open",
        "CREATE UNIQUE INDEX alerts_one_open ON public.alerts USING btree "
        "(COALESCE(company_id, 0), rule, subject) WHERE ((status)::text = 'open'::text)",
    ),
)

__all__ = [
    "ALERT_INDEXES",
    "ALERT_MODELS",
    "ALERT_OPEN",
    "ALERT_RESOLVED",
    "ALERT_STATUSES",
    "RULES",
    "SEVERITIES",
    "Alert",
    "AlertWebhook",
]
