"""The tick's mass start (``zapx.engine.duties.Duties.start_due``) announces a burst to the
bulk lane before its first start, counts what it sends, and takes off what it could not."""

from __future__ import annotations

import datetime

import pytest

from tests.actors.campaigns import make_list
from tests.conftest import make_company
from zapx.campaigns import priority
from zapx.config import load_config
from zapx.db import WhatsappConnection, db
from zapx.db.campaign_models import Campaign
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
        company_id = make_company(f"burst {connected} {i}")
        list_id = make_list(company_id, 3)
        with db.connection_context():
            status = "CONNECTED" if connected else "DISCONNECTED"
            whatsapp_id = WhatsappConnection.create(company=company_id, name="w", status=status).id
            Campaign.create(
                company=company_id,
                name="c",
                status="PROGRAMADA",
                contact_list=list_id,
                whatsapp=whatsapp_id,
                message1="Oi {nome}",
                scheduled_at=datetime.datetime.now(datetime.UTC),
            )


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
