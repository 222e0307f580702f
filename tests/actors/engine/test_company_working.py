"""Company actors work under the Directory's shared semaphore: however many companies have
messages at once (a mass start), no more of them than it allows work at the same time."""

from __future__ import annotations

import threading
import time

import pykka

from actors.engine.company import CompanyActor
from zapx.engine.lifecycle import CompanyLifecycle
from zapx.engine.live import Budget


class NoOutbox:
    def send_batch(self, batch_id, company_id, first, delay_s):
        raise AssertionError("nothing is planned here")

    def send_first_batches(self, batches, counted=False):
        raise AssertionError("nothing is planned here")

    def send_alert(self, alert_id, kind):
        raise AssertionError("no alert here")


class FakeDirectory:
    """The company actors' view of the Directory: one-way calls, recorded."""

    def __init__(self):
        self.calls = []
        self.company_idle = self.company_failed = self.wake = self

    def defer(self, *args):
        self.calls.append(args)


def test_no_more_company_actors_work_at_once_than_the_semaphore_allows(config, monkeypatch):
    at_once, peak, lock = [0], [0], threading.Lock()

    def slow(self, *args):
        with lock:
            at_once[0] += 1
            peak[0] = max(peak[0], at_once[0])
        time.sleep(0.05)
        with lock:
            at_once[0] -= 1

    monkeypatch.setattr(CompanyLifecycle, "recover", slow)
    monkeypatch.setattr(CompanyLifecycle, "pump", slow)
    working = threading.BoundedSemaphore(2)
    refs = [
        CompanyActor.start(company_id, FakeDirectory(), Budget(8), config, NoOutbox(), (), working)
        for company_id in range(900_001, 900_007)
    ]
    try:
        futures = [ref.proxy().pump() for ref in refs]  # asked while they still start
        for future in futures:
            future.get(timeout=10)
    finally:
        for ref in refs:
            ref.stop(timeout=5)
    assert peak[0] == 2  # 6 actors x 2 calls of 50 ms: two at a time, never three
    assert pykka.ActorRegistry.get_by_class(CompanyActor) == []
