"""kill -9 of a worker mid-batch and of the engine mid-campaign: the campaign still ends, no
contact is sent twice (the sandbox's record shows it) and every row has a final status."""

from __future__ import annotations

import pytest

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

CONTACTS = 500
LEASE_S = 4


@pytest.fixture(scope="module")
def crash_stack(process_env, tmp_path_factory, broker):
    started = make_stack(process_env, tmp_path_factory.mktemp("crash"), BATCH_LEASE_S=str(LEASE_S))
    yield started
    started.stop()


def _check_outcome(stack, campaign_id: int, killed_at: float) -> dict:
    by_status = check_exactly_once(stack.sandbox, campaign_id, CONTACTS, {"sent", "unknown"})
    sent, unknown = by_status.get("sent", []), by_status.get("unknown", [])
    found = kill_unknowns(stack.sandbox, by_status, killed_at)
    print(found)
    assert_kill_unknowns_honest(found)
    return {
        "sent": len(sent),
        "unknown": len(unknown),
        "accepted": sandbox_count(stack.sandbox),
        "lost": found.lost,
        "lost_received": found.received,
        "lost_answered": found.answered,
    }


def _run_and_crash(client, account, stack, name: str, victim: str) -> dict:
    sandbox_reset(stack.sandbox)
    setup = setup_company(client, account, stack.sandbox, name, messageInterval=0.01, jitter=0)
    acct = setup["account"]
    list_id = make_list(acct.company_id, CONTACTS)
    campaign_id = start_campaign(client, acct, list_id, setup["whatsapp_id"])
    wait_for(lambda: sandbox_count(stack.sandbox) >= 150, timeout_s=60, what="150 sends")
    killed_at = kill9(stack.procs[victim])
    at_kill = sandbox_count(stack.sandbox)
    stack.start(victim)
    wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=120)
    outcome = _check_outcome(stack, campaign_id, killed_at)
    assert outcome["accepted"] > at_kill  # it carried on after the crash
    return outcome


def test_worker_killed_mid_batch(client, account, crash_stack):
    outcome = _run_and_crash(client, account, crash_stack, "wkill", "worker")
    # Only what was on the wire at the kill is unknown: at most one row per worker thread. The
    # rows the dead worker had sent are recorded sent from its progress, the rows it had not
    # reached are sent by the new worker.
    assert outcome["unknown"] <= 8
    assert outcome["sent"] + outcome["unknown"] == CONTACTS


def test_engine_killed_mid_campaign(client, account, crash_stack):
    outcome = _run_and_crash(client, account, crash_stack, "ekill", "engine")
    # The workers were not touched: nothing is left unknown.
    assert outcome["unknown"] == 0 and outcome["sent"] == CONTACTS
