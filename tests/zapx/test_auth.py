"""zapx.auth: bcrypt passwords and HS256 access tokens."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from zapx import auth
from zapx.auth import (
    Principal,
    check_password,
    decode_token,
    dummy_check,
    hash_password,
    issue_token,
)
from zapx.errors import AuthError

SECRET = "test-secret-0123456789abcdef-0123456789"
OTHER_SECRET = "another-secret-0123456789abcdef-012345"
ALICE = Principal(user_id=7, company_id=3, profile="user", is_super=False, token_version=2)


@pytest.fixture(autouse=True)
def fast_bcrypt():
    saved = auth._rounds
    auth.set_bcrypt_rounds(4)
    yield
    auth.set_bcrypt_rounds(saved)


def test_hash_and_check():
    hashed = hash_password("correct horse")
    assert hashed.startswith("$2b$04$")  # bcrypt, with the configured cost
    assert check_password("correct horse", hashed)
    assert not check_password("correct horsE", hashed)
    assert not check_password("", hashed)


def test_hashes_are_salted():
    assert hash_password("same") != hash_password("same")


def test_unicode_password():
    hashed = hash_password("senha-çãé")
    assert check_password("senha-çãé", hashed)
    assert not check_password("senha-cae", hashed)


@pytest.mark.parametrize("bad_hash", ["", "not-a-hash", "$2b$04$short"])
def test_check_against_a_malformed_hash_is_false(bad_hash):
    assert check_password("anything", bad_hash) is False


def test_overlong_password_is_refused_not_truncated():
    base = "p" * auth.MAX_PASSWORD_BYTES
    hashed = hash_password(base)
    # bcrypt would truncate at 72 bytes; checking a longer one must not match, nor raise.
    assert check_password(base + "extra", hashed) is False
    with pytest.raises(ValueError):
        hash_password(base + "x")


def test_dummy_check_runs():
    dummy_check("whatever")
    assert auth._DUMMY_HASH is not None
    assert not check_password("whatever", auth._DUMMY_HASH)


def test_token_roundtrip():
    token = issue_token(ALICE, SECRET, 60)
    assert decode_token(token, SECRET) == ALICE
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "7"
    assert claims["exp"] - claims["iat"] == 60


def test_principal_roles():
    assert not ALICE.is_admin
    assert Principal(1, 1, "admin", False).is_admin
    assert Principal(1, 1, "user", True).is_admin


def test_expired_token():
    token = issue_token(ALICE, SECRET, -1)
    with pytest.raises(AuthError) as excinfo:
        decode_token(token, SECRET)
    assert excinfo.value.message == "token expired; log in again"


def test_token_still_valid_just_before_expiry():
    assert decode_token(issue_token(ALICE, SECRET, 5), SECRET) == ALICE


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_token():
    token = issue_token(ALICE, SECRET, 60)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["companyId"] = 4  # another tenant
    forged = ".".join((header, _b64(claims), signature))
    with pytest.raises(AuthError) as excinfo:
        decode_token(forged, SECRET)
    assert excinfo.value.message == "invalid token"


def test_wrong_secret():
    token = issue_token(ALICE, OTHER_SECRET, 60)
    with pytest.raises(AuthError, match="invalid token"):
        decode_token(token, SECRET)


def test_unsigned_token_is_refused():
    now = int(time.time())
    claims = {"sub": "7", "id": 7, "companyId": 3, "profile": "admin", "super": True}
    token = ".".join((_b64({"alg": "none", "typ": "JWT"}), _b64(claims | {"exp": now + 60}), ""))
    with pytest.raises(AuthError, match="invalid token"):
        decode_token(token, SECRET)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "7", "id": 7, "companyId": 3, "profile": "user", "super": False},  # no exp
        {"id": 7, "companyId": 3, "profile": "user", "super": False, "exp": "FUTURE"},  # no sub
        {"sub": "7", "id": 7, "profile": "user", "super": False, "exp": "FUTURE"},  # no company
        {"sub": "7", "id": "x", "companyId": 3, "profile": "u", "super": False, "exp": "FUTURE"},
    ],
)
def test_token_with_missing_or_bad_claims(claims):
    if claims.get("exp") == "FUTURE":
        claims = claims | {"exp": int(time.time()) + 60}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="invalid token"):
        decode_token(token, SECRET)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_garbage_token(garbage):
    with pytest.raises(AuthError, match="invalid token"):
        decode_token(garbage, SECRET)
