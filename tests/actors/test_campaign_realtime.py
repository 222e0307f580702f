"""Campaign progress on the frontend's sockets, through the real processes: API -> engine ->
worker -> sandbox, and the engine's events -> Redis -> ``zapx realtime`` -> each company's
browsers, never another company's."""

from __future__ import annotations

import pytest

from tests.actors.campaigns import make_list, sandbox_reset, setup_company, start_campaign
from tests.realtime import Listener, start_server

CONTACTS = 60  # batches of 1 (a campaign's first), 50 and 9


@pytest.fixture(scope="module")
def server(process_env, tmp_path_factory):
    proc, base = start_server(process_env, tmp_path_factory.mktemp("realtime"))
    yield base
    proc.stop()


def _listener(server, account) -> Listener:
    return Listener(server, account.headers["Authorization"].split()[1]).connect()


def test_each_company_sees_its_own_campaign_progress_and_never_the_other(
    client, account, stack, server
):
    # 40 ms a message: a batch of 50 takes 2 s, so progress is seen between start and end
    sandbox_reset(stack.sandbox, latencyMs=40)
    companies = []
    for name, prefix in (("acme", "55119"), ("globex", "55219")):
        setup = setup_company(client, account, stack.sandbox, name)
        acct = setup["account"]
        companies.append(
            {
                "account": acct,
                "list_id": make_list(acct.company_id, CONTACTS, prefix=prefix),
                "whatsapp_id": setup["whatsapp_id"],
                "listener": _listener(server, acct),
            }
        )
    for c in companies:
        c["campaign_id"] = start_campaign(client, c["account"], c["list_id"], c["whatsapp_id"])

    for c in companies:
        own = f"company-{c['account'].company_id}-campaign"
        done = c["listener"].wait(
            own, lambda d: d["record"]["status"] == "FINALIZADA", timeout_s=120
        )
        assert done["record"]["report"]["sent"] == CONTACTS
        assert done["record"]["completedAt"] is not None
        assert done["record"]["whatsapp"] == {"id": c["whatsapp_id"], "name": "sb"}
        records = [d["record"] for d in c["listener"].named(own)]
        assert {r["id"] for r in records} == {c["campaign_id"]}
        statuses = [r["status"] for r in records]
        assert statuses[0] == "PROGRAMADA"  # the API's create
        assert "EM_ANDAMENTO" in statuses  # the engine's start
        # progress between start and end, never going back; at most one event per batch
        sent = [r["report"]["sent"] for r in records]
        assert sent == sorted(sent), sent
        assert any(0 < n < CONTACTS for n in sent), sent
        assert len(records) <= 8, statuses
        print(c["account"].company_id, list(zip(statuses, sent, strict=True)))

    # a barrier each: an event of its own company, published after the other's last
    for c in companies:
        acct = c["account"]
        client.simulate_post("/contact-lists", json={"name": "barrier"}, headers=acct.headers)
        c["listener"].wait(f"company-{acct.company_id}-ContactList")
    for c, other in zip(companies, companies[::-1], strict=True):
        theirs = f"company-{other['account'].company_id}-"
        names = c["listener"].names()
        assert not [n for n in names if n.startswith(theirs)], names
        c["listener"].close()
