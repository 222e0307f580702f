"""A failing company actor is replaced and finishes its campaign; the clock's ticks cannot
pile up in the Directory's inbox.

The engine runs in this process (the Directory, its company actors, the ``engine`` queue's
consumer and the clock, wired as ``actors.engine.main`` wires them), against a real sandbox and
worker process, so a fault can be injected into the company actors' code.
"""

from __future__ import annotations

import logging
import threading
import time

import dramatiq
import peewee
import pykka
import pytest

from actors import inbox
from actors.engine.directory import DirectoryActor
from actors.engine.main import Clock, DramatiqOutbox
from tests.actors.campaigns import make_list, setup_company, start_campaign, wait_status
from tests.actors.conftest import Stack
from zapx.campaigns import batches
from zapx.db import CampaignShipping, db


@pytest.fixture
def engine(config, broker):
    """An engine in this process: its Directory ref."""
    directory = DirectoryActor.start(config, DramatiqOutbox())
    proxy = directory.proxy()
    inbox.bind(proxy)
    consumer = dramatiq.Worker(broker, queues={"engine"}, worker_threads=1, worker_timeout=50)
    consumer.start()
    clock = Clock(proxy)
    clock.start()
    yield directory
    clock.stop()
    consumer.stop(timeout=10_000)
    inbox.bind(None)
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


@pytest.fixture
def workers(process_env, tmp_path, engine):
    """A sandbox and a worker process (the engine is the one above)."""
    stack = Stack(process_env, tmp_path)
    try:
        stack.start("sandbox")
        stack.start("worker")
        yield stack
    finally:
        stack.stop()


def test_a_database_error_in_batch_done_replaces_the_actor_which_finishes(
    client, account, workers, monkeypatch, caplog
):
    caplog.set_level(logging.ERROR, logger="zapx.engine.company")
    company = setup_company(client, account, workers.sandbox, "failing")
    list_id = make_list(company["account"].company_id, 30)
    real_open_rows = batches.open_rows
    failed = threading.Event()

    def open_rows(campaign_id):
        # The campaign's last report: the rows are all done, and the database goes away while
        # the company actor decides whether the campaign is finished.
        if not failed.is_set() and not real_open_rows(campaign_id):
            failed.set()
            raise peewee.OperationalError("server closed the connection unexpectedly")
        return real_open_rows(campaign_id)

    monkeypatch.setattr(batches, "open_rows", open_rows)
    campaign_id = start_campaign(client, company["account"], list_id, company["whatsapp_id"])
    wait_status(client, company["account"], campaign_id, "FINALIZADA", timeout_s=60)
    assert failed.is_set()
    with db.connection_context():
        rows = CampaignShipping.select().where(CampaignShipping.campaign == campaign_id)
        assert [r.status for r in rows] == ["sent"] * 30
    [logged] = [r for r in caplog.records if r.getMessage().startswith("company actor failed")]
    assert logged.levelno == logging.ERROR
    assert (logged.company_id, logged.campaign_id) == (company["account"].company_id, campaign_id)


def test_a_flood_of_clock_ticks_does_not_grow_the_directorys_inbox(config, clean_db, monkeypatch):
    slow_tick = DirectoryActor.tick

    def tick(self):
        time.sleep(0.05)  # a Directory slower than its clock (a mass start)
        slow_tick(self)

    monkeypatch.setattr(DirectoryActor, "tick", tick)
    directory = DirectoryActor.start(config, DramatiqOutbox())
    clock = Clock(directory.proxy())
    clock.TICK_S = 0.001
    try:
        clock.start()
        sizes = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            sizes.append(directory.actor_inbox.qsize())
            time.sleep(0.01)
    finally:
        clock.stop()
        directory.stop(timeout=10)
    assert max(sizes) <= 1, max(sizes)
    assert clock.skipped > 100  # ticks were due about 30 times as often as they were handled
