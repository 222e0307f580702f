"""``/alerts``: the alerts of the company (``zapx.alerts``), and its alert webhook.

``GET /alerts`` is for company administrators (their company's alerts) and platform
administrators (every company's and the system's, or one company's with ``?companyId=``).
``/alerts/webhook`` reads, sets and deletes the company's webhook: its URL and the signing
secret (``whsec_...``), readable by the company's administrators (docs/ALERTS.md).
"""

from __future__ import annotations

from api import schemas
from api.openapi import doc
from api.resources.base import Resource, body, no_content
from zapx import alerts, rate_limits
from zapx.alerts import webhook
from zapx.db.alert_models import ALERT_STATUSES, RULES, SEVERITIES
from zapx.paging import page_number

_NUM = {"type": "number"}
ALERT = schemas.obj(
    {
        "id": schemas.INT,
        "companyId": schemas.nullable(schemas.INT),
        "rule": {"type": "string", "enum": list(RULES)},
        "subject": schemas.STR,
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "status": {"type": "string", "enum": list(ALERT_STATUSES)},
        "message": schemas.STR,
        "value": schemas.nullable(_NUM),
        "threshold": schemas.nullable(_NUM),
        "openedAt": schemas.DATE,
        "lastSeenAt": schemas.DATE,
        "resolvedAt": schemas.nullable(schemas.DATE),
        "occurrences": schemas.INT,
    }
)
ALERTS_PAGE = schemas.page("records", ALERT)
WEBHOOK = schemas.obj(
    {
        "url": schemas.STR,
        "secret": schemas.STR,
        "createdAt": schemas.DATE,
        "updatedAt": schemas.DATE,
    }
)


class AlertsResource(Resource):
    @doc(
        "Alerts, newest first, 20 a page: the company's; super sees every company's and the "
        "system's (companyId null), or one company's with ?companyId=. ?status=open|resolved",
        query=("status", "companyId", "pageNumber"),
        response=ALERTS_PAGE,
    )
    def on_get(self, req, resp):
        principal = req.context.principal
        wanted = req.get_param("companyId")
        scope = None
        if not (principal.is_super and not wanted):
            scope = rate_limits.company_tenant(principal, wanted).company_id
        resp.media = alerts.alerts_page(
            scope, req.get_param("status"), page_number(req.get_param("pageNumber"))
        )


class AlertWebhookResource(Resource):
    @doc(
        "The company's alert webhook {url, secret, createdAt, updatedAt}, or 404 when none. "
        "Admins; super may name ?companyId=",
        query=("companyId",),
        response=WEBHOOK,
    )
    def on_get(self, req, resp):
        tenant = rate_limits.company_tenant(req.context.principal, req.get_param("companyId"))
        resp.media = webhook.get_webhook(tenant)

    @doc(
        "Set the company's alert webhook {url, rotateSecret?}: an https URL of a public host "
        "(or one CONNECTION_ALLOWED_HOSTS allows). The signing secret is made with the webhook "
        "and kept when the URL changes, unless rotateSecret. Admins; super may name ?companyId=",
        body=webhook.SCHEMA,
        query=("companyId",),
        response=WEBHOOK,
    )
    def on_put(self, req, resp):
        tenant = rate_limits.company_tenant(req.context.principal, req.get_param("companyId"))
        resp.media, _ = webhook.set_webhook(tenant, body(req), self.deps.outbound)

    @doc(
        "Delete the company's alert webhook (404 when none). Admins; super may name ?companyId=",
        query=("companyId",),
        status=204,
    )
    def on_delete(self, req, resp):
        tenant = rate_limits.company_tenant(req.context.principal, req.get_param("companyId"))
        webhook.delete_webhook(tenant)
        no_content(resp)
