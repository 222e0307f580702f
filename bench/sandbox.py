"""Sandbox benchmark: requests/s that ``zapx sandbox`` serves to a load generator (wrk).

    .venv/bin/python bench/sandbox.py                 # 10 s per run, 50 connections
    .venv/bin/python bench/sandbox.py --seconds 3     # a quick run

Side by side in one run, on one sandbox process: (a) ``POST /v21.0/{id}/messages`` — what a
provider client sends; every message is parsed and recorded — and (b) ``GET /health``, the
server's floor. It checks that the sandbox recorded every message wrk completed. The goal
(issue 4): at least 10,000 requests/s, so that the sandbox is never a load test's bottleneck.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ZAPX = str(Path(sys.executable).parent / "zapx")
BODY = (
    '{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511987654321",'
    '"type":"text","text":{"preview_url":false,"body":"Olá Maria, a oferta chegou!"}}'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, seconds: int, connections: int, threads: int, script: str | None) -> dict:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        argv += ["-s", script]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "req_per_s": rps,
        "requests": total,
        "p99_ms": round(float(p99.group(1)) * scale, 2),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (it is C: 1 is enough)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="zapx-bench-sandbox-")
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = [[{BODY}]]\n")
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        f.write('wrk.headers["Authorization"] = "Bearer bench"\n')
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(tmp, "sandbox.log"), "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [ZAPX, "sandbox", "--bind", f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        print(f"POST messages, {args.connections} connections, {args.seconds} s", file=sys.stderr)
        messages = wrk(
            base + "/v21.0/123/messages", args.seconds, args.connections, args.threads, script
        )
        stats = json.load(urllib.request.urlopen(base + "/_sandbox/stats"))
        print(f"GET /health, {args.connections} connections, {args.seconds} s", file=sys.stderr)
        health = wrk(base + "/health", args.seconds, args.connections, args.threads, None)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'run':<10} {'req/s':>10} {'p99 ms':>8} {'requests':>10} {'non-2xx':>8}")
    for name, r in (("messages", messages), ("health", health)):
        print(
            f"{name:<10} {r['req_per_s']:>10.0f} {r['p99_ms']:>8} {r['requests']:>10} "
            f"{r['non_2xx']:>8}"
        )
    print(f"recorded by the sandbox: {stats['messages']} (wrk completed {messages['requests']})")
    print(
        json.dumps(
            {
                "messages_req_per_s": messages["req_per_s"],
                "messages_p99_ms": messages["p99_ms"],
                "health_req_per_s": health["req_per_s"],
                "messages_recorded": stats["messages"],
                "messages_completed": messages["requests"],
                "connections": args.connections,
                "seconds": args.seconds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
