"""Browser sessions of the Whaticket frontend: an access token and the refresh cookie ``jrt``.

A login opens a session: the answer carries an access token (``JWT_TTL_S``) and the API sets a
refresh token (``REFRESH_TTL_S``) in the httpOnly cookie ``jrt``, as the original backend does.
``POST /auth/refresh_token`` trades a valid cookie for a new access token and a new cookie of the
same session (a later expiry); the frontend calls it on every load and whenever a request
answers 403. ``DELETE /auth/logout`` ends the session.

A refresh is refused (401 ``ERR_SESSION_EXPIRED``, which logs the frontend out) when the cookie
is missing, malformed, expired or signed with another key, when the session was ended by a
logout, and when the user's standing changed since the cookie was issued: the user was deleted,
their ``token_version`` moved on (a new password or profile, another company: the same rule that
revokes access tokens), or their company is inactive. Each check reads the database and Redis
at that moment (``accounts.standing``), not a cache.

A cookie replaced by a refresh stays valid until its own expiry: tabs that refresh at the same
moment send the same cookie, and each must succeed. A logout ends the whole session: its id is
kept in Redis (``<prefix>session:ended:<id>``) until the last cookie of it would have expired.
The access tokens issued in the session live until their own expiry (``JWT_TTL_S``).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets

import redis

from zapx import accounts, auth
from zapx.db import Company, User
from zapx.errors import AuthError
from zapx.redis import Keys

log = logging.getLogger("zapx.sessions")

COOKIE_NAME = "jrt"
_EXPIRED = "ERR_SESSION_EXPIRED"


@dataclasses.dataclass(frozen=True)
class Issued:
    """What a login or a refresh answers: ``body`` is ``{token, user}``, ``cookie`` the new
    refresh token, valid ``cookie_max_age_s`` seconds."""

    body: dict
    cookie: str
    cookie_max_age_s: int


class Sessions:
    """Opens, refreshes and ends sessions. ``access_ttl_s`` and ``refresh_ttl_s`` in seconds."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        secret: str,
        access_ttl_s: int,
        refresh_ttl_s: int,
    ):
        self.redis = client
        self.keys = Keys(prefix)
        self.secret = secret
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def start(self, user: User) -> Issued:
        """A new session for ``user`` (just authenticated)."""
        session_id = secrets.token_urlsafe(16)
        issued = self._issue(user, Company.get_by_id(user.company_id), session_id)
        log.info(
            "session started",
            extra={"user_id": user.id, "company_id": user.company_id, "session": session_id[:8]},
        )
        return issued

    def refresh(self, cookie: str | None) -> Issued:
        """A new access token and cookie for the session of ``cookie``; AuthError (401) when the
        session is over."""
        claims = self._claims(cookie)
        try:
            return self._refresh(claims)
        except AuthError as exc:
            log.info(
                "session refused",
                extra={
                    "user_id": claims.user_id,
                    "company_id": claims.company_id,
                    "session": claims.session_id[:8],
                    "reason": exc.message,
                },
            )
            raise

    def end(self, cookie: str | None) -> None:
        """End the session of ``cookie``; a missing or invalid cookie ends nothing (no error)."""
        try:
            claims = auth.decode_refresh_token(cookie or "", self.secret)
        except AuthError:
            return
        # The session's later cookies expire at most refresh_ttl_s from now.
        self.redis.set(self._ended(claims.session_id), "1", ex=self.refresh_ttl_s)
        log.info(
            "session ended",
            extra={
                "user_id": claims.user_id,
                "company_id": claims.company_id,
                "session": claims.session_id[:8],
            },
        )

    # --- internals -------------------------------------------------------------------------------

    def _claims(self, cookie: str | None) -> auth.RefreshClaims:
        if not cookie:
            raise AuthError("no session cookie; log in", code=_EXPIRED)
        try:
            return auth.decode_refresh_token(cookie, self.secret)
        except AuthError as exc:
            raise AuthError(exc.message, code=_EXPIRED) from None

    def _refresh(self, claims: auth.RefreshClaims) -> Issued:
        if self.redis.exists(self._ended(claims.session_id)):
            raise AuthError("this session was logged out; log in again", code=_EXPIRED)
        standing = accounts.standing(claims.user_id)
        if standing is None:
            raise AuthError("session revoked; log in again", code=_EXPIRED)
        principal, company_active = standing
        if (principal.token_version, principal.company_id) != (
            claims.token_version,
            claims.company_id,
        ):
            raise AuthError("session revoked; log in again", code=_EXPIRED)
        if not company_active and not principal.is_super:
            raise AuthError("company is inactive", code=_EXPIRED)
        user = User.get_or_none(User.id == claims.user_id)
        company = Company.get_or_none(Company.id == principal.company_id)
        if user is None or company is None:  # deleted between the two reads
            raise AuthError("session revoked; log in again", code=_EXPIRED)
        return self._issue(user, company, claims.session_id)

    def _issue(self, user: User, company: Company, session_id: str) -> Issued:
        principal = accounts.principal_of(user)
        token = auth.issue_token(principal, self.secret, self.access_ttl_s)
        cookie = auth.issue_refresh_token(principal, self.secret, self.refresh_ttl_s, session_id)
        body = {"token": token, "user": accounts.session_user(user, company)}
        return Issued(body, cookie, self.refresh_ttl_s)

    def _ended(self, session_id: str) -> str:
        return self.keys.of("session", "ended", session_id)
