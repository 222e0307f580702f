"""``/auth/login`` and ``/auth/me``."""

from __future__ import annotations

from api.client_address import ClientAddress
from api.openapi import doc
from api.resources.base import Deps, Resource, body
from zapx import accounts
from zapx.login_limits import LoginLimiter, LoginLimits


class LoginResource(Resource):
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
        "Log in with e-mail and password; returns {token, user}. Failed logins are limited per"
        " e-mail and per client address (429 with Retry-After)",
        body=accounts.LOGIN_FIELDS,
        public=True,
    )
    def on_post(self, req, resp):
        cfg = self.deps.config
        resp.media = accounts.login(
            body(req), cfg.secret_key, cfg.jwt_ttl_s, self.limiter, self.addresses.of(req)
        )


class MeResource(Resource):
    @doc("The logged-in user")
    def on_get(self, req, resp):
        principal = req.context.principal
        resp.media = accounts.get_user(principal, principal.user_id)
