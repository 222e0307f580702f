"""The concurrent loop (``zapx.campaigns.window``) in this process, against the real Redis and a
real ``zapx sandbox``: the Redis commands it costs per message, the requests it keeps in flight
at the sandbox, a pause mid-batch, and that paced batches and fake providers keep the serial
loop."""

from __future__ import annotations

import collections
import random
import threading
import time

import pytest
import urllib3
from redis.connection import AbstractConnection

from tests.processes import sandbox_on_a_port
from zapx import rate_limits
from zapx.campaigns import batches, flags, priority
from zapx.campaigns.context import CampaignContext
from zapx.campaigns.pacing import PacingSettings
from zapx.campaigns.templates import Template
from zapx.campaigns.window import MAX_IN_FLIGHT, WindowSender, concurrent_capable
from zapx.outbound import Outbound, parse_allowed
from zapx.providers import CloudProvider
from zapx.redis import Keys, get_redis
from zapx.schedule import SendGate

OUTBOUND = Outbound(allowed=parse_allowed("127.0.0.1"))


@pytest.fixture(scope="module")
def sandbox(process_env, tmp_path_factory):
    with sandbox_on_a_port(process_env, tmp_path_factory.mktemp("sandbox")) as port:
        yield f"http://127.0.0.1:{port}"


def _sandbox(base: str, **faults) -> None:
    http = urllib3.PoolManager()
    http.request("POST", base + "/_sandbox/reset")
    assert http.request("POST", base + "/_sandbox/config", json=faults).status == 200


def _messages(base: str) -> list[dict]:
    page = urllib3.PoolManager().request("GET", f"{base}/_sandbox/messages?after=0&limit=100000")
    return page.json()["messages"]


@pytest.fixture
def env(redis_url, redis_prefix, monkeypatch):
    """``(client, keys, gate, company_id)``; rate limits off (no database)."""
    monkeypatch.setattr(rate_limits, "limits_for", lambda company_id: ())
    client = get_redis(redis_url)
    keys = Keys(redis_prefix + "window:")
    company = random.randrange(10**6)
    yield client, keys, SendGate(client, keys), company
    found = list(client.scan_iter(match=f"{keys.prefix}{{c{company}}}*", count=10_000))
    if found:
        client.delete(*found)


def _row(i: int) -> batches.Row:
    return batches.Row(i, i, f"55119{i:08d}", f"n{i}", "", "", "", "", [], 0, 0, False)


def _sender(env, base: str, rows: int, batch_id: int = 1, pacing=None, provider=None):
    client, keys, gate, company = env
    claim = batches.Claim(
        batch_id, 3, company, 2, 1, [], [_row(batch_id * 1000 + i) for i in range(rows)]
    )
    client.set(flags.run_key(keys, company, 3), 1)
    ctx = CampaignContext(
        campaign_id=3,
        company_id=company,
        messages=(Template("Olá {nome}"),),
        confirmations=(Template("oi"),),
        confirmation=False,
        variables={},
        provider=provider or CloudProvider({"baseUrl": base, "accessToken": "t"}, OUTBOUND),
        media_url=None,
        media_type=None,
        media_name=None,
        pacing=pacing or PacingSettings(message_interval_s=0, jitter=0, max_per_s=100_000),
    )
    return WindowSender(
        claim,
        ctx,
        redis=client,
        keys=keys,
        gate=gate,
        deadline=time.monotonic() + 60,
        progress_ttl_s=60,
    )


@pytest.fixture
def commands(monkeypatch):
    """Every Redis command this process writes, by name (scripts, pushes, pipelines alike)."""
    seen: collections.Counter = collections.Counter()
    send, pack_many = AbstractConnection.send_command, AbstractConnection.pack_commands

    def counted(self, *args, **kwargs):
        seen[str(args[0]).upper()] += 1
        return send(self, *args, **kwargs)

    def counted_many(self, many):
        many = list(many)
        for command in many:
            seen[str(command[0]).upper()] += 1
        return pack_many(self, many)

    monkeypatch.setattr(AbstractConnection, "send_command", counted)
    monkeypatch.setattr(AbstractConnection, "pack_commands", counted_many)
    return seen


def test_an_unpaced_batch_costs_under_half_a_redis_command_a_message(env, sandbox, commands):
    """Four batches of 50 (the engine's batch size) at 20 ms latency: gate calls (the only
    round trips waited for) and outcome pushes (written, the reply read later) counted at the
    client's connection."""
    _sandbox(sandbox, latencyMs=20)
    sent = 0
    for b in range(1, 5):
        report, outcomes = _sender(env, sandbox, 50, batch_id=b).run()
        assert report.stop is None and report.sent == 50
        sent += report.sent
    waited = commands["EVALSHA"] + commands["EVAL"]
    total = sum(commands.values())
    print(
        f"redis per message: {waited / sent:.3f} gate calls, {total / sent:.3f} commands", commands
    )
    assert waited / sent <= 0.3
    assert total / sent <= 0.5
    assert len({m["to"] for m in _messages(sandbox)}) == sent


