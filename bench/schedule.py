"""Send gate benchmark: the cost of one ``SendGate.acquire`` per send, beside today's calls.

    .venv/bin/python bench/schedule.py                 # 20,000 calls a case, 3 rounds
    .venv/bin/python bench/schedule.py --calls 5000 --rounds 1

One thread, back to back, against the local Redis (``--redis``), every call granted:

- ``reserve``: the paced-send call before the gate, ``flags.reserve`` (removed; its script kept
  here as the baseline: an ``EVAL`` through the client pool);
- ``before_send``: the call before every send, ``flags.before_send`` (for scale);
- ``after_answer``: the same call right after each answer, writing its outcome (crash accounting);
- ``unpaced``: ``acquire`` with pacing off at a high cap (``max_per_s`` 1,000,000): provider cap
  log, AIMD state, pair key;
- ``paced``: the same with ``message_interval_s`` 1 µs (the send token, the gap, the long-pause
  count), each call reporting the previous request done 1 ms ago;
- ``limits4``: ``unpaced`` plus one rate limit of each kind (whatsapp, contact, campaign, global);
- ``all``: paced, four limits and a daily cap (1,000,000, so that every call is granted);
- ``unpaced_batch``: ``unpaced`` as a batch calls it: with the batch's progress (the run flag
  checked, the row noted started, the previous row's outcome written), the one Redis call an
  unpaced send makes.

The rounds interleave the cases (so a busy spell of the shared machine hits all of them); per
case the median round is reported: wall µs per call, this process's CPU µs per call, and Redis's
own time per call (``INFO commandstats``: ``EVAL`` + ``EVALSHA`` µs over the case's calls).
Without ``--redis`` it starts a private ``redis-server`` on a free port (no persistence), so
that the server's figures are this benchmark's alone, and stops it at the end; with
``--redis`` the server's figures include other clients' scripts. Ends with one JSON line. Uses
its own key prefix and deletes its keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zapx.campaigns import flags  # noqa: E402
from zapx.campaigns.pacing import PacingSettings  # noqa: E402
from zapx.engine.messages import Outcome  # noqa: E402
from zapx.engine.runflags import RunFlags  # noqa: E402
from zapx.redis import Keys, get_redis  # noqa: E402
from zapx.schedule import Grant, SendGate  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Limit:
    kind: str
    limit: int
    period_s: float


FOUR = tuple(Limit(k, 1_000_000_000, 1.0) for k in ("whatsapp", "contact", "campaign", "global"))
UNPACED = PacingSettings(message_interval_s=0, jitter=0, max_per_s=1_000_000)
PACED = PacingSettings(
    message_interval_s=1e-6,
    jitter=0.3,
    longer_interval_after=20,
    greater_interval_s=1e-6,
    max_per_s=1_000_000,
)
ALL = dataclasses.replace(PACED, daily_cap=1_000_000)  # above the calls: all granted


#: ``flags.reserve``'s script as it was before the send gate replaced it (the baseline).
OLD_RESERVE = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = math.max(tonumber(ARGV[1]), last + tonumber(ARGV[2]), tonumber(ARGV[3]))
redis.call('SET', KEYS[1], tostring(t), 'EX', 86400)
return tostring(t)
"""


