"""Cloud API 131048 (spam rate limit): a throttle that the sender recognises by its code."""

from __future__ import annotations

from zapx.providers import PERMANENT, THROTTLE, SendResult
from zapx.providers.cloud import SPAM_RATE_LIMIT, classify, error_code, spam_rate_limited


def _answer(status: int, code: int) -> SendResult:
    body = {"error": {"code": code, "message": "slow down"}}
    outcome, reason = classify(status, body)
    return SendResult(outcome, error=reason, error_code=error_code(status, body))


def test_131048_is_a_throttle_known_by_its_code():
    result = _answer(400, SPAM_RATE_LIMIT)
    assert result.outcome == THROTTLE and result.error_code == "131048"
    assert spam_rate_limited(result)


def test_other_throttles_and_errors_are_not_the_spam_limit():
    for status, code in ((429, 4), (400, 130429), (400, 131056)):
        result = _answer(status, code)
        assert result.outcome == THROTTLE and not spam_rate_limited(result)
    # The code alone is not enough: only a throttle's answer is one.
    assert not spam_rate_limited(SendResult(PERMANENT, error="x", error_code="131048"))
