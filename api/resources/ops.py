"""``/ops``: the live ops page (a static HTML shell, its script and style, shipped in
``api/ops_page/``), and ``/ops/state``, the JSON it polls (``zapx/ops.py``).

The shell holds no data, so it is public (the page's own form logs in); the state needs an
administrator's token: a company administrator's company, or every company for a platform
administrator (``api/roles.py``). The page's Content-Security-Policy lets it load only its own
script and style and talk only to this origin.
"""

from __future__ import annotations

from pathlib import Path

from api import schemas
from api.openapi import doc
from api.resources.base import Deps, Resource
from zapx import ops
from zapx.circuits import Circuits, Thresholds

PAGE_DIR = Path(__file__).resolve().parents[1] / "ops_page"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class OpsPageResource(Resource):
    auth_required = False
    uses_db = False

    def __init__(self, deps: Deps):
        super().__init__(deps)
        self.files = {
            name: (PAGE_DIR / name).read_bytes() for name in ("index.html", "ops.js", "ops.css")
        }

    def _send(self, resp, name: str, content_type: str) -> None:
        resp.data = self.files[name]
        resp.content_type = content_type
        # Short: a new release's page is picked up within a minute.
        resp.set_header("Cache-Control", "no-cache")
        resp.set_header("X-Content-Type-Options", "nosniff")

    @doc("The live ops page (HTML; it logs in with its own form and polls /ops/state)", public=True)
    def on_get(self, req, resp):
        self._send(resp, "index.html", "text/html; charset=utf-8")
        resp.set_header("Content-Security-Policy", _CSP)
        resp.set_header("Referrer-Policy", "no-referrer")

    @doc("The ops page's script", public=True)
    def on_get_script(self, req, resp):
        self._send(resp, "ops.js", "text/javascript; charset=utf-8")

    @doc("The ops page's style sheet", public=True)
    def on_get_style(self, req, resp):
        self._send(resp, "ops.css", "text/css; charset=utf-8")


class OpsStateResource(Resource):
    def __init__(self, deps: Deps):
        super().__init__(deps)
        circuits = Circuits(deps.redis, deps.keys, Thresholds.from_config(deps.config))
        self.sources = ops.Sources(
            redis=deps.redis,
            keys=deps.keys,
            gate=deps.gate,
            circuits=circuits,
            broker_namespace=deps.config.redis_prefix + "dramatiq",
        )

    @doc(
        "What the ops page shows: connections (state, send rate against its limit, rolling 24 h"
        " recipients against the daily cap, breaker), running and paused campaigns (sent of"
        " total, msgs/min, estimated end, pause reason), queues (depth, oldest age), workers"
        " alive, the last provider errors by code, open alerts. A company administrator's"
        " company; every company (or ?companyId=) for a platform administrator",
        query=("companyId",),
        response=schemas.OPS_STATE,
    )
    def on_get(self, req, resp):
        resp.media = ops.ops_state(req.context.principal, self.sources, req.get_param("companyId"))