def cases(client, keys: Keys, gate: SendGate):
    """name -> f(i) making call i; each case on a connection of its own."""
    RunFlags(client, keys).set(1, 1, 1)

    def reserve(i):
        now = time.time()
        key = keys.of("whatsapp", 1, "last_send")
        client.eval(OLD_RESERVE, 1, key, repr(now), "0.0", repr(now))
        return True

    def before_send(i):
        return flags.before_send(client, keys, 1, 1, 1, 1, i, [], 600)

    def after_answer(i):
        # The progress call after each answer: one outcome written, the flag read again.
        done = Outcome(i, "sent", f"wamid.{i}", None, "Olá", 0.0)
        return flags.before_send(client, keys, 1, 1, 1, 2, i, [done], 600)

    def acquire(wa, settings, limits):
        def call(i):
            r = gate.acquire(wa, 1, 1, f"55{i}", settings, limits, "b", 0.001)
            return isinstance(r, Grant)

        return call

    progress = flags.gate_progress(keys, 1, 1, 3, 1, 600)

    def unpaced_batch(i):
        # What each unpaced send of a batch costs now: one call that also checks the run flag,
        # notes the row started and writes the previous row's outcome.
        done = flags.encode(Outcome(i, "sent", f"wamid.{i}", None, "Olá", 0.0))
        r = gate.acquire(15, 1, 1, f"55{i}", UNPACED, (), "", 0.0, progress, i + 1, [done])
        return isinstance(r, Grant)

    return {
        "reserve": reserve,
        "before_send": before_send,
        "after_answer": after_answer,
        "unpaced": acquire(11, UNPACED, ()),
        "paced": acquire(12, PACED, ()),
        "limits4": acquire(13, UNPACED, FOUR),
        "all": acquire(14, ALL, FOUR),
        "unpaced_batch": unpaced_batch,
    }


def script_usec(client) -> int:
    stats = client.info("commandstats")
    return sum(stats.get(f"cmdstat_{c}", {}).get("usec", 0) for c in ("eval", "evalsha"))


def run_case(client, call, calls: int, offset: int) -> tuple[float, float, float, int]:
    """(wall, client CPU, Redis script µs per call, calls granted)."""
    granted = 0
    server = script_usec(client)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(offset, offset + calls):
        granted += bool(call(i))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server = script_usec(client) - server
    return wall * 1e6 / calls, cpu * 1e6 / calls, server / calls, granted


def private_redis() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            get_redis(url).ping()
            return proc, url
        except Exception:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", help="an existing Redis (default: a private redis-server)")
    args = parser.parse_args()
    server, url = private_redis() if not args.redis else (None, args.redis)
    client = get_redis(url)
    keys = Keys(f"zapx:bench:{uuid.uuid4().hex[:8]}:")
    gate = SendGate(client, keys)
    todo = cases(client, keys, gate)
    results: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in todo}
    try:
        for call in todo.values():  # warm up: scripts loaded, connections open
            run_case(client, call, 200, 10**8)
        for r in range(args.rounds):
            for name, call in todo.items():
                results[name].append(run_case(client, call, args.calls, r * args.calls))
    finally:
        found = list(client.scan_iter(match=keys.prefix + "*", count=1000))
        for k in range(0, len(found), 1000):
            client.delete(*found[k : k + 1000])
        if server is not None:
            server.terminate()
            server.wait(10)
    print(
        f"{args.calls} calls a case, {args.rounds} rounds, median round, one thread,"
        f" {'private redis-server' if server else url}"
    )
    head = ("case", "wall µs/call", "CPU µs/call", "Redis µs/call", "granted")
    print(f"{head[0]:<12} {head[1]:>13} {head[2]:>12} {head[3]:>14} {head[4]:>8}")
    out: dict[str, object] = {"calls": args.calls, "rounds": args.rounds}
    for name, rounds in results.items():
        wall = statistics.median(x[0] for x in rounds)
        cpu = statistics.median(x[1] for x in rounds)
        redis_us = statistics.median(x[2] for x in rounds)
        granted = min(x[3] for x in rounds)
        print(f"{name:<12} {wall:>13.1f} {cpu:>12.1f} {redis_us:>14.1f} {granted:>8}")
        out[f"{name}_us_per_call"] = round(wall, 1)
        out[f"{name}_cpu_us_per_call"] = round(cpu, 1)
        out[f"{name}_redis_us_per_call"] = round(redis_us, 1)
        if name not in ("reserve", "before_send", "after_answer"):
            out[f"{name}_granted_pct"] = round(100 * granted / args.calls, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
