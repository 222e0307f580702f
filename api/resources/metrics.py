"""``GET /metrics``: every process's Prometheus metrics in the text format (docs/METRICS.md).

Who may read it (no user JWT: Prometheus scrapes with its own credentials):

- on the API's own address, a request with ``Authorization: Bearer <METRICS_TOKEN>`` (compared
  in constant time); without the header or with another token: 401;
- on ``METRICS_BIND``, an extra listener of the same gunicorn (a private address), anyone: the
  bind is the access control there, and that listener serves ``/metrics`` only
  (:class:`MetricsListenerOnly`: every other path is a 404 on it);
- with neither configured: 404, as if there were no such route, so an API that faces the
  internet never shows its figures by default.

Which listener a request came through is read from the accepted socket's own address
(gunicorn's ``gunicorn.socket``), never from a header a client could write.
"""

from __future__ import annotations

import hmac

import falcon

from api.openapi import doc
from api.resources.base import Deps, Resource
from zapx import metrics
from zapx.alerts.metrics import open_alerts_metric
from zapx.db import db
from zapx.errors import AuthError, NotFound

PATH = "/metrics"


def _port(bind: str) -> int | None:
    try:
        return int(bind.rsplit(":", 1)[1]) if bind else None
    except (IndexError, ValueError):
        return None


def on_metrics_listener(req: falcon.Request, metrics_bind: str) -> bool:
    """Whether ``req`` came through gunicorn's ``METRICS_BIND`` listener (the local port of the
    accepted socket is that bind's; the API's own bind has another port)."""
    port = _port(metrics_bind)
    sock = req.env.get("gunicorn.socket")
    if port is None or sock is None:
        return False
    try:
        local = sock.getsockname()
    except OSError:
        return False
    return isinstance(local, tuple) and len(local) >= 2 and local[1] == port


class MetricsListenerOnly:
    """Falcon middleware: on the ``METRICS_BIND`` listener only ``/metrics`` is served."""

    def __init__(self, metrics_bind: str):
        self.metrics_bind = metrics_bind

    def process_request(self, req, resp):
        if req.path != PATH and on_metrics_listener(req, self.metrics_bind):
            raise NotFound("only /metrics is served on this address")


class MetricsResource(Resource):
    auth_required = False  # its own bearer token or listener (see the module's docstring)
    uses_db = False  # the collector opens its connection; a dead database leaves its part out

    def __init__(self, deps: Deps):
        super().__init__(deps)
        cfg = deps.config
        self.token = cfg.metrics_token.encode()
        self.collector = metrics.ScrapeCollector(
            cfg, deps.redis, db, namespace=cfg.redis_prefix + "dramatiq"
        )
        # zapx_alerts_open{rule}: one GROUP BY on the alerts table (docs/ALERTS.md).
        self.collector.extra.append(("alerts", open_alerts_metric))

    def _allowed(self, req) -> None:
        cfg = self.deps.config
        if on_metrics_listener(req, cfg.metrics_bind):
            return
        if not self.token:
            raise NotFound("metrics are not served on this address (docs/METRICS.md)")
        scheme, _, given = (req.get_header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise AuthError("a bearer token is needed for /metrics", code="ERR_METRICS_TOKEN")
        if not hmac.compare_digest(given.strip().encode(), self.token):
            raise AuthError("the metrics token is not valid", code="ERR_METRICS_TOKEN")

    @doc(
        "Prometheus metrics of every process, text format 0.0.4 (METRICS_TOKEN bearer, or "
        "METRICS_BIND; 404 when neither is configured)",
        public=True,
        returns="text",
    )
    def on_get(self, req, resp):
        self._allowed(req)
        metrics.sample_process("api")
        resp.content_type = metrics.CONTENT_TYPE
        resp.data = metrics.exposition([self.collector])
