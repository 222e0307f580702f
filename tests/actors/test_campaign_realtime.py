"""Campaign progress on the frontend's sockets, through the real processes: API -> engine ->
worker -> sandbox, and the engine's events -> Redis -> ``zapx realtime`` -> each company's
browsers, never another company's."""

from __future__ import annotations

import pytest

from tests.actors.campaigns import make_list, sandbox_reset, setup_company, start_campaign
from tests.actors.conftest import make_stack
from tests.realtime import Listener, start_server
from zapx.engine.lifecycle import PROGRESS_MIN_S

CONTACTS = 60
BATCH_SIZE = 5  # a first batch of 1, then 12 of 5: 13 batch reports per campaign


@pytest.fixture(scope="module")
def stack(process_env, tmp_path_factory, broker):
    started = make_stack(process_env, tmp_path_factory.mktemp("stack"), BATCH_SIZE=str(BATCH_SIZE))
    yield started
    started.stop()


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
    # 150 ms a message: a batch of 5 takes 0.75 s, the 26 batches on the worker's 8 threads
    # about 2.5 s, so progress shows between start and end, and the batches outnumber seconds
    sandbox_reset(stack.sandbox, latencyMs=150)
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
        assert done["record"]["successRate"] == 100  # the report page's status line reads it
        assert done["record"]["completedAt"] is not None
        assert done["record"]["whatsapp"] == {"id": c["whatsapp_id"], "name": "sb"}
        timed = c["listener"].timed(own)
        records = [d["record"] for _, d in timed]
        assert {r["id"] for r in records} == {c["campaign_id"]}
        statuses = [r["status"] for r in records]
        assert statuses[0] == "PROGRAMADA"  # the API's create
        assert "EM_ANDAMENTO" in statuses  # the engine's start
        sent = [r["report"]["sent"] for r in records]
        print(c["account"].company_id, list(zip(statuses, sent, strict=True)))
        # progress between start and end, never going back
        assert sent == sorted(sent), sent
        assert any(0 < n < CONTACTS for n in sent), sent
        rates = [r["successRate"] for r in records]
        assert rates == [
            round(n * 100 / CONTACTS, 2) if r["report"]["total"] else 0
            for n, r in zip(sent, records, strict=True)
        ], rates
        # Snapshotted and small: the arrays the report page counts come with each record, and
        # count what the report counts (CONTACTS <= RECORD_ARRAYS_MAX).
        for r in records:
            if not r["report"]["sent"]:  # nothing counted yet: the page's counters are 0
                assert "shipping" not in r
                continue
            delivered = [s for s in r["shipping"] if s["deliveredAt"] is not None]
            # read just after the report: a batch may have reported in between
            assert r["report"]["sent"] <= len(delivered) <= CONTACTS, r["report"]
            assert len(r["contactList"]["contacts"]) == CONTACTS
        # at most one progress event a second, not one per batch (13 reported)
        progress = [t for (t, d) in timed if d["record"]["status"] == "EM_ANDAMENTO"]
        running_s = timed[-1][0] - progress[0]
        assert len(progress) - 1 <= running_s / PROGRESS_MIN_S + 1, (running_s, statuses)
        assert len(progress) < CONTACTS // BATCH_SIZE

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
