"""Chaos: a campaign under injected 429s, 5xx, timeouts and a worker killed mid-campaign.

Whatever happens, no contact gets the message twice, every row ends with a final status, every
message the sandbox accepted is recorded (sent, with its id) or honestly ``unknown``, and only
what was on the wire at a fault is ``unknown``. The short run is in the default suite, the long
one (20,000 contacts, about 5 minutes) under ``-m slow``.
"""

from __future__ import annotations

import collections

import pytest
import urllib3

from tests.actors.campaigns import (
    assert_kill_unknowns_honest,
    check_exactly_once,
    kill9,
    kill_unknowns,
    make_list,
    sandbox_count,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.actors.conftest import make_stack
from tests.processes import wait_for
from zapx.campaigns.batches import LOST_MID_SEND
from zapx.campaigns.window import MAX_IN_FLIGHT

FAULTS = {"rate429": 0.03, "rate5xx": 0.05, "rateTimeout": 0.005, "timeoutS": 0.5}
THREADS = 8  # the stack's worker


@pytest.fixture(scope="module")
def chaos_stack(process_env, tmp_path_factory, broker):
    started = make_stack(process_env, tmp_path_factory.mktemp("chaos"), BATCH_LEASE_S="4")
    yield started
    started.stop()


def _injected(base: str) -> dict:
    return urllib3.PoolManager().request("GET", base + "/_sandbox/stats").json()["injected"]


def _run(client, account, stack, contacts: int) -> None:
    sandbox_reset(stack.sandbox, **FAULTS)
    setup = setup_company(client, account, stack.sandbox, f"chaos{contacts}")
    acct = setup["account"]
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, contacts), setup["whatsapp_id"]
    )
    wait_for(lambda: sandbox_count(stack.sandbox) >= contacts // 3, timeout_s=120, what="a third")
    killed_at = kill9(stack.procs["worker"])
    stack.start("worker")
    report = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=300)

    by_status = check_exactly_once(
        stack.sandbox, campaign_id, contacts, {"sent", "failed", "unknown"}
    )
    unknown = by_status.get("unknown", [])
    assert all(r.error for r in by_status.get("failed", []) + unknown)
    # Unknown: a timed-out request (the answer never came), or a row the killed worker had on
    # the wire: an unpaced batch has up to MAX_IN_FLIGHT requests in flight, and each of its 8
    # threads runs one batch. Retries of 5xx and 429 never make a row unknown.
    injected = _injected(stack.sandbox)
    reasons = collections.Counter(r.error for r in unknown)
    lost = [r for r in unknown if r.error == LOST_MID_SEND]
    per_batch = collections.Counter(r.batch_id for r in lost)
    assert len(per_batch) <= THREADS and max(per_batch.values(), default=0) <= MAX_IN_FLIGHT
    assert len(unknown) - len(lost) <= injected["timeout"], (len(unknown), injected, reasons)
    assert injected["5xx"] > 0 and injected["429"] > 0  # the faults did happen
    assert report["counts"]["sent"] == len(by_status.get("sent", []))
    found = kill_unknowns(stack.sandbox, by_status, killed_at)
    print(found)
    assert_kill_unknowns_honest(found)


# One full-suite run in 13 once ended with 58 rows unknown (a whole batch of 50 + 8), most
# likely a worker killed between its claim and its first progress mark; the mark now comes
# before the claim, and 5 full-suite runs in a row have passed since.
def test_chaos_short(client, account, chaos_stack):
    _run(client, account, chaos_stack, 500)


# About 5 minutes (4 min 49 s, then 5 min), so more than the suite's 300 s per test.
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_chaos_long(client, account, chaos_stack):
    _run(client, account, chaos_stack, 20_000)
