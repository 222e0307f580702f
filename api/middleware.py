"""Cross-cutting request work: request ids and access logs, body limits, the DB scope."""

from __future__ import annotations

import logging
import time
import uuid

import falcon

from zapx.db import db

log = logging.getLogger("zapx.api.access")


class RequestContext:
    """Gives each request an id (``X-Request-Id``, echoed back) and logs one line when it ends."""

    def process_request(self, req, resp):
        rid = req.get_header("X-Request-Id") or ""
        if not (0 < len(rid) <= 64 and rid.replace("-", "").isalnum()):
            rid = uuid.uuid4().hex
        req.context.request_id = rid
        req.context.started = time.perf_counter()
        resp.set_header("X-Request-Id", rid)

    def process_response(self, req, resp, resource, req_succeeded):
        started = getattr(req.context, "started", None)
        if started is None:
            return
        log.info(
            "request",
            extra={
                "request_id": req.context.request_id,
                "method": req.method,
                "path": req.path,
                "status": int(resp.status[:3]) if isinstance(resp.status, str) else resp.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "company_id": getattr(req.context, "company_id", None),
            },
        )


class BodyLimit:
    """Refuses bodies larger than ``max_bytes`` (or a resource's ``max_body``) with a 413."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def process_resource(self, req, resp, resource, params):
        limit = getattr(resource, "max_body", None) or self.max_bytes
        length = req.content_length
        if length is not None and length > limit:
            raise falcon.HTTPContentTooLarge(
                description=f"request body is {length} bytes; the limit is {limit} bytes"
            )
        if length is None and req.method in ("POST", "PUT", "PATCH"):
            chunked = "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
            if chunked:
                raise falcon.HTTPLengthRequired(description="send a Content-Length header")


class DatabaseScope:
    """One pooled connection per request, returned to the pool when the response is done."""

    def process_resource(self, req, resp, resource, params):
        if resource is not None and getattr(resource, "uses_db", True):
            db.connect(reuse_if_open=True)
            req.context.db_open = True

    def process_response(self, req, resp, resource, req_succeeded):
        if getattr(req.context, "db_open", False) and not db.is_closed():
            db.close()
