"""Many companies starting in the same tick: their first batches go in chunks
(``deliver_firsts``, ``zapx.campaigns.chunk``), measured at the sandbox's record.

- every company's campaign gets its messages, each to its own company's contacts, once;
- each campaign starts with its first row copied and the rest of its audience copied after
  (``starts.complete_audiences``); an engine stopped between the two completes them when it
  starts again, and every contact still gets one message;
- a ``kill -9`` of the worker with a chunk's requests on the wire (the sandbox answers late)
  leaves ``unknown`` exactly the rows granted and not answered (at most CHUNK_IN_FLIGHT a
  chunk, each batch's own row); the rows of the chunk never granted go back to pending and are
  sent once after the restart.
"""

from __future__ import annotations

import datetime

import pytest
import urllib3

from actors.engine.main import FIRSTS_SPREAD
from tests.actors.campaigns import (
    assert_kill_unknowns_honest,
    kill9,
    kill_unknowns,
    make_list,
    sandbox_count,
    sandbox_messages,
    sandbox_reset,
)
from tests.actors.conftest import make_stack
from tests.conftest import make_company
from tests.processes import wait_for
from zapx.campaigns import starts
from zapx.campaigns.chunk import CHUNK_IN_FLIGHT
from zapx.db import CampaignSetting, CampaignShipping, WhatsappConnection, db
from zapx.db.campaign_models import Campaign

LEASE_S = 4
#: Companies starting at once: the engine sends them in FIRSTS_SPREAD (8) chunks of 20, each
#: more than one wave of CHUNK_IN_FLIGHT, for the stack worker's 8 threads.
COMPANIES = FIRSTS_SPREAD * (CHUNK_IN_FLIGHT + 4)
CONTACTS = 2


@pytest.fixture(scope="module")
def firsts_stack(process_env, tmp_path_factory, broker):
    started = make_stack(
        process_env, tmp_path_factory.mktemp("firsts"), BATCH_LEASE_S=str(LEASE_S), record=True
    )
    yield started
    started.stop()


def _companies(sandbox: str, tag: str) -> dict[int, str]:
    """COMPANIES companies, each with an unpaced sandbox connection and a list of CONTACTS
    whose numbers carry the company's index: {company id: its numbers' prefix}."""
    out = {}
    for i in range(COMPANIES):
        company_id = make_company(f"{tag}{i}")
        prefix = f"55{tag}{i:03d}"
        with db.connection_context(), db.atomic():
            WhatsappConnection.create(
                company=company_id,
                name="sb",
                provider="sandbox",
                settings={"baseUrl": sandbox},
                status="CONNECTED",
                is_default=True,
            )
            CampaignSetting.create(company=company_id, key="messageInterval", value=0)
        make_list(company_id, CONTACTS, prefix=prefix)
        out[company_id] = prefix
    return out


def _start_all(companies: dict[int, str]) -> list[int]:
    """Every company's campaign due now, in one transaction: the engine's next tick starts
    them together (no API command reaches a company actor first)."""
    now = datetime.datetime.now(datetime.UTC)
    with db.connection_context(), db.atomic():
        ids = []
        for company_id in companies:
            contact_list = db.execute_sql(
                "SELECT id FROM contact_lists WHERE company_id = %s", (company_id,)
            ).fetchone()[0]
            ids.append(
                Campaign.create(
                    company=company_id,
                    name="burst",
                    status="PROGRAMADA",
                    contact_list=contact_list,
                    message1="Oi {nome}",
                    scheduled_at=now,
                ).id
            )
    return ids


def _all_finished(ids: list[int]) -> bool:
    with db.connection_context():
        return (
            not Campaign.select()
            .where(Campaign.id.in_(ids), Campaign.status != "FINALIZADA")
            .exists()
        )


def _rows(ids: list[int]) -> list[CampaignShipping]:
    with db.connection_context():
        return list(CampaignShipping.select().where(CampaignShipping.campaign.in_(ids)))


def _audiences(ids: list[int]) -> set[tuple[int, bool]]:
    """The (total, audience_pending) the campaigns ended with."""
    with db.connection_context():
        return {
            (c.total, c.audience_pending)
            for c in Campaign.select(Campaign.total, Campaign.audience_pending).where(
                Campaign.id.in_(ids)
            )
        }


