"""actors.engine.alerting: the alert thread runs its evaluator, enqueues a webhook for each
company alert it opened or resolved (none for system alerts), logs a failing evaluation once,
and judges nothing while a dependency's breaker refuses calls."""

from __future__ import annotations

import dataclasses
import logging

from actors.engine import alerting
from actors.engine.alerting import AlertThread, start_alerts
from zapx.alerts import Event
from zapx.config import Config
from zapx.redis import get_redis


class FakeEvaluator:
    def __init__(self, results):
        self.results, self.calls = list(results), 0

    def evaluate(self):
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def test_company_events_are_notified_system_ones_not():
    events = [
        Event(1, "opened", 7, "breaker_open", "whatsapp:3"),
        Event(2, "opened", None, "queue_stale", "queue:delivery"),
        Event(3, "resolved", 7, "connection_down", "whatsapp:3"),
    ]
    sent = []
    thread = AlertThread(FakeEvaluator([events]), lambda i, k: sent.append((i, k)), 1.0)
    thread.step()
    assert sent == [(1, "opened"), (3, "resolved")]


def test_a_failing_evaluation_is_logged_once_and_a_failing_notify_skips_one(caplog):
    caplog.set_level(logging.INFO, logger="zapx.alerts")
    boom = RuntimeError("bug")
    ok = [Event(4, "opened", 7, "breaker_open", "whatsapp:3")]

    def notify(alert_id, kind):
        raise ConnectionError("broker down")

    thread = AlertThread(FakeEvaluator([boom, RuntimeError("bug"), ok]), notify, 1.0)
    for _ in range(3):
        thread.step()  # never raises: the thread goes on
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("alert evaluation failed") == 1
    assert messages.count("alert webhook not enqueued") == 1


def test_nothing_is_judged_while_a_dependency_refuses(monkeypatch):
    evaluator = FakeEvaluator([[]])
    monkeypatch.setattr(alerting.dependencies, "blocking", lambda: object())
    AlertThread(evaluator, lambda i, k: None, 1.0).step()
    assert evaluator.calls == 0


def test_started_by_config_and_stopped(config):
    assert Config().alert_enabled  # by default the engine evaluates the rules
    client = get_redis(config.redis_url)
    off = dataclasses.replace(config, alert_enabled=False)
    assert start_alerts(off, client, "ns", ("delivery",), lambda i, k: None) is None
    fast = dataclasses.replace(config, alert_interval_s=3600.0)
    thread = start_alerts(fast, client, "ns", ("delivery",), lambda i, k: None)
    try:
        assert thread is not None and thread.is_alive() and thread.interval_s == 3600.0
    finally:
        thread.stop()
    assert not thread.is_alive()
