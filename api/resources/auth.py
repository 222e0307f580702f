"""``/auth/login`` and ``/auth/me``."""

from __future__ import annotations

from api.openapi import doc
from api.resources.base import Resource, body
from zapx import accounts


class LoginResource(Resource):
    auth_required = False

    @doc(
        "Log in with e-mail and password; returns {token, user}",
        body=accounts.LOGIN_FIELDS,
        public=True,
    )
    def on_post(self, req, resp):
        cfg = self.deps.config
        resp.media = accounts.login(body(req), cfg.secret_key, cfg.jwt_ttl_s)


class MeResource(Resource):
    @doc("The logged-in user")
    def on_get(self, req, resp):
        principal = req.context.principal
        resp.media = accounts.get_user(principal, principal.user_id)
