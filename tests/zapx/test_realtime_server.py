"""``zapx realtime``, a real process: who may connect, which events reach whom, rechecks."""

from __future__ import annotations

import pytest
import socketio

from tests.realtime import Listener, start_server
from zapx import auth, realtime
from zapx.db import Company, User, db


@pytest.fixture(scope="module")
def server(process_env, tmp_path_factory):
    proc, base = start_server(
        process_env,
        tmp_path_factory.mktemp("realtime"),
        REALTIME_RECHECK_S="1",
    )
    yield base
    proc.stop()


def token(account) -> str:
    return account.headers["Authorization"].split()[1]


def test_a_live_token_connects_and_gets_ready_in_any_namespace(server, alice):
    # socket.io-client takes REACT_APP_BACKEND_URL's path as the namespace (host/api -> /api)
    for namespace in ("/", "/api"):
        listener = Listener(server, token(alice), namespace=namespace).connect()
        assert listener.named("ready") == [None]
        listener.close()


def _refusal(server, text: str, **kwargs) -> str:
    data = Listener(server, text, **kwargs).refusal()
    return data["message"] if isinstance(data, dict) else str(data)


def test_a_bad_expired_or_revoked_token_is_refused_at_connect(server, config, alice, bob):
    assert "missing token" in _refusal(server, "")
    assert _refusal(server, "not-a-jwt") == "invalid token"
    claims = auth.decode_token(token(alice), config.secret_key)
    forged = auth.issue_token(claims, "another-secret-of-at-least-32-characters!", 3600)
    assert _refusal(server, forged) == "invalid token"
    expired = auth.issue_token(claims, config.secret_key, -10)
    assert _refusal(server, expired) == "token expired; log in again"

    # revoked: a password change bumps the user's token version
    with db.connection_context(), db.atomic():
        User.update(token_version=User.token_version + 1).where(User.id == alice.user_id).execute()
    assert _refusal(server, token(alice)) == "token revoked; log in again"

    # the company deactivated, then the user deleted
    with db.connection_context(), db.atomic():
        Company.update(status=False).where(Company.id == bob.company_id).execute()
    assert _refusal(server, token(bob)) == "company is inactive"
    with db.connection_context(), db.atomic():
        User.delete().where(User.id == bob.user_id).execute()
    assert _refusal(server, token(bob)) == "token revoked; log in again"


def test_browsers_must_come_from_the_frontend_origin(server, alice):
    Listener(server, token(alice)).connect().close()  # from FRONTEND_URL
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(server, token(alice), origin="http://evil.test").connect()


def test_a_user_revoked_while_connected_is_disconnected(server, alice):
    listener = Listener(server, token(alice)).connect()
    with db.connection_context(), db.atomic():
        User.update(token_version=User.token_version + 1).where(User.id == alice.user_id).execute()
    # REALTIME_RECHECK_S=1 here: within a couple of seconds, not at the token's expiry
    assert listener.disconnected.wait(5), "a revoked user kept their socket"


def test_an_event_reaches_its_company_in_every_namespace_and_no_other(server, alice, bob):
    a_root = Listener(server, token(alice)).connect()
    a_api = Listener(server, token(alice), namespace="/api").connect()
    b = Listener(server, token(bob)).connect()
    name = f"company-{alice.company_id}-campaign"
    realtime.publish(alice.company_id, "campaign", {"action": "delete", "id": 7})
    assert a_root.wait(name) == {"action": "delete", "id": 7}
    assert a_api.wait(name) == {"action": "delete", "id": 7}
    # one of bob's own after alice's, through the same publisher and channel: had bob been in
    # alice's room, her event would have reached him first
    realtime.publish(bob.company_id, "campaign", {"action": "delete", "id": 8})
    b.wait(f"company-{bob.company_id}-campaign")
    assert b.names() == {"ready", f"company-{bob.company_id}-campaign"}
    assert f"company-{bob.company_id}-campaign" not in a_root.names() | a_api.names()
    for listener in (a_root, a_api, b):
        listener.close()
