"""Bearer-token authentication middleware.

Every route needs a valid token except those whose resource sets ``auth_required = False``
(login, health, OpenAPI, webhooks). A token only says who it was issued to: the rights
of a request come from the database. Each user's standing (token version, profile, super flag,
company and whether that company is active) is looked up in one indexed query and cached
in-process for ``REVOCATION_CACHE_S`` seconds, so within that time a changed password, profile or
company revokes the user's tokens, a deleted user's stop working, a demoted admin loses admin
routes and a deactivated company's users are refused. Then ``api/roles.py`` says whether the
profile may call the route at all.

A request without a Bearer token is a 401 (``ERR_SESSION_EXPIRED``, as the original's); a token
refused for any reason (expired, bad signature, revoked, inactive company) is a 403 with the
reason, so that the Whaticket frontend refreshes it through ``POST /auth/refresh_token`` (which
answers 401, logging the user out, when the session itself is over).

A verified token is remembered (by its full text, signature included) until it expires, so the
HS256 check and claim parsing run once per token and process, not on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt

from api import roles
from zapx import accounts
from zapx.auth import Principal, decode_token
from zapx.db import Tenant
from zapx.errors import AuthError, InvalidToken, TokenRejected

#: Seconds an API process trusts what it read of a user's standing.
REVOCATION_CACHE_S = 10.0
TOKEN_CACHE_MAX = 10_000
_wall_clock = time.time  # compared with a token's ``exp`` (seconds since the epoch)

Standing = tuple[Principal, bool]  # (the user as the database has them, company active)


class _StandingCache:
    """``accounts.standing`` per user id, kept ``ttl_s`` seconds (monotonic clock)."""

    def __init__(self, ttl_s: float, lookup: Callable[[int], Standing | None] = accounts.standing):
        self.ttl_s = ttl_s
        self.lookup = lookup
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, Standing | None]] = {}

    def get(self, user_id: int) -> Standing | None:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(user_id)
        if hit and now - hit[0] < self.ttl_s:
            return hit[1]
        standing = self.lookup(user_id)
        with self._lock:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[user_id] = (now, standing)
        return standing


class _TokenCache:
    """Principals of tokens already verified, until each token's ``exp``."""

    def __init__(self, secret: str, max_entries: int = TOKEN_CACHE_MAX):
        self.secret = secret
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def principal(self, token: str) -> Principal:
        hit = self._entries.get(token)
        if hit is not None and _wall_clock() < hit[0]:
            return hit[1]
        principal = decode_token(token, self.secret)  # raises AuthError, expired ones included
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token] = (float(exp), principal)
        return principal


class AuthMiddleware:
    """Sets ``req.context.principal``, ``tenant`` and ``company_id`` from the database.

    ``cache_s`` is how long a user's standing is trusted (seconds; 0 reads it on every request).
    """

    def __init__(self, secret: str, cache_s: float = REVOCATION_CACHE_S):
        self.secret = secret
        self.tokens = _TokenCache(secret)
        self.standings = _StandingCache(cache_s)

    def process_resource(self, req, resp, resource, params):
        if resource is None or not getattr(resource, "auth_required", True):
            return
        if req.method == "OPTIONS":
            # A CORS preflight carries no credentials by design. No resource has an
            # ``on_options``: Falcon's default one only lists the route's methods.
            return
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(
                "missing Bearer token in the Authorization header", code="ERR_SESSION_EXPIRED"
            )
        try:
            claimed = self.tokens.principal(token.strip())
            principal = accounts.live_principal(claimed, self.standings.get(claimed.user_id))
        except InvalidToken:
            raise  # never issued here (issue 10: a 401, not a refresh)
        except AuthError as exc:
            # An expired or revoked token, or an inactive company, is a 403: the frontend then
            # asks /auth/refresh_token, whose 401 (revoked user, inactive company) logs it out.
            raise TokenRejected(exc.message) from None
        roles.require(principal, req.uri_template, req.method)
        req.context.principal = principal
        req.context.tenant = Tenant(principal.company_id)
        req.context.company_id = principal.company_id
