"""HTTP client micro-benchmark: CPU per request of the providers' clients, side by side.

    flock /tmp/zapx-heavy.lock .venv/bin/python bench/http_client.py                # 20,000 each
    flock /tmp/zapx-heavy.lock .venv/bin/python bench/http_client.py --requests 5000 --rounds 1

Keep-alive POSTs of a Cloud API text message (``CloudProvider.request`` / ``.result``, so the
JSON encoding and the answer's classification are counted too) to one ``zapx sandbox``, each
client in a fresh process of its own, the clients alternating over ``--rounds`` rounds:

- ``urllib3_8t``: the former transport, a guarded urllib3 pool (``zapx.providers.http``), in 8
  threads;
- ``perform_8t``: ``CloudProvider.send`` (libcurl easy handles, ``zapx.providers.curl.perform``)
  in 8 threads;
- ``concurrent_1t``: ``Concurrent(8)`` in one thread, 8 requests in flight;
- ``concurrent_2t``: ``Concurrent(8)`` in each of 2 threads.

For each: CPU milliseconds per request in the client process (user + system,
``resource.getrusage``; best round), requests/s, and the sandbox's CPU per request. Checks that
the sandbox recorded every request. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zapx.outbound import Outbound, parse_allowed  # noqa: E402
from zapx.providers import (  # noqa: E402
    CloudProvider,
    HttpResponse,
    OutMessage,
    concurrent,
    http,
)

ZAPX = str(Path(sys.executable).parent / "zapx")
OUTBOUND = Outbound(allowed=parse_allowed("127.0.0.1"))
TEXT = "Olá Maria, a oferta de Black Friday do Condomínio Jardim chegou!"
WARMUP = 200


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _provider(base: str) -> CloudProvider:
    return CloudProvider({"baseUrl": base, "phoneNumberId": "bench", "accessToken": "x"}, OUTBOUND)


def _message(i: int) -> OutMessage:
    return OutMessage(f"5511{i:09d}", TEXT)


def _urllib3_send(provider: CloudProvider, message: OutMessage):
    request = provider.request(message)
    headers = dict(line.split(": ", 1) for line in request.headers)
    resp = http.pool(OUTBOUND).request("POST", request.url, body=request.body, headers=headers)
    return provider.result(HttpResponse(resp.status, resp.data))


def _threads(count: int, threads: int, send) -> int:
    """``count`` sends over ``threads`` threads; the number that came back ``sent``."""
    sent = [0] * threads

    def run(t: int) -> None:
        for k in range(count // threads):
            if send(_message(t * 10**7 + k)).outcome == "sent":
                sent[t] += 1

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(sent)


def _multi(count: int, threads: int, provider: CloudProvider) -> int:
    """``count`` sends over ``threads`` threads, each with 8 requests in flight."""
    sent = [0] * threads

    def run(t: int) -> None:
        multi = concurrent(OUTBOUND, 8)
        todo = count // threads
        k = 0
        while k < todo or multi.in_flight:
            while k < todo and multi.in_flight < 8:
                multi.add(k, provider.request(_message(t * 10**7 + k)))
                k += 1
            for _, answer in multi.wait(5):
                if provider.result(answer).outcome == "sent":
                    sent[t] += 1

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(sent)


def _client(args: tuple[str, str, int]) -> dict:
    """One client's run in this (fresh) process: warm-up, then ``count`` measured sends."""
    kind, base, count = args
    provider = _provider(base)
    run = {
        "urllib3_8t": lambda n: _threads(n, 8, lambda m: _urllib3_send(provider, m)),
        "perform_8t": lambda n: _threads(n, 8, provider.send),
        "concurrent_1t": lambda n: _multi(n, 1, provider),
        "concurrent_2t": lambda n: _multi(n, 2, provider),
    }[kind]
    run(WARMUP)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    sent = run(count)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"sent": sent, "seconds": wall, "cpu_s": cpu}


def _recorded(base: str) -> int:
    with urllib.request.urlopen(base + "/_sandbox/stats") as resp:
        return json.loads(resp.read())["messages"]


def _sandbox_cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


KINDS = ("urllib3_8t", "perform_8t", "concurrent_1t", "concurrent_2t")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=20_000, help="measured requests per run")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each client, alternating")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the sandbox writes to it until the end)
    env = dict(os.environ) | {"LOG_LEVEL": "warning"}
    sandbox = subprocess.Popen(
        [ZAPX, "sandbox", "--bind", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=log
    )
    results: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _recorded(base)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        ps = psutil.Process(sandbox.pid)
        # A fresh process per run: no connection, handle or pool left over from another client.
        context = multiprocessing.get_context("spawn")
        for round_ in range(args.rounds):
            for kind in KINDS:
                before, sandbox_before = _recorded(base), _sandbox_cpu_s(ps)
                with context.Pool(1) as pool:
                    run = pool.apply(_client, ((kind, base, args.requests),))
                run["sandbox_cpu_s"] = _sandbox_cpu_s(ps) - sandbox_before
                run["recorded"] = _recorded(base) - before
                results[kind].append(run)
                print(
                    f"round {round_ + 1} {kind:<14} {run['sent']:>6} sent "
                    f"{run['cpu_s'] * 1000 / run['sent']:.3f} CPU-ms/req "
                    f"{run['sent'] / run['seconds']:.0f} req/s",
                    file=sys.stderr,
                )
    finally:
        sandbox.terminate()
        sandbox.wait(30)
    summary: dict = {"requests": args.requests, "rounds": args.rounds}
    print(f"\n{'client':<14} {'CPU-ms/req':>10} {'req/s':>8} {'sandbox CPU-ms/req':>19}")
    for kind, runs in results.items():
        best = min(runs, key=lambda r: r["cpu_s"] / r["sent"])
        assert all(r["sent"] == args.requests for r in runs), (kind, runs)
        assert all(r["recorded"] == args.requests + WARMUP for r in runs), (kind, runs)
        figures = {
            "client_cpu_ms_per_req": round(best["cpu_s"] * 1000 / best["sent"], 4),
            "req_per_s": round(best["sent"] / best["seconds"]),
            "sandbox_cpu_ms_per_req": round(best["sandbox_cpu_s"] * 1000 / best["sent"], 4),
        }
        summary[kind] = figures
        print(
            f"{kind:<14} {figures['client_cpu_ms_per_req']:>10} {figures['req_per_s']:>8} "
            f"{figures['sandbox_cpu_ms_per_req']:>19}"
        )
    base_cpu = summary["urllib3_8t"]["client_cpu_ms_per_req"]
    for kind in KINDS[1:]:
        summary[kind]["cpu_ratio_to_urllib3"] = round(
            summary[kind]["client_cpu_ms_per_req"] / base_cpu, 3
        )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
