"""``GET /breakers``: the shared breakers (``zapx/circuits.py``) of a company's connections and
campaigns: their own company's for its users, any company's (``?companyId=``) or all of them for
platform administrators."""

from __future__ import annotations

from api import schemas
from api.openapi import doc
from api.resources.base import Resource
from zapx import rate_limits
from zapx.circuits import Circuits, Thresholds
from zapx.db import Company


class BreakersResource(Resource):
    def __init__(self, deps):
        super().__init__(deps)
        self.circuits = Circuits(deps.redis, deps.keys, Thresholds.from_config(deps.config))

    @doc(
        "The breakers of the company's connections (whatsapp) and campaigns: "
        "[{name, id, companyId, state, calls, failures, failureRate, since, lastError, "
        "reason}]; super sees every company's, or one with ?companyId=",
        query=("companyId",),
        returns="array",
        response=schemas.BREAKERS,
    )
    def on_get(self, req, resp):
        principal = req.context.principal
        wanted = req.get_param("companyId")
        if principal.is_super and not wanted:
            ids = [c.id for c in Company.select(Company.id).order_by(Company.id)]
        else:
            ids = [rate_limits.company_tenant(principal, wanted).company_id]
        resp.media = self.circuits.listing(ids)
