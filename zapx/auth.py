"""Passwords (bcrypt), access tokens and refresh tokens (JWT, HS256).

A token carries the user id, company id, profile, super flag and the user's ``token_version``;
changing a password, a profile or a company, or deleting a user, bumps the version, and the API
refuses older tokens. The API takes the profile, super flag and company from the database, not
from the token (``api/auth.py``), so a token's claims only say who it was issued to.

A refresh token (the browser's ``jrt`` cookie, ``zapx/sessions.py``) carries the user id, company
id, token version and a session id, and is signed with a key of its own derived from the secret,
so neither kind of token is accepted as the other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time

import bcrypt
import jwt

from zapx.errors import AuthError, InvalidToken

ALGORITHM = "HS256"
#: bcrypt cost factor; tests lower it through ``set_bcrypt_rounds`` to stay fast.
_rounds = 12
# bcrypt only reads the first 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72


def set_bcrypt_rounds(rounds: int) -> None:
    global _rounds
    _rounds = rounds


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(_rounds)).decode()


def check_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


# A hash to compare against when the e-mail is unknown, so a login takes the same time either way.
_DUMMY_HASH = None


def dummy_check(password: str) -> None:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    check_password(password, _DUMMY_HASH)


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling, passed to services, never taken from a body.

    The API builds it from the database row of the token's user (see ``accounts.standing``), so a
    demotion or a move to another company counts within the API's cache window, not at ``exp``.
    """

    user_id: int
    company_id: int
    profile: str
    is_super: bool
    token_version: int = 0

    @property
    def is_admin(self) -> bool:
        return self.profile == "admin" or self.is_super


def issue_token(principal: Principal, secret: str, ttl_s: int) -> str:
    """A signed token valid for ``ttl_s`` seconds."""
    now = int(time.time())
    payload = {
        "sub": str(principal.user_id),
        "id": principal.user_id,
        "companyId": principal.company_id,
        "profile": principal.profile,
        "super": principal.is_super,
        "tv": principal.token_version,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str) -> Principal:
    """The :class:`Principal` of a valid token, or :class:`AuthError` saying what is wrong."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired; log in again") from None
    except jwt.PyJWTError:
        raise InvalidToken("invalid token") from None
    user_id, company_id = claims.get("id"), claims.get("companyId")
    version = claims.get("tv", 0)
    # Ids are JSON integers of a serial column; anything else (0, -1, "7", 1.5, true, absent)
    # was never issued here and would only reach the database as an error.
    if not (_is_serial(user_id) and _is_serial(company_id) and _is_int(version)):
        raise InvalidToken("invalid token")
    if "profile" not in claims or "super" not in claims:
        raise InvalidToken("invalid token")
    return Principal(
        user_id=user_id,
        company_id=company_id,
        profile=str(claims["profile"]),
        is_super=bool(claims["super"]),
        token_version=version,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_serial(value: object) -> bool:
    """A possible row id: a positive integer that fits PostgreSQL's ``serial``."""
    return _is_int(value) and 0 < value < 2**31


# --- refresh tokens ------------------------------------------------------------------------------

_REFRESH_PURPOSE = b"zapx refresh token v1"
_REFRESH_TYPE = "refresh"


def refresh_secret(secret: str) -> str:
    """The refresh tokens' signing key: an HMAC of ``secret``, never the access tokens' key."""
    return hmac.new(secret.encode(), _REFRESH_PURPOSE, hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class RefreshClaims:
    """What a valid refresh token says; ``expires_at`` in seconds since the epoch."""

    user_id: int
    company_id: int
    token_version: int
    session_id: str
    expires_at: int


def issue_refresh_token(principal: Principal, secret: str, ttl_s: int, session_id: str) -> str:
    """A refresh token of session ``session_id``, valid for ``ttl_s`` seconds."""
    now = int(time.time())
    payload = {
        "sub": str(principal.user_id),
        "id": principal.user_id,
        "companyId": principal.company_id,
        "tv": principal.token_version,
        "sid": session_id,
        "typ": _REFRESH_TYPE,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(payload, refresh_secret(secret), algorithm=ALGORITHM)


def decode_refresh_token(token: str, secret: str) -> RefreshClaims:
    """The claims of a valid refresh token, or :class:`AuthError` saying what is wrong."""
    try:
        claims = jwt.decode(
            token,
            refresh_secret(secret),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("session expired; log in again") from None
    except jwt.PyJWTError:
        raise AuthError("invalid session cookie") from None
    user_id, company_id = claims.get("id"), claims.get("companyId")
    version, session_id = claims.get("tv", 0), claims.get("sid")
    if claims.get("typ") != _REFRESH_TYPE or not (
        _is_serial(user_id)
        and _is_serial(company_id)
        and _is_int(version)
        and isinstance(session_id, str)
        and 0 < len(session_id) <= 64
    ):
        raise AuthError("invalid session cookie")
    return RefreshClaims(user_id, company_id, version, session_id, int(claims["exp"]))
