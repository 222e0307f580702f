"""The clock's duties: the audiences a mass start left pending are completed chunk by chunk,
and a tick with none pending costs one query."""

from __future__ import annotations

import datetime
import logging

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from zapx import cache
from zapx.db import WhatsappConnection, db
from zapx.db.campaign_models import Campaign
from zapx.engine import duties as duties_module
from zapx.engine.duties import Duties
from zapx.engine.runflags import RunFlags
from zapx.redis import Keys, get_redis


class NoOutbox:
    def send_first_batches(self, batches) -> None:
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
