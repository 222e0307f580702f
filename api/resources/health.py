"""``/health``: PostgreSQL and Redis answer, or 503 saying which does not."""

from __future__ import annotations

import time

import falcon

from api.openapi import doc
from api.resources.base import Resource
from zapx.db import db


class HealthResource(Resource):
    auth_required = False
    uses_db = False  # it opens its own connection so a dead database is a 503, not an error

    def _postgres(self) -> str | None:
        try:
            with db.connection_context():
                db.execute_sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            return type(exc).__name__
        return None

    def _redis(self) -> str | None:
        try:
            self.deps.redis.ping()
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__
        return None

    @doc("Liveness of PostgreSQL and Redis (503 when one is down)", public=True)
    def on_get(self, req, resp):
        checks = {}
        for name, probe in (("postgres", self._postgres), ("redis", self._redis)):
            started = time.perf_counter()
            error = probe()
            checks[name] = {
                "ok": error is None,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
            if error:
                checks[name]["error"] = error
        ok = all(c["ok"] for c in checks.values())
        resp.status = falcon.HTTP_200 if ok else falcon.HTTP_503
        resp.media = {"status": "ok" if ok else "unavailable", "checks": checks}
