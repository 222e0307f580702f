"""Alerts (issue 15): rules over zapx's signals, stored in the ``alerts`` table (one open row
per company, rule and subject), logged, listed by ``GET /alerts`` and POSTed to a company's
webhook. See docs/ALERTS.md."""

from zapx.alerts._evaluator import Evaluator
from zapx.alerts._store import (
    Condition,
    Event,
    alerts_page,
    alerts_query,
    campaign_of,
    open_alerts,
    open_counts,
    raise_alert,
    resolve,
    resolve_cleared,
    serialize,
    spam_rate_limit,
    spam_reason,
)
from zapx.db.alert_models import ALERT_OPEN, ALERT_RESOLVED, RULES, SEVERITIES

__all__ = [
    "ALERT_OPEN",
    "ALERT_RESOLVED",
    "RULES",
    "SEVERITIES",
    "Condition",
    "Event",
    "Evaluator",
    "alerts_page",
    "alerts_query",
    "campaign_of",
    "open_alerts",
    "open_counts",
    "raise_alert",
    "resolve",
    "resolve_cleared",
    "serialize",
    "spam_rate_limit",
    "spam_reason",
]
