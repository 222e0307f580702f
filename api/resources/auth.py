"""``/auth/login``, ``/auth/refresh_token``, ``/auth/logout`` and ``/auth/me``.

The session cookie ``jrt`` (``zapx/sessions.py``) is ``HttpOnly``, ``Path=/``, ``SameSite`` and
``Secure`` as configured (``SESSION_COOKIE_SAMESITE``, ``SESSION_COOKIE_SECURE``), with a
``Max-Age`` of ``REFRESH_TTL_S``: set at login, replaced at every refresh, cleared at logout and
by a refused refresh.
"""

from __future__ import annotations

import datetime

from api import schemas
from api.client_address import ClientAddress
from api.openapi import doc
from api.resources.base import Deps, Resource, body, no_content
from zapx import accounts
from zapx.errors import AuthError
from zapx.login_limits import LoginLimiter, LoginLimits
from zapx.sessions import COOKIE_NAME, Issued, Sessions

_PAST = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _sessions(deps: Deps) -> Sessions:
    cfg = deps.config
    return Sessions(deps.redis, cfg.redis_prefix, cfg.secret_key, cfg.jwt_ttl_s, cfg.refresh_ttl_s)


class _SessionCookie(Resource):
    def __init__(self, deps: Deps):
        super().__init__(deps)
        self.sessions = _sessions(deps)

    def _cookie(self, req) -> str | None:
        values = req.get_cookie_values(COOKIE_NAME) or []
        return values[-1] if values else None

    def _set(self, resp, value: str, max_age_s: int) -> None:
        cfg = self.deps.config
        resp.set_cookie(
            COOKIE_NAME,
            value,
            # Falcon leaves out a Max-Age of 0: a past Expires is what removes a cookie.
            max_age=max_age_s or None,
            expires=None if max_age_s else _PAST,
            path="/",
            secure=cfg.cookie_secure,
            http_only=True,
            same_site=cfg.session_cookie_samesite,
        )

    def _answer(self, resp, issued: Issued) -> None:
        self._set(resp, issued.cookie, issued.cookie_max_age_s)
        resp.media = issued.body

    def _clear(self, resp) -> None:
        self._set(resp, "", 0)


class LoginResource(_SessionCookie):
    auth_required = False

    def __init__(self, deps: Deps):
        super().__init__(deps)
        cfg = deps.config
        limits = LoginLimits(
            cfg.login_window_s, cfg.login_max_failures, cfg.login_max_failures_per_address
        )
        self.limiter = LoginLimiter(deps.redis, cfg.redis_prefix, limits)
        self.addresses = ClientAddress(cfg.trusted_proxies)

    @doc(
        "Log in with e-mail and password; returns {token, user} and sets the session cookie jrt."
        " Failed logins are limited per e-mail and per client address (429 with Retry-After)",
        body=accounts.LOGIN_FIELDS,
        public=True,
        response=schemas.SESSION,
    )
    def on_post(self, req, resp):
        user = accounts.authenticate(body(req), self.limiter, self.addresses.of(req))
        self._answer(resp, self.sessions.start(user))


class RefreshResource(_SessionCookie):
    auth_required = False

    @doc(
        "A new access token and session cookie for the session cookie jrt (no body; the"
        " Authorization header is ignored): {token, user}. 401 ERR_SESSION_EXPIRED when the"
        " session is over",
        public=True,
        response=schemas.SESSION,
    )
    def on_post(self, req, resp):
        try:
            issued = self.sessions.refresh(self._cookie(req))
        except AuthError:
            self._clear(resp)
            raise
        self._answer(resp, issued)


class LogoutResource(_SessionCookie):
    # The session cookie is the credential: a logout works with an expired access token too.
    auth_required = False

    @doc("End the session of the cookie jrt and clear it", public=True, status=204)
    def on_delete(self, req, resp):
        self.sessions.end(self._cookie(req))
        self._clear(resp)
        no_content(resp)


class MeResource(Resource):
    @doc("The logged-in user, as login answers it", response=schemas.SESSION_USER)
    def on_get(self, req, resp):
        resp.media = accounts.me(req.context.principal)
