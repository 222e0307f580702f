"""Cross-cutting request work: request ids and access logs, body limits, the DB scope."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import falcon
import psycopg2.extensions

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
    """A pooled connection for each request that uses the database.

    A worker thread keeps its connection from one request to the next while it stays busy: a
    check-out from peewee's pool costs a ``SELECT 1`` liveness round trip made under a lock the
    whole process shares, and under load the threads queued on that lock (docs/BENCHMARKS.md).
    The connection goes back to the pool, which pings it on the next check-out and recycles it
    when stale, as soon as it has been idle for ``REUSE_WITHIN_S``, held for ``HOLD_AT_MOST_S``,
    or a request ends with it inside a transaction, broken, or with an error. So a connection is
    only reused unchecked within a second of a request that used it successfully.
    """

    REUSE_WITHIN_S = 1.0
    HOLD_AT_MOST_S = 60.0

    def __init__(self):
        self._held = threading.local()  # per worker thread: (checked out at, last released at)

    def process_resource(self, req, resp, resource, params):
        if resource is None or not getattr(resource, "uses_db", True):
            return
        now = time.monotonic()
        held = getattr(self._held, "times", None)
        if not db.is_closed() and (
            held is None
            or now - held[1] > self.REUSE_WITHIN_S
            or now - held[0] > self.HOLD_AT_MOST_S
            or db.connection().closed
        ):
            self._release()
        if db.connect(reuse_if_open=True):
            self._held.times = (now, now)
        req.context.db_open = True

    def process_response(self, req, resp, resource, req_succeeded):
        if not getattr(req.context, "db_open", False) or db.is_closed():
            return
        conn = db.connection()
        idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
        if req_succeeded and not conn.closed and conn.get_transaction_status() == idle:
            self._held.times = (self._held.times[0], time.monotonic())
        else:
            self._release()

    def _release(self) -> None:
        """Give the thread's connection back to the pool (which rolls back what is left open)."""
        self._held.times = None
        db.close()
