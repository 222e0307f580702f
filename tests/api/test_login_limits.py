"""``POST /auth/login`` resists guessing: failures limited per e-mail and per client address."""

from __future__ import annotations

import dataclasses

import falcon.testing
import pytest

from api.client_address import ClientAddress
from tests.api.helpers import assert_error, fresh_client
from tests.conftest import PASSWORD, make_user

ATTACKER, VICTIM, OTHER = "192.0.2.66", "198.51.100.2", "203.0.113.9"


def _login(client, email, password, address, headers=None):
    return client.simulate_post(
        "/auth/login",
        json={"email": email, "password": password},
        remote_addr=address,
        headers=headers,
    )


def _fail(client, email, address, n, headers=None) -> None:
    for i in range(n):
        resp = _login(client, email, "wrong-password", address, headers)
        assert resp.status_code == 401, f"failure {i + 1}: {resp.status_code} {resp.text}"


def _throttled(resp) -> int:
    assert_error(resp, 429, "ERR_TOO_MANY_REQUESTS", field=None, contains="too many failed")
    retry = int(resp.headers["retry-after"])
    assert 1 <= retry <= 900
    return retry


@pytest.mark.parametrize("known", [True, False], ids=["known-email", "unknown-email"])
def test_ten_failures_per_email_then_429_with_retry_after(client, alice, known):
    """A known and an unknown e-mail are limited alike: the limiter tells no e-mail apart."""
    email = alice.email if known else "nobody@nowhere.test"
    _fail(client, email, ATTACKER, 10)
    # Locked: even the right password answers 429, so a locked guesser learns nothing.
    _throttled(_login(client, email, PASSWORD, ATTACKER))
    _throttled(_login(client, email, "wrong-password", ATTACKER))


def test_a_success_clears_the_emails_count(client, alice):
    _fail(client, alice.email, VICTIM, 9)
    assert _login(client, alice.email, PASSWORD, VICTIM).status_code == 200
    _fail(client, alice.email, VICTIM, 10)  # ten more, not one
    _throttled(_login(client, alice.email, PASSWORD, VICTIM))


def test_an_attacker_cannot_lock_the_owner_out(client, alice):
    _fail(client, alice.email, ATTACKER, 10)
    _throttled(_login(client, alice.email, PASSWORD, ATTACKER))
    # The owner, from an address with no failure on this e-mail, still logs in.
    resp = _login(client, alice.email, PASSWORD, VICTIM)
    assert resp.status_code == 200, resp.text
    # Other users of the attacker's address are not locked by that one e-mail.
    make_user(alice.company_id, "colleague@alice.test", profile="user")
    assert _login(client, "colleague@alice.test", PASSWORD, ATTACKER).status_code == 200


def test_the_per_address_cap_covers_every_email(client, config, alice):
    limited = fresh_client(
        dataclasses.replace(config, login_max_failures=3, login_max_failures_per_address=8)
    )
    for i in range(8):
        _fail(limited, f"spray{i}@nowhere.test", ATTACKER, 1)
    retry = _throttled(_login(limited, alice.email, PASSWORD, ATTACKER))
    assert retry > 800  # the address's window started with its first failure, just now
    # Another address is not concerned, and the owner logs in from it.
    assert _login(limited, alice.email, PASSWORD, OTHER).status_code == 200


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(client, config, alice):
    # Untrusted peer: a client that makes up X-Forwarded-For is still counted by its own address.
    for i in range(10):
        spoof = {"X-Forwarded-For": f"10.9.{i}.1"}
        assert _login(client, alice.email, "wrong-password", ATTACKER, spoof).status_code == 401
    _throttled(_login(client, alice.email, PASSWORD, ATTACKER, {"X-Forwarded-For": VICTIM}))
    # Behind a trusted proxy, the proxy's peer is not the client: the address it appended is.
    proxied = fresh_client(dataclasses.replace(config, trusted_proxies=("127.0.0.0/8",)))
    via_proxy = {"X-Forwarded-For": f"{VICTIM}, {ATTACKER}"}  # the attacker wrote the left part
    _throttled(_login(proxied, alice.email, PASSWORD, "127.0.0.1", via_proxy))
    resp = _login(proxied, alice.email, PASSWORD, "127.0.0.1", {"X-Forwarded-For": VICTIM})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "198.51.100.2, 203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "203.0.113.9, 10.0.0.5", "203.0.113.9"),  # two trusted hops
        ("127.0.0.1", "203.0.113.9, 10.0.0.5, 127.0.0.1", "203.0.113.9"),
        ("127.0.0.1", "junk, 10.0.0.5", "10.0.0.5"),  # all proxies: the last known address
        ("192.0.2.1", "203.0.113.9", "192.0.2.1"),  # not a trusted peer: its header is ignored
        ("10.0.0.5", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(peer, forwarded, client):
    addresses = ClientAddress(["127.0.0.1", "10.0.0.0/8"])
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    req = falcon.testing.create_req(remote_addr=peer, headers=headers)
    assert addresses.of(req) == client
    assert ClientAddress([]).of(req) == peer