def _check_tenants(sandbox: str, companies: dict[int, str], rows) -> dict[str, list]:
    """No number twice at the sandbox; every accepted message is a row of the company whose
    connection sent it (the sandbox's phone id) and is recorded sent (with the sandbox's id) or
    unknown; every row is final."""
    messages = sandbox_messages(sandbox)
    numbers = [m["to"] for m in messages]
    assert len(numbers) == len(set(numbers)), "a contact got the message twice"
    by_number = {r.number: r for r in rows}
    assert len(rows) == COMPANIES * CONTACTS
    for m in messages:
        row = by_number[m["to"]]
        assert m["to"].startswith(companies[row.company_id])  # its own company's contact
    by_status: dict[str, list] = {}
    for row in rows:
        by_status.setdefault(row.status, []).append(row)
    assert set(by_status) <= {"sent", "unknown"}, set(by_status)
    accepted = {m["to"]: m["id"] for m in messages}
    for row in by_status.get("sent", []):
        assert accepted.get(row.number) == row.provider_message_id
    return by_status


def test_a_mass_start_sends_every_company_s_first_message_once(firsts_stack):
    stack = firsts_stack
    sandbox_reset(stack.sandbox)
    companies = _companies(stack.sandbox, "7")
    ids = _start_all(companies)
    wait_for(lambda: _all_finished(ids), timeout_s=120, what="every campaign FINALIZADA")
    by_status = _check_tenants(stack.sandbox, companies, _rows(ids))
    assert len(by_status["sent"]) == COMPANIES * CONTACTS
    assert _audiences(ids) == {(CONTACTS, False)}


def test_an_engine_stopped_between_the_start_and_the_completion_completes_them(firsts_stack):
    """The mass start committed (first rows copied, audiences flagged pending) and the engine
    died before completing them: the next engine's first tick copies the rest, and every
    contact gets its message once."""
    stack = firsts_stack
    sandbox_reset(stack.sandbox)
    stack.procs["engine"].stop(timeout_s=60)
    companies = _companies(stack.sandbox, "9")
    ids = _start_all(companies)
    with db.connection_context():
        assert len(starts.start_due()) == COMPANIES  # what the dead engine's tick did
    assert _audiences(ids) == {(1, True)} and len(_rows(ids)) == COMPANIES
    stack.start("engine")
    wait_for(lambda: _all_finished(ids), timeout_s=120, what="every campaign FINALIZADA")
    by_status = _check_tenants(stack.sandbox, companies, _rows(ids))
    assert len(by_status["sent"]) == COMPANIES * CONTACTS
    assert _audiences(ids) == {(CONTACTS, False)}


def test_a_kill_9_mid_chunk_leaves_only_the_requests_on_the_wire_unknown(firsts_stack):
    stack = firsts_stack
    sandbox_reset(stack.sandbox, latencyMs=3000)  # a chunk's first wave stays on the wire
    companies = _companies(stack.sandbox, "8")
    ids = _start_all(companies)
    wait_for(
        # At least two chunks sending (one holds CHUNK_IN_FLIGHT at most), long before the
        # first answers: every row then on the wire is unanswered.
        lambda: sandbox_count(stack.sandbox) >= 2 * CHUNK_IN_FLIGHT,
        timeout_s=60,
        what="two chunks' first waves received",
    )
    killed_at = kill9(stack.procs["worker"])
    at_kill = sandbox_count(stack.sandbox)
    sandbox_reset_latency(stack.sandbox)
    stack.start("worker")
    wait_for(lambda: _all_finished(ids), timeout_s=120, what="every campaign FINALIZADA")
    rows = _rows(ids)
    by_status = _check_tenants(stack.sandbox, companies, rows)
    unknown = by_status.get("unknown", [])
    found = kill_unknowns(stack.sandbox, by_status, killed_at)
    print(found, f"at the kill the sandbox had {at_kill}")
    assert_kill_unknowns_honest(found)
    # Exactly the rows on the wire: each one the first (and only) row of its first batch. Every
    # arrival by the kill is one of them (bytes already written may land just after it); a row
    # granted whose request the kill caught before it left (a wave just started) is one too,
    # and never arrived.
    assert found.lost == len(unknown), found
    assert at_kill <= found.received <= found.lost, (found, at_kill)
    assert len({r.campaign_id for r in unknown}) == len(unknown)
    assert len(unknown) <= FIRSTS_SPREAD * CHUNK_IN_FLIGHT < COMPANIES  # some never granted
    assert len(by_status["sent"]) + len(unknown) == COMPANIES * CONTACTS


def sandbox_reset_latency(base: str) -> None:
    """Answers at once again, keeping the record (``sandbox_reset`` would clear it)."""
    resp = urllib3.PoolManager().request("POST", base + "/_sandbox/config", json={"latencyMs": 0})
    assert resp.status == 200
