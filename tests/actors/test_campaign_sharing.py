"""Campaigns sharing one connection, measured where the messages arrive (the sandbox's record,
stamped when each request arrives): a second campaign on a busy connection is served at once and
both progress in turns; the long pause holds across them; a paced campaign finishes when its
last message is reported, not a slot later."""

from __future__ import annotations

import datetime
import time

import pytest

from tests.actors.campaigns import (
    make_list,
    sandbox_messages,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.conftest import TEST_BATCH_SIZE
from tests.processes import wait_for
from zapx.db import WhatsappConnection, db
from zapx.db.campaign_models import Campaign

#: Arrival stamps carry loopback and scheduling noise of a few ms on a loaded 2-core machine;
#: far below the gaps checked (>= 70 ms).
TOLERANCE_S = 0.01
#: One planning round: the slots already promised within the throttle's horizon (2 s), plus
#: the API's hop to the engine and a worker's queue poll.
ROUND_S = 3.5


def _arrivals(base: str, *prefixes: str) -> list[tuple[float, str]]:
    """(arrival time, recipient) of every message to these test's numbers, in arrival order (a
    campaign of an earlier test that failed may still be sending)."""
    return sorted(
        (m["ts"], m["to"]) for m in sandbox_messages(base) if m["to"].startswith(prefixes)
    )


def _sharing(
    client,
    account,
    stack,
    size_a: int,
    size_b: int,
    interval: float,
    jitter: float,
    cap: int | None = None,
    pa: str = "55111",
    pb: str = "55112",
):
    """Campaign A on a connection, B started on it after 15 sends; ``cap`` the connection's
    messagesPerSecond (None: the sandbox's); ``pa``, ``pb`` their numbers' prefixes."""
    sandbox_reset(stack.sandbox)
    setup = setup_company(
        client, account, stack.sandbox, "share", messageInterval=interval, jitter=jitter
    )
    acct, whatsapp_id = setup["account"], setup["whatsapp_id"]
    if cap is not None:
        with db.connection_context(), db.atomic():
            connection = WhatsappConnection.get_by_id(whatsapp_id)
            connection.settings = {**connection.settings, "messagesPerSecond": cap}
            connection.save()
    min_gap = max(interval * (1 - jitter), 1 / cap if cap else 0.0)
    list_a = make_list(acct.company_id, size_a, name="a", prefix=pa)
    list_b = make_list(acct.company_id, size_b, name="b", prefix=pb)
    one = start_campaign(client, acct, list_a, whatsapp_id)
    wait_for(lambda: len(_arrivals(stack.sandbox, pa)) >= 15, timeout_s=30, what="15 sends")
    started_b = time.time()
    two = start_campaign(client, acct, list_b, whatsapp_id)
    wait_status(client, acct, two, "FINALIZADA", timeout_s=120)
    wait_status(client, acct, one, "FINALIZADA", timeout_s=120)
    stamps = _arrivals(stack.sandbox, pa, pb)
    assert len(stamps) == size_a + size_b

    b_times = [ts for ts, to in stamps if to.startswith(pb)]
    assert b_times[0] - started_b <= ROUND_S, "the second campaign's first message waited"
    # Over the window both campaigns share, each gets its share: within one batch (the slots of
    # one planning horizon, 2 s) of the other.
    a_times = [ts for ts, to in stamps if to.startswith(pa)]
    end = min(a_times[-1], b_times[-1])
    shared = [(ts, to) for ts, to in stamps if b_times[0] <= ts <= end]
    one_batch = min(TEST_BATCH_SIZE, int(2.0 / min_gap) + 1)  # or the slots of a 2 s horizon
    # They alternate: over the shared window their counts end within a batch of each other,
    # and at no point is one more than two batches ahead (the horizon already promised to A
    # when B arrived, then at most one batch per turn).
    lead = [0]
    for _, to in shared:
        lead.append(lead[-1] + (1 if to.startswith(pa) else -1))
    assert abs(lead[-1]) <= one_batch + 1, (lead[-1], one_batch)
    assert max(abs(x) for x in lead) <= 2 * one_batch, (max(lead), min(lead), one_batch)
    assert len(shared) - (lead[-1] + len(shared)) // 2 >= size_b - 1, "B sent while A ran"
    if cap is None:
        gaps = [b - a for (a, _), (b, _) in zip(stamps, stamps[1:], strict=False)]
        short = [
            (i, round(g, 4), stamps[i][1][:5], stamps[i + 1][1][:5])
            for i, g in enumerate(gaps)
            if g < min_gap - TOLERANCE_S
        ]
        assert not short, short
    else:  # a cap is no gap: at most `cap` arrivals in any second (less the arrival noise)
        times = [ts for ts, _ in stamps]
        for i, t in enumerate(times):
            inside = sum(1 for u in times[i : i + cap + 1] if u < t + 1.0 - TOLERANCE_S)
            assert inside <= cap, (i, inside)


def test_a_second_campaign_on_a_busy_connection_is_served_at_once_and_shares(
    client, account, stack
):
    _sharing(client, account, stack, size_a=90, size_b=40, interval=0.1, jitter=0.3)


def test_a_second_campaign_on_a_capped_busy_connection_is_not_starved(client, account, stack):
    _sharing(client, account, stack, 200, 50, interval=0, jitter=0, cap=25, pa="55121", pb="55122")


@pytest.mark.slow
def test_two_long_campaigns_share_one_connection_fairly(client, account, stack):
    _sharing(client, account, stack, 400, 200, interval=0.1, jitter=0.3, pa="55131", pb="55132")


def _long_pause(
    client, account, stack, size_a, size_b, every: int, pause: float, pa="55113", pb="55114"
):
    sandbox_reset(stack.sandbox)
    interval = 0.1
    setup = setup_company(
        client,
        account,
        stack.sandbox,
        "pause",
        messageInterval=interval,
        jitter=0,
        longerIntervalAfter=every,
        greaterInterval=pause,
    )
    acct, whatsapp_id = setup["account"], setup["whatsapp_id"]
    list_a = make_list(acct.company_id, size_a, name="a", prefix=pa)
    list_b = make_list(acct.company_id, size_b, name="b", prefix=pb)
    one = start_campaign(client, acct, list_a, whatsapp_id)
    # Mid-run, right after a few sends, when the pause is promised but not yet taken.
    wait_for(lambda: len(_arrivals(stack.sandbox, pa)) >= every - 1, timeout_s=30, what="sends")
    two = start_campaign(client, acct, list_b, whatsapp_id)
    wait_status(client, acct, two, "FINALIZADA", timeout_s=120)
    wait_status(client, acct, one, "FINALIZADA", timeout_s=120)
    stamps = [ts for ts, _ in _arrivals(stack.sandbox, pa, pb)]
    assert len(stamps) == size_a + size_b
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    # Every run of `every` consecutive sends on the connection is followed by the pause:
    # among any `every` consecutive gaps, one is at least greaterInterval.
    for i in range(len(gaps) - every + 1):
        window = gaps[i : i + every]
        assert max(window) >= pause - TOLERANCE_S, (i, [round(g, 3) for g in window])
    assert min(gaps) >= interval - TOLERANCE_S


def test_the_long_pause_holds_when_a_second_campaign_starts_mid_run(client, account, stack):
    _long_pause(client, account, stack, size_a=20, size_b=10, every=5, pause=0.8)


@pytest.mark.slow
def test_the_long_pause_holds_over_long_shared_runs(client, account, stack):
    _long_pause(client, account, stack, 80, 40, every=7, pause=1.0, pa="55141", pb="55142")


def test_a_paced_campaign_is_finished_when_its_last_message_reports(client, account, stack):
    sandbox_reset(stack.sandbox)
    interval = 2.5  # beyond the throttle's 2 s horizon: the next slot is never planned early
    setup = setup_company(client, account, stack.sandbox, "fin", messageInterval=interval, jitter=0)
    acct = setup["account"]
    list_id = make_list(acct.company_id, 2, prefix="55115")
    campaign_id = start_campaign(client, acct, list_id, setup["whatsapp_id"])
    wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=60)
    stamps = [ts for ts, _ in _arrivals(stack.sandbox, "55115")]
    assert len(stamps) == 2 and stamps[1] - stamps[0] >= interval - TOLERANCE_S
    with db.connection_context():
        completed = Campaign.get_by_id(campaign_id).completed_at
    completed_ts = completed.replace(tzinfo=completed.tzinfo or datetime.UTC).timestamp()
    assert completed_ts - stamps[-1] <= 1.0, completed_ts - stamps[-1]
