"""Cloud API 131048 (spam rate limit): a throttle that the sender recognises by its code."""

from __future__ import annotations

from zapx.providers import THROTTLE, SendResult
from zapx.providers.cloud import SPAM_RATE_LIMIT, classify, reason_code, spam_rate_limited


def test_131048_is_a_throttle_known_by_its_code():
    outcome, reason = classify(400, {"error": {"code": 131048, "message": "Spam rate limit hit"}})
    assert outcome == THROTTLE and reason_code(reason) == SPAM_RATE_LIMIT
    assert spam_rate_limited(SendResult(outcome, error=reason))


def test_other_throttles_and_errors_are_not_the_spam_limit():
    for status, code in ((429, 4), (400, 130429), (400, 131056)):
        outcome, reason = classify(status, {"error": {"code": code, "message": "slow down"}})
        assert outcome == THROTTLE and not spam_rate_limited(SendResult(outcome, error=reason))
    assert reason_code("HTTP 503") is None and reason_code(None) is None
    # The code alone is not enough: only a throttle's answer is one.
    assert not spam_rate_limited(SendResult("permanent", error="400 131048: x"))
