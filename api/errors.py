"""The one place that maps domain errors to HTTP, and the JSON shape of every error.

Every error body is ``{"error": CODE, "message": human text, "field": name or null}``.

The Whaticket frontend gives two statuses a meaning of their own (its axios interceptor): a 401
logs the user out, a 403 makes it ask ``POST /auth/refresh_token`` for a new access token and
retry the request once. So 401 is for a request without credentials, for a token this install
never issued (bad signature, malformed claims: no refresh can help) and for a refused refresh,
403 for an access token the API refuses (expired, revoked, inactive company) and for a
profile's missing right (the original's ``ERR_NO_PERMISSION``: the retry fails the same way and
the toast shows it), and a plan limit is a 400, as in the original, so that it does not cost a
refresh.
"""

from __future__ import annotations

import logging

import falcon
import peewee
import psycopg2
import redis

from api import not_served
from zapx import dependencies, errors
from zapx.breakers import BreakerOpen

log = logging.getLogger("zapx.api")

STATUS = {
    errors.ValidationError: falcon.HTTP_400,
    errors.AuthError: falcon.HTTP_401,
    errors.TokenRejected: falcon.HTTP_403,
    errors.Forbidden: falcon.HTTP_403,
    errors.NotFound: falcon.HTTP_404,
    errors.Conflict: falcon.HTTP_409,
    errors.LimitExceeded: falcon.HTTP_400,
    errors.TooManyRequests: falcon.HTTP_429,
    errors.Unavailable: falcon.HTTP_503,
}


def _body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": code, "message": message, "field": field}


def handle_domain(req, resp, ex: errors.ZapxError, params):
    # The nearest class in the error's MRO decides (an InvalidToken is an AuthError: 401).
    resp.status = next((STATUS[c] for c in type(ex).__mro__ if c in STATUS), falcon.HTTP_400)
    resp.media = _body(ex.code, ex.message, ex.field)
    if resp.status == falcon.HTTP_401:
        resp.append_header("WWW-Authenticate", 'Bearer realm="zapx"')
    if isinstance(ex, errors.TooManyRequests):
        resp.set_header("Retry-After", str(ex.retry_after_s))


def handle_http(req, resp, ex: falcon.HTTPError, params):
    code = "ERR_" + ex.status[4:].upper().replace(" ", "_").replace("-", "_")
    message = ex.description or ex.title or ex.status
    resp.status = ex.status
    resp.media = _body(code, message)
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def handle_route_not_found(req, resp, ex: falcon.HTTPRouteNotFound, params):
    # No route: say whose path it is (the original backend's features reach zapx behind one
    # origin), so that the frontend's toast reads as more than "Not Found".
    resp.status = falcon.HTTP_404
    resp.media = _body("ERR_NOT_FOUND", not_served.message(req.method, req.path))


#: What answers 503 ``ERR_UNAVAILABLE`` with a ``Retry-After``: PostgreSQL or Redis down (the
#: drivers' errors, raw or through peewee), or refused by its breaker (``zapx.dependencies``).
UNAVAILABLE = (
    errors.Unavailable,
    peewee.OperationalError,
    peewee.InterfaceError,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
)


def handle_unavailable(req, resp, ex: Exception, params):
    retry_after_s = dependencies.retry_after_s(ex)
    if isinstance(ex, BreakerOpen):
        # Refused at once: the breaker logged its opening, once; one line per request would
        # be a flood for as long as the dependency is down (the access line shows the 503).
        message = ex.message
    else:
        log.error(
            "dependency unavailable",
            extra={"request_id": getattr(req.context, "request_id", None), "error": repr(ex)},
        )
        breaker = dependencies.breaker_of(ex)
        name = f"the {breaker.name}" if breaker is not None else "a backing service"
        message = f"{name} is unavailable; try again in {retry_after_s} s"
    resp.status = falcon.HTTP_503
    resp.media = _body("ERR_UNAVAILABLE", message)
    resp.set_header("Retry-After", str(retry_after_s))


def handle_unexpected(req, resp, ex: Exception, params):
    log.exception(
        "unhandled error",
        extra={"request_id": getattr(req.context, "request_id", None), "path": req.path},
    )
    resp.status = falcon.HTTP_500
    resp.media = _body("ERR_INTERNAL", "internal error; it has been logged")


def install(app: falcon.App) -> None:
    # Falcon picks the most specific handler by the exception's MRO.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http)
    app.add_error_handler(falcon.HTTPRouteNotFound, handle_route_not_found)
    app.add_error_handler(errors.ZapxError, handle_domain)
    # After ZapxError: a breaker's refusal is an Unavailable (a ZapxError) and a driver's error.
    for unavailable in UNAVAILABLE:
        app.add_error_handler(unavailable, handle_unavailable)