def test_at_most_8_requests_are_in_flight_at_the_sandbox(env, sandbox):
    """At 100 ms latency the batch keeps the window full: at the sandbox, never more than 8
    received and not yet answered, and about 8 at once most of the time."""
    _sandbox(sandbox, latencyMs=100)
    began = time.monotonic()
    report, outcomes = _sender(env, sandbox, 80).run()
    took = time.monotonic() - began
    assert report.sent == 80 and {o.status for o in outcomes} == {"sent"}
    events = []
    for m in _messages(sandbox):
        events += [(m["ts"], 1), (m["answeredTs"], -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # an answer before an arrival at one instant
    level, peak = 0, 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert peak <= MAX_IN_FLIGHT
    assert peak >= MAX_IN_FLIGHT - 1
    assert took < 80 * 0.1 / 3  # serially it would take 8 s; refilled at half, about 1.5 s


def test_a_pause_mid_batch_lets_at_most_the_requests_in_flight_through(env, sandbox):
    """The run flag changes while 8 are in flight (300 ms latency): at most 8 messages reach the
    sandbox after it, each recorded sent; the rows after them are not started."""
    client, keys, _, company = env
    _sandbox(sandbox, latencyMs=300)
    sender = _sender(env, sandbox, 50)
    paused_at = []

    def pause():
        time.sleep(1.0)
        client.set(flags.run_key(keys, company, 3), 2)  # another generation: Stopped
        paused_at.append(time.time())

    threading.Thread(target=pause).start()
    report, outcomes = sender.run()
    assert report.stop == "stopped"
    received = _messages(sandbox)
    after = [m for m in received if m["ts"] > paused_at[0]]
    assert len(after) <= MAX_IN_FLIGHT
    sent = {o.row_id for o in outcomes if o.status == "sent"}
    numbers = {r.number: r.id for r in sender.claim.rows}
    assert {numbers[m["to"]] for m in received} == sent  # every arrival recorded sent
    started = int(client.get(flags.progress_keys(keys, company, 1)[0]))
    assert started == len(sent) == len(outcomes)  # nothing started without an outcome
    assert 8 <= started < 50


def test_paced_batches_and_fake_providers_keep_the_serial_loop(env, sandbox, monkeypatch):
    class Fake:
        def send(self, message):
            raise AssertionError("not called")

    assert not concurrent_capable(Fake())
    assert concurrent_capable(CloudProvider({"baseUrl": sandbox}, OUTBOUND))
    serial = []
    monkeypatch.setattr(
        "zapx.campaigns.sending.BatchSender._rows", lambda self: serial.append(1) or (None, None)
    )
    _sender(env, sandbox, 3, provider=Fake()).run()
    paced = PacingSettings(message_interval_s=0.01, jitter=0)
    _sender(env, sandbox, 3, pacing=paced).run()
    assert serial == [1, 1]


def test_a_bulk_batch_holds_while_a_burst_of_first_batches_is_pending(env, sandbox):
    """The burst's counter goes up mid-batch (100 ms latency): after the batch's next read of it
    (every ``CHECK_S``) and the requests then on the wire, nothing reaches the sandbox until the
    burst's batches are taken off; then the rest is sent, every row once."""
    client, keys, _, _ = env
    _sandbox(sandbox, latencyMs=100)
    sender = _sender(env, sandbox, 120)
    sender.yields = True
    marks = {}

    def burst():
        time.sleep(0.5)
        marks["held"] = time.time()
        priority.firsts_enqueued(client, keys, 300)
        time.sleep(1.5)
        marks["released"] = time.time()
        assert priority.firsts_done(client, keys, 300) == 0
        assert client.exists(priority.key(keys)) == 0

    thread = threading.Thread(target=burst)
    thread.start()
    report, outcomes = sender.run()
    thread.join()
    assert report.stop is None and report.sent == 120
    arrivals = sorted(m["ts"] for m in _messages(sandbox))
    assert len(arrivals) == 120 and len({m["to"] for m in _messages(sandbox)}) == 120
    quiet_from = marks["held"] + priority.CHECK_S + 0.1 + 0.15  # a read, a latency, a margin
    during = [t for t in arrivals if quiet_from < t < marks["released"]]
    assert during == []
    assert any(t < marks["held"] for t in arrivals)  # it was sending before
    assert any(t > marks["released"] for t in arrivals)


def test_a_first_batch_never_holds_and_a_held_batch_stops_on_a_pause(env, sandbox):
    """With the burst pending: a batch that does not yield sends at once; one that yields
    sends nothing, and a pause meanwhile ends it within a poll, every row given back."""
    client, keys, _, company = env
    _sandbox(sandbox)
    priority.firsts_enqueued(client, keys, 200)
    try:
        report, _ = _sender(env, sandbox, 10, batch_id=1).run()  # yields is off: a first batch
        assert report.sent == 10
        sender = _sender(env, sandbox, 10, batch_id=2)
        sender.yields = True
        paused = threading.Timer(
            0.4, lambda: client.set(flags.run_key(keys, company, 3), 2)
        )  # another generation
        paused.start()
        began = time.monotonic()
        report, outcomes = sender.run()
        assert report.stop == "stopped" and report.sent == 0 and outcomes == []
        assert 0.4 <= time.monotonic() - began < 0.4 + 2 * priority.POLL_S + 0.3
        assert len(_messages(sandbox)) == 10  # only the first batch's
        assert client.get(flags.progress_keys(keys, company, 2)[0]) in (None, b"0")
    finally:
        client.delete(priority.key(keys))
