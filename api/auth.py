"""Bearer-token authentication middleware.

Every route needs a valid token except those whose resource sets ``auth_required = False``
(login, health, OpenAPI, webhooks). The token's version is compared with the user's
current one, cached in-process for ``REVOCATION_CACHE_S`` seconds, so a changed password or a
deleted user stops working within that time at the cost of one indexed lookup per user and window.
A verified token is remembered (by its full text, signature included) until it expires, so the
HS256 check and claim parsing run once per token and process, not on every request.
"""

from __future__ import annotations

import threading
import time

import jwt

from zapx import accounts
from zapx.auth import Principal, decode_token
from zapx.db import Tenant
from zapx.errors import AuthError

REVOCATION_CACHE_S = 10.0
TOKEN_CACHE_MAX = 10_000
_wall_clock = time.time  # compared with a token's ``exp`` (seconds since the epoch)


class _VersionCache:
    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, int | None]] = {}

    def get(self, user_id: int) -> int | None:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(user_id)
        if hit and now - hit[0] < self.ttl_s:
            return hit[1]
        version = accounts.token_version(user_id)
        with self._lock:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[user_id] = (now, version)
        return version

    def forget(self, user_id: int) -> None:
        with self._lock:
            self._entries.pop(user_id, None)


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
    def __init__(self, secret: str):
        self.secret = secret
        self.tokens = _TokenCache(secret)
        self.versions = _VersionCache(REVOCATION_CACHE_S)

    def process_resource(self, req, resp, resource, params):
        if resource is None or not getattr(resource, "auth_required", True):
            return
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("missing Bearer token in the Authorization header")
        principal = self.tokens.principal(token.strip())
        current = self.versions.get(principal.user_id)
        if current is None or current != principal.token_version:
            raise AuthError("token revoked; log in again")
        req.context.principal = principal
        req.context.tenant = Tenant(principal.company_id)
        req.context.company_id = principal.company_id
