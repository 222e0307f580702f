"""The connection's breaker through the real processes: a sandbox answering only 5xx opens it,
nothing more is planned on the connection and the campaign's report says why; the sandbox
healthy again, one probe batch closes it and the campaign completes, each contact sent once."""

from __future__ import annotations

from tests.actors.campaigns import (
    make_list,
    sandbox_messages,
    sandbox_reset,
    setup_company,
    start_campaign,
    wait_status,
)
from tests.actors.conftest import make_stack
from tests.processes import wait_for


def test_a_failing_connection_is_held_then_probed_and_the_campaign_completes(
    client, account, process_env, tmp_path, broker
):
    stack = make_stack(
        process_env, tmp_path, WHATSAPP_BREAKER_MIN_CALLS="5", WHATSAPP_BREAKER_OPEN_S="2"
    )
    try:
        sandbox_reset(stack.sandbox, rate5xx=1.0)
        setup = setup_company(client, account, stack.sandbox, "brk")
        acct, whatsapp_id = setup["account"], setup["whatsapp_id"]
        campaign_id = start_campaign(client, acct, make_list(acct.company_id, 10), whatsapp_id)

        def report() -> dict:
            url = f"/campaigns/{campaign_id}/report"
            return client.simulate_get(url, headers=acct.headers).json

        wait_for(
            lambda: (report()["waitingBecause"] or "").startswith("connection failing"),
            timeout_s=15,
            what="the report saying the connection fails",
        )
        # With the last error the connection's sends met (the provider's 5xx reason).
        assert report()["waitingBecause"].startswith("connection failing: ")
        assert len(report()["waitingBecause"]) > len("connection failing: ")
        breakers = client.simulate_get("/breakers", headers=acct.headers).json
        [wa] = [b for b in breakers if (b["name"], b["id"]) == ("whatsapp", whatsapp_id)]
        assert wa["state"] in ("open", "half_open")
        assert wa["failures"] >= 5 and wa["lastError"]

        sandbox_reset(stack.sandbox)  # healthy again (and its record emptied)
        done = wait_status(client, acct, campaign_id, "FINALIZADA", timeout_s=30)
        assert done["counts"]["sent"] == 10
        numbers = [m["to"] for m in sandbox_messages(stack.sandbox)]
        assert len(numbers) == len(set(numbers)) == 10
        breakers = client.simulate_get("/breakers", headers=acct.headers).json
        [wa] = [b for b in breakers if (b["name"], b["id"]) == ("whatsapp", whatsapp_id)]
        assert wa["state"] == "closed"
    finally:
        stack.stop()
