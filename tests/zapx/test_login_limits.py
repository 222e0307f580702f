"""zapx.login_limits on the real Redis: counting, refusals, forgiveness, races, keys."""

from __future__ import annotations

import threading
import uuid

import pytest

from zapx.errors import TooManyRequests
from zapx.login_limits import LoginLimiter, LoginLimits, address_key
from zapx.redis import get_redis


@pytest.fixture
def client(redis_url):
    return get_redis(redis_url)


@pytest.fixture
def prefix(client, redis_prefix):
    """A key prefix of this test only, its keys deleted afterwards."""
    value = f"{redis_prefix}limits-{uuid.uuid4().hex[:8]}:"
    yield value
    keys = list(client.scan_iter(match=value + "*", count=1000))
    if keys:
        client.delete(*keys)


def _limiter(client, prefix, **limits) -> LoginLimiter:
    return LoginLimiter(client, prefix, LoginLimits(**limits))


def _tries(limiter, email, address, n) -> int:
    """How many of ``n`` failed attempts were let through before the first refusal."""
    for i in range(n):
        try:
            limiter.begin(email, address)
        except TooManyRequests:
            return i
    return n


def test_per_email_limit_from_one_address_then_retry_after(client, prefix):
    limiter = _limiter(client, prefix, window_s=900, per_email=10, per_address=100)
    assert _tries(limiter, "a@x.test", "192.0.2.1", 10) == 10
    with pytest.raises(TooManyRequests) as refused:
        limiter.begin("A@X.test ", "192.0.2.1")  # the same e-mail, however it is typed
    assert 890 <= refused.value.retry_after_s <= 900
    assert refused.value.code == "ERR_TOO_MANY_REQUESTS"
    # Keys live under the prefix, with the window as their lifetime, and say no e-mail.
    keys = [k.decode() for k in client.scan_iter(match=prefix + "*")]
    assert len(keys) == 3 and all(k.startswith(prefix + "{login}:") for k in keys)
    assert all(0 < client.ttl(k) <= 900 for k in keys)
    assert not any("a@x.test" in k for k in keys)


def test_a_locked_email_lets_a_clean_address_in_and_only_once(client, prefix):
    limiter = _limiter(client, prefix, window_s=900, per_email=3, per_address=100)
    assert _tries(limiter, "v@x.test", "192.0.2.66", 5) == 3  # the attacker locks the e-mail
    limiter.begin("v@x.test", "198.51.100.2")  # the owner, from elsewhere: let through
    limiter.succeeded("v@x.test", "198.51.100.2")  # ... and the password was right
    assert _tries(limiter, "v@x.test", "192.0.2.66", 5) == 3  # the e-mail starts afresh
    # A fresh address gets one try at a locked e-mail: its failure counts it as failed.
    assert _tries(limiter, "v@x.test", "203.0.113.9", 5) == 1
    # Other e-mails of the attacker's address are untouched below the address cap.
    assert _tries(limiter, "other@x.test", "192.0.2.66", 3) == 3


def test_per_address_cap_and_a_success_does_not_reset_it(client, prefix):
    limiter = _limiter(client, prefix, window_s=900, per_email=3, per_address=6)
    for i in range(5):
        limiter.begin(f"spray{i}@x.test", "192.0.2.7")
    limiter.begin("mine@x.test", "192.0.2.7")
    limiter.succeeded("mine@x.test", "192.0.2.7")  # the attacker's own account: gives one back
    limiter.begin("spray5@x.test", "192.0.2.7")  # the 6th failure
    with pytest.raises(TooManyRequests):
        limiter.begin("anyone@x.test", "192.0.2.7")
    with pytest.raises(TooManyRequests):
        limiter.begin("mine@x.test", "192.0.2.7")
    limiter.begin("anyone@x.test", "192.0.2.8")  # another address is not concerned


def test_concurrent_guesses_cannot_pass_the_limit_together(client, prefix):
    limiter = _limiter(client, prefix, window_s=900, per_email=10, per_address=1000)
    passed, barrier = [], threading.Barrier(8)

    def guess():
        barrier.wait()
        passed.append(_tries(limiter, "target@x.test", "192.0.2.50", 10))

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(passed) == 10  # 80 guesses at once, 10 let through


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("203.0.113.5", "203.0.113.5"),
        (" 203.0.113.5 ", "203.0.113.5"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("", "unknown"),
        ("not-an-ip", "not-an-ip"),
    ],
)
def test_address_key(raw, key):
    assert address_key(raw) == key
