"""zapx.alerts.webhook and actors.alerts: Standard Webhooks signing (the specification's test
vector), one POST to a local receiver that verifies it, what is retried and what is not, the
SSRF guard at POST time, and a second run of a delivered event that POSTs nothing."""

from __future__ import annotations

import threading
import time

import pytest

from tests.actors.receivers import Receiver
from tests.conftest import make_company
from zapx import alerts
from zapx.alerts import Condition, webhook
from zapx.db import AlertWebhook, Tenant, db
from zapx.outbound import Outbound, parse_allowed
from zapx.redis import get_redis

#: https://github.com/standard-webhooks/standard-webhooks (its libraries' shared test vector).
VECTOR = (
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "msg_p5jXN8AQM9LWM0D4loKWxJek",
    1614265330,
    b'{"test": 2432232314}',
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
)
LOCAL = Outbound(allowed=parse_allowed("127.0.0.1"))


def test_the_signature_is_the_specifications():
    secret, msg_id, ts, body, expected = VECTOR
    assert webhook.sign(secret, msg_id, ts, body) == expected
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": expected}
    assert webhook.verify(secret, headers, body, now=ts + 10)
    assert not webhook.verify(secret, headers, body + b" ", now=ts)  # another body
    assert not webhook.verify(secret, headers, body, now=ts + 301)  # a replay, too late
    assert not webhook.verify(webhook.new_secret(), headers, body, now=ts)  # another secret
    rotated = {**headers, "webhook-signature": f"v1,AAAA {expected}"}  # several: one matches
    assert webhook.verify(secret, rotated, body, now=ts)
    assert not webhook.verify(secret, {"webhook-id": msg_id}, body, now=ts)


@pytest.fixture
def company(clean_db):
    return make_company("hooked")


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def _alert(company_id):
    with db.connection_context():
        return alerts.raise_alert(
            Condition("queue_stale", "queue:delivery", company_id, "warning", "slow", 9.5, 5.0)
        )


def _hook(company_id, url) -> str:
    with db.connection_context():
        shown, created = webhook.set_webhook(Tenant(company_id), {"url": url}, LOCAL)
    assert created
    return shown["secret"]


def test_one_post_signed_with_the_alert(company, receiver):
    receiver.secret = _hook(company, receiver.url)
    event = _alert(company)
    assert webhook.post_event(event.alert_id, "opened", LOCAL, 5.0) == 200
    (got,) = receiver.received
    assert got.valid and got.headers["webhook-id"] == f"alert_{event.alert_id}_opened"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
    body = got.event
    assert body["type"] == "alert.opened" and body["data"]["rule"] == "queue_stale"
    assert body["data"]["companyId"] == company and body["data"]["value"] == 9.5
    assert body["timestamp"] == body["data"]["openedAt"]


def test_what_is_retried_and_what_is_not(company, receiver):
    receiver.secret = "whsec_" + "A" * 32  # not the webhook's: the receiver answers 401
    _hook(company, receiver.url)
    event = _alert(company)
    with pytest.raises(webhook.WebhookRefused, match="401"):
        webhook.post_event(event.alert_id, "opened", LOCAL, 5.0)
    receiver.fail_first = 10  # 503s
    with pytest.raises(webhook.WebhookFailed, match="503"):
        webhook.post_event(event.alert_id, "opened", LOCAL, 5.0)
    with db.connection_context():
        AlertWebhook.update(url="http://127.0.0.1:1/closed").execute()
    with pytest.raises(webhook.WebhookFailed):  # connection refused: retried
        webhook.post_event(event.alert_id, "opened", LOCAL, 5.0)
    with pytest.raises(webhook.WebhookRefused):
        webhook.post_event(event.alert_id, "reopened", LOCAL, 5.0)


def test_nothing_to_send_for_a_system_alert_or_a_company_without_a_webhook(company, receiver):
    assert webhook.post_event(_alert(company).alert_id, "opened", LOCAL, 5.0) is None
    assert webhook.post_event(_alert(None).alert_id, "opened", LOCAL, 5.0) is None
    assert webhook.post_event(10**9, "opened", LOCAL, 5.0) is None
    assert receiver.received == []


def test_the_guard_refuses_a_private_peer_at_post_time(company, receiver):
    """A URL saved while allowed (or a name rebound since) is refused on the socket's peer
    before a byte leaves: nothing reaches the receiver, and it is not retried."""
    _hook(company, receiver.url)
    event = _alert(company)
    with pytest.raises(webhook.WebhookRefused, match="not public"):
        webhook.post_event(event.alert_id, "opened", Outbound(), 5.0)
    assert receiver.received == []


@pytest.fixture
def marks(redis_url, redis_prefix):
    """The delivered events' marks are forgotten after the test: ids restart with the next
    test's tables, and its alert 1 is another alert."""
    yield
    client = get_redis(redis_url)
    for key in client.scan_iter(match=f"{redis_prefix}alerts:posted:*"):
        client.delete(key)


def test_a_second_run_of_a_delivered_event_posts_nothing(company, receiver, broker, marks):
    from actors.alerts import MAX_RETRIES, deliver_alert

    receiver.secret = _hook(company, receiver.url)
    event = _alert(company)
    deliver_alert.fn(event.alert_id, "opened")
    deliver_alert.fn(event.alert_id, "opened")
    assert len(receiver.received) == 1 and receiver.received[0].valid
    options = deliver_alert.options
    assert options["max_retries"] == MAX_RETRIES and options["throws"] == (webhook.WebhookRefused,)
    assert 0 < options["min_backoff"] < options["max_backoff"] and options["time_limit"] > 10_000


def test_concurrent_puts_leave_one_webhook(company):
    """Two admins saving at once: one row, no IntegrityError; the first made it."""
    barrier, results, errors = threading.Barrier(6), [], []

    def put(i):
        try:
            with db.connection_context():
                barrier.wait(timeout=10)
                body = {"url": f"http://127.0.0.1:{9000 + i}/h"}
                results.append(webhook.set_webhook(Tenant(company), body, LOCAL))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == [] and len(results) == 6
    assert sum(created for _, created in results) == 1
    assert len({shown["secret"] for shown, _ in results}) == 1  # kept by the later PUTs
    with db.connection_context():
        assert AlertWebhook.select().count() == 1
