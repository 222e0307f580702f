"""Unpaced batches send up to 8 requests at once (``zapx.campaigns.window``): measured at the
sandbox's record, with latency so that 8 are truly on the wire together.

- a pause lets through at most the requests already in flight (8 a batch), each recorded sent;
- a ``kill -9`` of the worker leaves ``unknown`` only rows granted and not answered (at most 8 a
  batch); the rows it had not reached are sent once after the restart;
- the provider cap and the recipient pair rule hold at the sandbox under that overlap.
"""

from __future__ import annotations

import collections
import time

import pytest

from tests.actors.campaigns import (
    assert_kill_unknowns_honest,
    check_exactly_once,
    kill9,
    kill_unknowns,
    make_list,
    sandbox_count,
    sandbox_messages,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.actors.conftest import make_stack
from tests.processes import wait_for
from zapx.campaigns.window import MAX_IN_FLIGHT
from zapx.db import CampaignShipping, WhatsappConnection, db

LEASE_S = 4
#: A stamp may lag its grant by the worker's render and the request (unpaced: no token), s.
LIMIT_TOLERANCE_S = 0.05


@pytest.fixture(scope="module")
def window_stack(process_env, tmp_path_factory, broker):
    started = make_stack(
        process_env, tmp_path_factory.mktemp("window"), BATCH_LEASE_S=str(LEASE_S), record=True
    )
    yield started
    started.stop()


def _rows(campaign_id: int) -> list[CampaignShipping]:
    with db.connection_context():
        return list(CampaignShipping.select().where(CampaignShipping.campaign == campaign_id))


def _command(client, acct, campaign_id: int, name: str) -> None:
    resp = client.simulate_post(f"/campaigns/{campaign_id}/{name}", headers=acct.headers)
    assert resp.status_code == 204, resp.text


def _set_cap(whatsapp_id: int, cap: int) -> None:
    with db.connection_context(), db.atomic():
        connection = WhatsappConnection.get_by_id(whatsapp_id)
        connection.settings = {**connection.settings, "messagesPerSecond": cap}
        connection.save()


def test_a_pause_with_8_in_flight_lets_only_those_through(client, account, window_stack):
    stack = window_stack
    sandbox_reset(stack.sandbox, latencyMs=300)
    setup = setup_company(client, account, stack.sandbox, "wpause")
    acct = setup["account"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, 400), setup["whatsapp_id"]
    )
    wait_for(lambda: sandbox_count(stack.sandbox) >= 40, timeout_s=30, what="40 sends")
    _command(client, acct, campaign_id, "pause")
    paused_at = time.time()
    time.sleep(1.5)  # the requests in flight (300 ms) are answered and recorded
    settled = sandbox_count(stack.sandbox)
    time.sleep(1.0)
    assert sandbox_count(stack.sandbox) == settled  # nothing after the requests in flight
    wait_for(
        lambda: not any(r.status in ("sending", "queued") for r in _rows(campaign_id)),
        timeout_s=20,
        what="the batches recorded",
    )
    rows = {r.number: r for r in _rows(campaign_id)}
    messages = sandbox_messages(stack.sandbox)
    # Received after the pause, or received before it and answered after (on the wire then).
    after = [m for m in messages if m["ts"] > paused_at]
    on_wire = [m for m in messages if m["ts"] <= paused_at < m["answeredTs"]]
    by_batch = collections.Counter(rows[m["to"]].batch_id for m in after + on_wire)
    print(
        f"after the pause: {len(after)} received, {len(on_wire)} on the wire at the pause; "
        f"by batch {dict(by_batch)}"
    )
    assert all(n <= MAX_IN_FLIGHT for n in by_batch.values()), by_batch
    assert len(on_wire) > len(by_batch)  # overlap: more than one request a batch on the wire
    assert all(rows[m["to"]].status == "sent" for m in after + on_wire)  # each recorded
    assert sum(1 for r in rows.values() if r.status == "sent") == settled
    sandbox_reset(stack.sandbox)
    _command(client, acct, campaign_id, "resume")
    wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    sent = [r for r in _rows(campaign_id) if r.status == "sent"]
    assert len(sent) == 400
    # Resumed, the rows not sent before the pause were sent once each (the sandbox was reset).
    assert sandbox_count(stack.sandbox) == 400 - settled


def test_a_kill_9_with_requests_in_flight_leaves_only_those_unknown(client, account, window_stack):
    stack = window_stack
    contacts = 600
    sandbox_reset(stack.sandbox, latencyMs=200)
    setup = setup_company(client, account, stack.sandbox, "wkill")
    acct = setup["account"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, contacts), setup["whatsapp_id"]
    )
    wait_for(lambda: sandbox_count(stack.sandbox) >= 150, timeout_s=60, what="150 sends")
    killed_at = kill9(stack.procs["worker"])
    at_kill = sandbox_count(stack.sandbox)
    stack.start("worker")
    wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=120)
    by_status = check_exactly_once(stack.sandbox, campaign_id, contacts, {"sent", "unknown"})
    unknown = by_status.get("unknown", [])
    found = kill_unknowns(stack.sandbox, by_status, killed_at)
    print(found, f"at the kill the sandbox had {at_kill}")
    assert_kill_unknowns_honest(found)
    assert found.lost == len(unknown) >= 1  # the kill landed with requests on the wire
    per_batch = collections.Counter(r.batch_id for r in unknown)
    assert all(n <= MAX_IN_FLIGHT for n in per_batch.values()), per_batch
    assert len(by_status["sent"]) + len(unknown) == contacts


def test_the_provider_cap_and_the_pair_rule_hold_at_the_sandbox_under_overlap(
    client, account, window_stack
):
    """Two campaigns to the same 40 numbers on one connection capped at 20/s, 400 ms latency
    (about 8 requests on the wire): any 21 arrivals span a second, and each number's two
    messages arrive 6 s apart or more."""
    stack, cap, contacts = window_stack, 20, 40
    sandbox_reset(stack.sandbox, latencyMs=400)
    setup = setup_company(client, account, stack.sandbox, "wcap")
    acct, whatsapp_id = setup["account"], setup["whatsapp_id"]
    _set_cap(whatsapp_id, cap)
    one = start_campaign(client, acct, make_list(acct.company_id, contacts, "a"), whatsapp_id)
    two = start_campaign(client, acct, make_list(acct.company_id, contacts, "b"), whatsapp_id)
    for campaign_id in (one, two):
        report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=90)
        assert report["counts"]["sent"] == contacts
    messages = sandbox_messages(stack.sandbox)
    assert len(messages) == 2 * contacts
    stamps = sorted(m["ts"] for m in messages)
    spans = [stamps[i + cap] - stamps[i] for i in range(len(stamps) - cap)]
    assert min(spans) >= 1.0 - LIMIT_TOLERANCE_S, [round(s, 3) for s in spans]
    by_number = collections.defaultdict(list)
    for m in messages:
        by_number[m["to"]].append(m["ts"])
    assert all(len(ts) == 2 for ts in by_number.values())
    pair_gaps = [abs(a - b) for a, b in by_number.values()]
    assert min(pair_gaps) >= 6.0 - LIMIT_TOLERANCE_S, sorted(pair_gaps)[:5]
    overlap = max(sum(1 for m in messages if m["ts"] <= t < m["answeredTs"]) for t in stamps)
    print(f"most on the wire at once: {overlap}; shortest span of {cap + 1}: {min(spans):.3f} s")
    assert overlap >= 4  # the sends did overlap
