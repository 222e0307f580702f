"""``/rate-limits``: a company's rate limits of the four kinds (``zapx/rate_limits.py``), for
company administrators (their own company) and platform administrators (any, ``?companyId=``)."""

from __future__ import annotations

from api import schemas
from api.openapi import doc
from api.resources.base import Resource, body
from zapx import rate_limits
from zapx.db.rate_limit_models import KINDS, MAX_PERIOD_S, MAX_SENDS, MIN_PERIOD_S

_ITEM = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": list(KINDS)},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SENDS},
        "periodS": {"type": "number", "minimum": MIN_PERIOD_S, "maximum": MAX_PERIOD_S},
    },
    "required": ["kind", "limit", "periodS"],
}
_BODY = {
    "type": "object",
    "properties": {"limits": {"type": "array", "items": _ITEM, "maxItems": len(KINDS)}},
    "required": ["limits"],
}


class RateLimitsResource(Resource):
    @doc(
        "The company's rate limits, [{kind, limit, periodS}] (limit sends per periodS seconds); "
        "a kind not listed is not limited. Admins; super may name ?companyId=",
        query=("companyId",),
        response=schemas.RATE_LIMITS,
    )
    def on_get(self, req, resp):
        tenant = rate_limits.company_tenant(req.context.principal, req.get_param("companyId"))
        resp.media = rate_limits.get_limits(tenant)

    @doc(
        "Replace the company's rate limits (every kind not given becomes unlimited; "
        "all or nothing); answers as the GET. Admins; super may name ?companyId=",
        body=_BODY,
        query=("companyId",),
        response=schemas.RATE_LIMITS,
    )
    def on_put(self, req, resp):
        tenant = rate_limits.company_tenant(req.context.principal, req.get_param("companyId"))
        resp.media = rate_limits.put_limits(tenant, body(req), cache=self.deps.query_cache)
