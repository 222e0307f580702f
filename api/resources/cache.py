"""``/cache`` and ``/cache/stats``: the query cache (``zapx/cache.py``, docs/CACHE.md) for
administrators.

``DELETE /cache`` bumps every namespace of one company (its entries are out of reach at once and
expire with their TTL): a company administrator's own company; a platform administrator's own,
or any company's with ``?companyId=`` (another company is a 404 for everyone else).
``GET /cache/stats`` answers the company's own hit, miss and invalidation counts per namespace;
a platform administrator also gets the global totals and this API process's error counts.
"""

from __future__ import annotations

import logging

from api import schemas
from api.openapi import doc
from api.resources.base import Resource
from zapx import cache, rate_limits

log = logging.getLogger("zapx.api.cache")

_COUNTS = schemas.obj({kind: schemas.INT for kind in cache.KINDS})
_NAMESPACES = schemas.obj({ns: _COUNTS for ns in cache.NAMESPACES})
CLEARED = schemas.obj(
    {"companyId": schemas.INT, "namespaces": schemas.array(schemas.STR)},
)
STATS = schemas.obj(
    {
        "companyId": schemas.INT,
        "namespaces": _NAMESPACES,
        "ttlS": schemas.obj({ns: schemas.INT for ns in cache.NAMESPACES}),
        "global": schemas.obj(
            {"namespaces": _NAMESPACES, "errors": schemas.INT, "bypassed": schemas.INT}
        ),
    },
    optional=("global",),
)


def _namespaces(counts: dict) -> dict:
    """Every namespace, zeros where nothing was counted yet."""
    return {ns: dict.fromkeys(cache.KINDS, 0) | counts.get(ns, {}) for ns in cache.NAMESPACES}


class CacheResource(Resource):
    @doc(
        "Invalidate every cached query of the company (contacts, lists, settings, reports, "
        "rate limits): {companyId, namespaces}. Admins; super clears its own company, or "
        "another with ?companyId=",
        query=("companyId",),
        response=CLEARED,
    )
    def on_delete(self, req, resp):
        principal = req.context.principal
        tenant = rate_limits.company_tenant(principal, req.get_param("companyId"))
        self.deps.query_cache.bump(tenant.company_id, cache.NAMESPACES)
        log.info(
            "query cache cleared",
            extra={"company_id": tenant.company_id, "user_id": principal.user_id},
        )
        resp.media = {"companyId": tenant.company_id, "namespaces": list(cache.NAMESPACES)}

    @doc(
        "Hit, miss and invalidation counts per namespace of the company (its own; super may "
        "name ?companyId=) and each namespace's TTL in seconds; super also gets global totals "
        "(every company) and this API process's Redis errors and bypassed reads",
        query=("companyId",),
        response=STATS,
    )
    def on_get_stats(self, req, resp):
        principal = req.context.principal
        tenant = rate_limits.company_tenant(principal, req.get_param("companyId"))
        qc = self.deps.query_cache
        own = cache.stats(qc.client, qc.prefix, tenant.company_id)
        out = {
            "companyId": tenant.company_id,
            "namespaces": _namespaces(own),
            "ttlS": {ns: qc.ttl_for(ns) for ns in cache.NAMESPACES},
        }
        if principal.is_super:
            every = cache.stats(qc.client, qc.prefix)
            out["global"] = {
                "namespaces": _namespaces(every),
                "errors": every["errors"],
                "bypassed": every["bypassed"],
            }
        resp.media = out
