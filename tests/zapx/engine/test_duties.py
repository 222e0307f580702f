"""The tick's mass start (``zapx.engine.duties.Duties.start_due``) announces a burst to the
bulk lane before its first start, counts what it sends, and takes off what it could not; the
audiences it left pending are completed chunk by chunk, and a tick with none pending costs one
query."""

from __future__ import annotations

import datetime
import logging

import pytest

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from tests.zapx.campaigns.started import due_campaign
from zapx import cache
from zapx.campaigns import priority
from zapx.config import load_config
from zapx.db import WhatsappConnection, db
from zapx.db.campaign_models import Campaign
from zapx.engine import duties as duties_module
from zapx.engine.duties import Duties
from zapx.engine.runflags import RunFlags
from zapx.redis import Keys, get_redis


class Outbox:
    def __init__(self, flags: RunFlags):
        self.flags = flags
        self.sent: list[tuple[int, bool, int]] = []  # (batches, counted, the count then)

    def send_first_batches(self, batches, counted=False):
        count = priority.pending(self.flags.client, self.flags.keys)
        self.sent.append((len(batches), counted, count))


def due_campaigns(n: int, connected: bool = True) -> None:
    for i in range(n):
        due_campaign(f"burst {connected} {i}", 3, "CONNECTED" if connected else "DISCONNECTED")


@pytest.fixture
def lane(redis_url, redis_prefix):
    """(Duties, its outbox), with the burst's counter under a prefix of this file's own."""
    flags = RunFlags(get_redis(redis_url), Keys(redis_prefix + "duties:"))
    outbox = Outbox(flags)
    yield Duties(load_config(), outbox, flags), outbox
    flags.client.delete(priority.key(flags.keys))


def test_a_burst_is_announced_before_its_starts_and_counts_what_it_sent(
    clean_db, lane, monkeypatch
):
    monkeypatch.setattr(priority, "BURST_MIN", 4)
    due_campaigns(4)
    due_campaigns(2, connected=False)  # due, not startable: announced, then taken off
    d, outbox = lane
    with db.connection_context():
        [(started, firsts)] = d.start_due()
    assert len(started) == len(firsts) == 4
    # Held from before the first start: the count was already the 6 due when they were sent.
    assert outbox.sent == [(4, True, 6)]
    assert priority.pending(d.flags.client, d.flags.keys) == 4  # the workers take these off


def test_a_start_below_a_burst_holds_nothing(clean_db, lane, monkeypatch):
    monkeypatch.setattr(priority, "BURST_MIN", 4)
    due_campaigns(3)
    d, outbox = lane
    with db.connection_context():
        d.start_due()
    assert outbox.sent == [(3, False, 0)]
    assert priority.pending(d.flags.client, d.flags.keys) == 0


class NoOutbox:
    def send_first_batches(self, batches, counted=False) -> None:
        self.batches = list(batches)


def _duties(config) -> Duties:
    flags = RunFlags(get_redis(config.redis_url), Keys(config.redis_prefix + "duties:"))
    return Duties(config, NoOutbox(), flags)


def _queries(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "peewee"]


def test_with_no_audience_pending_the_completion_is_one_query(config, clean_db, caplog):
    duties = _duties(config)
    with db.connection_context(), caplog.at_level(logging.DEBUG, logger="peewee"):
        assert duties.complete_audiences() == []
    [query] = _queries(caplog)
    assert "audience_pending" in query


def test_the_completion_takes_every_pending_audience_chunk_by_chunk(
    config, clean_db, monkeypatch, caplog
):
    monkeypatch.setattr(duties_module, "START_CHUNK", 2)  # 5 campaigns: chunks of 2, 2 and 1
    company_id = make_company("chunks")
    list_id = make_list(company_id, 3)
    now = datetime.datetime.now(datetime.UTC)
    with db.connection_context():
        whatsapp_id = WhatsappConnection.create(company=company_id, name="w", status="CONNECTED").id
        ids = [
            Campaign.create(
                company=company_id, name=f"c{i}", status="PROGRAMADA", contact_list=list_id,
                whatsapp=whatsapp_id, message1="Oi", scheduled_at=now,
            ).id
            for i in range(5)
        ]  # fmt: skip
    duties = _duties(config)
    try:
        with db.connection_context():
            started = [c for chunk, _ in duties.start_due() for _, c in chunk]
            assert sorted(started) == ids
            assert {(c.total, c.audience_pending) for c in Campaign.select()} == {(1, True)}
            version = cache.version_key(duties.flags.keys.prefix, company_id, cache.REPORTS)
            before = int(duties.flags.client.get(version) or 0)
            with caplog.at_level(logging.INFO, logger="zapx.engine"):
                completed = duties.complete_audiences()
            # The reports cached with the first rows only are stale: once a chunk.
            assert int(duties.flags.client.get(version)) == before + 3
            assert sorted(c for _, c in completed) == ids
            assert {(c.total, c.audience_pending) for c in Campaign.select()} == {(3, False)}
            assert duties.complete_audiences() == []
    finally:
        left = duties.flags.client.keys(duties.flags.keys.prefix + "*")  # the run flags set
        if left:
            duties.flags.client.delete(*left)
    chunks = [r.campaigns for r in caplog.records if r.getMessage() == "audiences completed"]
    assert chunks == [2, 2, 1]


def test_a_burst_committed_between_the_count_and_the_start_is_announced_late(
    clean_db, lane, monkeypatch
):
    """The burst's insert commits after the tick counted nothing due: the chunk it starts is
    announced before its first batches are sent, and counted."""
    monkeypatch.setattr(priority, "BURST_MIN", 4)
    due_campaigns(5)
    d, outbox = lane
    real, calls = duties_module.starts.due_count, []

    def due_count(limit):
        calls.append(limit)
        return 0 if len(calls) == 1 else real(limit)  # the first count saw nothing

    monkeypatch.setattr(duties_module.starts, "due_count", due_count)
    with db.connection_context():
        [(started, _)] = d.start_due()
    assert len(started) == 5
    assert outbox.sent == [(5, True, 5)]
