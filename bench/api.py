"""API benchmark: a searched contacts page and contact creation against the real gunicorn.

    .venv/bin/python bench/api.py                       # 100,000 contacts, 50 clients, 15 s a run
    .venv/bin/python bench/api.py --contacts 5000 --seconds 3 --configs 2x4   # a quick run

It makes its own database (``zapx_bench_<random>``, dropped at the end) and Redis key prefix,
loads ``--contacts`` Brazilian-looking contacts with COPY, creates a company and an admin user,
starts ``gunicorn -c gunicorn.conf.py`` once per ``--configs`` entry (``WORKERSxTHREADS``) and logs
in through the API. ``wrk`` (C, one event-loop thread) then drives ``--clients`` keep-alive
connections at (a) ``GET /contacts?searchParam=<term>&pageNumber=1`` with varied realistic terms
and (b) ``POST /contacts`` with unique numbers. On the first configuration it also runs the page
against a second gunicorn with the query cache off (``QUERY_CACHE_TTL_S=0``), alternating with the
cached one, and with a think time per client (``--think-ms``, wrk's ``delay()``: 50 people
searching, not 50 connections back to back). It prints requests/s, p50/p90/p99 latency, errors
and the query-cache hit rate for each, the ``EXPLAIN (ANALYZE, BUFFERS)`` of the page's queries,
and, as its last line, one JSON object with the figures (those of the first configuration at the
top level, the cache-off ones under ``uncached``).

Results are written up in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zapx import auth, cache, contacts  # noqa: E402
from zapx.db import (  # noqa: E402
    Company,
    Tenant,
    User,
    db,
    drop_database,
    ensure_database,
    init_db,
    migrate,
)
from zapx.paging import PAGE_SIZE, matches_page_sql  # noqa: E402
from zapx.redis import get_redis  # noqa: E402
from zapx.text import search_text  # noqa: E402

PASSWORD = "bench-password-123"

# --- realistic data -----------------------------------------------------------------------------
# Rough IBGE frequencies: a few names are very common (Maria, José, Silva, Santos), most are rare,
# which is what makes some search terms match a fifth of the table and others a handful of rows.

FIRST_NAMES = (
    ("Maria", 117),
    ("José", 57),
    ("Ana", 31),
    ("João", 29),
    ("Antônio", 25),
    ("Francisco", 18),
    ("Carlos", 15),
    ("Paulo", 14),
    ("Pedro", 12),
    ("Lucas", 11),
    ("Luiz", 11),
    ("Marcos", 11),
    ("Luís", 9),
    ("Gabriel", 9),
    ("Rafael", 8),
    ("Francisca", 7),
    ("Daniel", 7),
    ("Marcelo", 7),
    ("Bruno", 7),
    ("Eduardo", 6),
    ("Felipe", 6),
    ("Raimundo", 6),
    ("Rodrigo", 6),
    ("Antônia", 6),
    ("Adriana", 6),
    ("Juliana", 6),
    ("Márcia", 6),
    ("Fernanda", 6),
    ("Patrícia", 5),
    ("Aline", 5),
    ("Sandra", 5),
    ("Camila", 5),
    ("Amanda", 5),
    ("Bruna", 5),
    ("Jéssica", 4),
    ("Letícia", 4),
    ("Júlia", 4),
    ("Luciana", 4),
    ("Vanessa", 4),
    ("Mariana", 4),
    ("Gabriela", 4),
    ("Vitória", 3),
    ("Larissa", 3),
    ("Cláudia", 3),
    ("Beatriz", 3),
    ("Luana", 3),
    ("Rita", 3),
    ("Sônia", 3),
    ("Renata", 3),
    ("Eliane", 3),
    ("Josefa", 3),
    ("Sebastião", 3),
    ("Thiago", 3),
    ("Fábio", 3),
    ("André", 3),
    ("Leandro", 3),
    ("Gustavo", 3),
    ("Vinícius", 2),
    ("Matheus", 2),
    ("Diego", 2),
    ("Heloísa", 2),
    ("Cecília", 2),
    ("Conceição", 2),
    ("Raquel", 2),
    ("Débora", 2),
    ("Wellington", 1),
    ("Edvaldo", 1),
    ("Gilberto", 1),
    ("Iolanda", 1),
    ("Otávio", 1),
)

SURNAMES = (
    ("Silva", 100),
    ("Santos", 72),
    ("Oliveira", 50),
    ("Souza", 45),
    ("Rodrigues", 30),
    ("Ferreira", 29),
    ("Alves", 28),
    ("Pereira", 27),
    ("Lima", 26),
    ("Gomes", 24),
    ("Costa", 20),
    ("Ribeiro", 20),
    ("Martins", 18),
    ("Carvalho", 18),
    ("Almeida", 17),
    ("Lopes", 16),
    ("Soares", 15),
    ("Fernandes", 15),
    ("Vieira", 14),
    ("Barbosa", 14),
    ("Rocha", 13),
    ("Dias", 13),
    ("Nascimento", 12),
    ("Andrade", 12),
    ("Moreira", 11),
    ("Nunes", 11),
    ("Marques", 10),
    ("Machado", 10),
    ("Mendes", 10),
    ("Freitas", 9),
    ("Cardoso", 9),
    ("Ramos", 9),
    ("Gonçalves", 9),
    ("Santana", 8),
    ("Teixeira", 8),
    ("Araújo", 8),
    ("Azevedo", 5),
    ("Cavalcanti", 4),
    ("Monteiro", 4),
    ("Moura", 4),
    ("Correia", 4),
    ("Pinto", 4),
    ("Batista", 4),
    ("Campos", 4),
    ("Castro", 3),
    ("Nogueira", 3),
    ("Bezerra", 3),
    ("Farias", 3),
    ("Brandão", 2),
    ("Magalhães", 2),
    ("Sampaio", 2),
    ("Guimarães", 2),
    ("Figueiredo", 2),
    ("Queiroz", 2),
    ("Assunção", 1),
    ("Brito", 1),
    ("Siqueira", 1),
    ("Tavares", 1),
    ("Xavier", 1),
    ("Wanderley", 1),
)

# DDD (area code) weights, roughly by population.
DDDS = (
    ("11", 20),
    ("21", 9),
    ("31", 6),
    ("41", 4),
    ("51", 4),
    ("61", 4),
    ("71", 4),
    ("81", 4),
    ("85", 4),
    ("19", 3),
    ("27", 2),
    ("48", 2),
    ("62", 2),
    ("91", 2),
    ("92", 2),
    ("98", 2),
    ("13", 1),
    ("15", 1),
    ("16", 1),
    ("17", 1),
    ("24", 1),
    ("32", 1),
    ("34", 1),
    ("43", 1),
    ("47", 1),
    ("65", 1),
    ("67", 1),
    ("79", 1),
    ("83", 1),
    ("84", 1),
    ("86", 1),
)
EMAIL_DOMAINS = (
    "gmail.com",
    "hotmail.com",
    "yahoo.com.br",
    "outlook.com",
    "uol.com.br",
    "bol.com.br",
)
CONDOMINIOS = (
    "Residencial Jardim das Flores",
    "Condomínio Parque das Árvores",
    "Edifício São Jorge",
    "Residencial Vila Nova",
    "Condomínio Solar dos Ipês",
    "Edifício Copacabana",
)
RUAS = ("Rua das Acácias", "Avenida Brasil", "Rua São João", "Rua XV de Novembro", "Alameda Santos")
CARGOS = ("Morador", "Morador", "Morador", "Síndico", "Porteiro", "Zelador", "Proprietário")

#: What people type in the search box: common and rare names and surnames, word starts typed
#: while searching, accented forms, e-mail and number fragments. All at least 3 characters, the
#: length from which the trigram index can narrow a ``LIKE '%term%'``.
SEARCH_TERMS = (
    "maria",
    "silva",
    "santos",
    "joão",
    "José",
    "oliveira",
    "ana",
    "souza",
    "fernanda",
    "carlos",
    "rodr",
    "ferreira lima",
    "antônio",
    "márcia",
    "cavalcanti",
    "nogueira",
    "wellington",
    "guimarães",
    "assunção",
    "heloísa",
    "pedro alves",
    "lucas",
    "gmail",
    "joao.santos",
    "11987",
    "98765",
    "21998",
    "xavier",
    "bruna",
    "luc",
)


def _weighted(pairs) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _ascii(text: str) -> str:
    from zapx.text import fold

    return fold(text).replace(" ", "")


def generate_contacts(n: int, rng: random.Random):
    """``n`` rows of (name, number, email, condominio, endereco, cargo), numbers unique.

    Subscriber numbers are ``9`` + 8 digits below 90,000,000, so the benchmark's creations
    (``99`` + 7 digits) never collide with them.
    """
    firsts, fw = _weighted(FIRST_NAMES)
    lasts, lw = _weighted(SURNAMES)
    ddds, dw = _weighted(DDDS)
    subscribers = rng.sample(range(90_000_000), n)
    first_col = rng.choices(firsts, fw, k=n)
    last_col = rng.choices(lasts, lw, k=n)
    middle_col = rng.choices(lasts, lw, k=n)
    ddd_col = rng.choices(ddds, dw, k=n)
    for i in range(n):
        first, last = first_col[i], last_col[i]
        shape = rng.random()
        if shape < 0.35:
            name = f"{first} {middle_col[i]} {last}"
        elif shape < 0.45:
            particle = rng.choice(("da", "dos", "de"))
            name = f"{first} {particle} {last}"
        else:
            name = f"{first} {last}"
        number = f"55{ddd_col[i]}9{subscribers[i]:08d}"
        email = ""
        if rng.random() < 0.45:
            email = (
                f"{_ascii(first)}.{_ascii(last)}{rng.randrange(100)}@{rng.choice(EMAIL_DOMAINS)}"
            )
        condominio = endereco = cargo = ""
        if rng.random() < 0.5:
            condominio = rng.choice(CONDOMINIOS)
            endereco = (
                f"{rng.choice(RUAS)}, {rng.randrange(1, 3000)} - apto {rng.randrange(11, 250)}"
            )
            cargo = rng.choice(CARGOS)
        yield name, number, email, condominio, endereco, cargo


def _copy_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def load_contacts(company_id: int, n: int, seed: int) -> float:
    """COPY ``n`` contacts into the company; returns the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
    buf = io.StringIO()
    for name, number, email, condominio, endereco, cargo in generate_contacts(n, rng):
        row = (
            now,
            now,
            str(company_id),
            name,
            number,
            email,
            condominio,
            endereco,
            cargo,
            "[]",
            "f",
            search_text(name, number, email),
        )
        buf.write("\t".join(_copy_field(v) for v in row) + "\n")
    buf.seek(0)
    columns = (
        "created_at, updated_at, company_id, name, number, email, condominio, endereco, cargo,"
        " extra_info, is_group, search"
    )
    with db.connection_context():
        cursor = db.connection().cursor()
        cursor.copy_expert(f"COPY contacts ({columns}) FROM STDIN", buf)
        db.connection().commit()
        vacuum_analyze()
    return time.perf_counter() - started


def vacuum_analyze() -> None:
    """VACUUM ANALYZE contacts (fresh statistics and visibility map), outside a transaction."""
    conn = db.connection()
    conn.commit()
    conn.autocommit = True
    try:
        conn.cursor().execute("VACUUM ANALYZE contacts")
    finally:
        conn.autocommit = False


# --- EXPLAIN ------------------------------------------------------------------------------------


def page_sql(tenant: Tenant, term: str) -> tuple[str, tuple]:
    """The one statement page 1 of ``GET /contacts?searchParam=term`` runs (rows and count)."""
    return matches_page_sql(contacts.contacts_query(tenant, term), 1)


def explain(sql: str, params) -> str:
    with db.connection_context():
        cursor = db.execute_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def interpolate(sql: str, params) -> str:
    with db.connection_context():
        return db.connection().cursor().mogrify(sql, params).decode()


def db_times(tenant: Tenant) -> dict[str, float]:
    """Execution time in PostgreSQL (ms, best of 3 EXPLAIN ANALYZE) of each term's page."""
    out = {}
    for term in SEARCH_TERMS:
        best = None
        for _ in range(3):
            plan = explain(*page_sql(tenant, term))
            ms = float(plan.rsplit("Execution Time: ", 1)[1].split()[0])
            best = ms if best is None else min(best, ms)
        out[term] = best
    return out


# --- gunicorn -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py`` in its own process group, output to a log file."""

    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = env | {"API_BIND": f"127.0.0.1:{self.port}"}
        env.pop("GUNICORN_BIND", None)
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/health", timeout=2) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not healthy after {timeout_s} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def call(url: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


# --- wrk ----------------------------------------------------------------------------------------

LUA_COMMON = r"""
counter = 0
tid = 0  -- overwritten per thread by setup()
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""

LUA_PAGE = r"""
local terms = {%(terms)s}
local headers = {["Authorization"] = "Bearer %(token)s"}
function request()
  counter = counter + 1
  local term = terms[((counter + tid * 7) %% #terms) + 1]
  return wrk.format("GET", "/contacts?searchParam=" .. term .. "&pageNumber=1", headers)
end
"""

#: Appended to a script: each connection waits a random think time before each request, as a
#: person does between searches; wrk's latency excludes it (it starts when the request is sent).
LUA_THINK = r"""
math.randomseed(os.time())
function delay()
  return math.random(%(low)d, %(high)d)
end
"""

LUA_ME = r"""
local headers = {["Authorization"] = "Bearer %(token)s"}
function request()
  return wrk.format("GET", "/auth/me", headers)
end
"""

LUA_CREATE = r"""
local names = {%(names)s}
local headers = {
  ["Authorization"] = "Bearer %(token)s",
  ["Content-Type"] = "application/json",
}
function request()
  counter = counter + 1
  -- 55 + DDD + 99 + thread + 6-digit counter: unique per run (each run has its own DDD), and
  -- never one of the loaded numbers (whose subscriber part is below 990000000).
  local number = string.format("55%(ddd)s99%%d%%06d", tid, counter)
  local name = names[(counter %% #names) + 1]
  local body = string.format('{"name":"%%s","number":"%%s","email":"bench%%d@example.com.br"}',
    name, number, counter)
  return wrk.format("POST", "/contacts", headers, body)
end
"""


def lua_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CpuMeter:
    """CPU seconds (user + system) used by gunicorn (master and workers) and by the PostgreSQL
    backends of the benchmark database, between ``start()`` and ``stop()``."""

    def __init__(self, gunicorn_pid: int, database: str):
        self.gunicorn_pid = gunicorn_pid
        self.database = database

    def _processes(self) -> dict[tuple[str, int], float]:
        out = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            master = psutil.Process(self.gunicorn_pid)
            for proc in [master, *master.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    t = proc.cpu_times()
                    out[("app", proc.pid)] = t.user + t.system
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or ())
            if proc.info["name"] == "postgres" and f" {self.database} " in f"{cmdline} ":
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    t = proc.cpu_times()
                    out[("db", proc.pid)] = t.user + t.system
        return out

    def start(self) -> None:
        self._before = self._processes()

    def stop(self) -> dict[str, float]:
        used = {"app": 0.0, "db": 0.0}
        for key, seconds in self._processes().items():
            used[key[0]] += seconds - self._before.get(key, 0.0)
        return used


def run_wrk(
    url: str,
    script: str,
    tmp: Path,
    *,
    clients: int,
    seconds: float,
    threads: int,
    meter: CpuMeter | None = None,
) -> dict:
    path = tmp / f"wrk-{uuid.uuid4().hex[:6]}.lua"
    path.write_text(LUA_COMMON + script)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(path),
        url,
    ]
    if meter:
        meter.start()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    used = meter.stop() if meter else {}
    if proc.returncode:
        raise RuntimeError(f"wrk exited with {proc.returncode}:\n{out}")
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(line[4:])
    errors = sum(raw[k] for k in raw if k.endswith("_errors") or k == "timeouts")
    seconds_run = raw["duration_us"] / 1e6
    result = {
        "req_per_s": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "requests": raw["requests"],
        "errors": errors,
        # Which kind: a worker that reaches max_requests closes its keep-alive connections
        # (read errors); a status error is a 4xx/5xx answer.
        "error_kinds": {
            k: raw[k] for k in raw if raw[k] and (k.endswith("_errors") or k == "timeouts")
        },
    }
    if used and raw["requests"]:
        result["app_cpu_ms_per_req"] = round(used["app"] * 1000 / raw["requests"], 2)
        result["db_cpu_ms_per_req"] = round(used["db"] * 1000 / raw["requests"], 2)
    return result


# --- the benchmark ------------------------------------------------------------------------------


def parse_configs(text: str) -> list[tuple[int, int]]:
    """``8`` -> (8, 0): 8 sync workers; ``2x4`` -> (2, 4): gthread, 2 workers of 4 threads."""
    out = []
    for part in text.split(","):
        workers, _, threads = part.strip().lower().partition("x")
        out.append((int(workers), int(threads or 0)))
    return out


def check_pages(url: str, token: str, tenant: Tenant) -> None:
    """Every term's page answers 200 with the exact count, a correct hasMore and its records."""
    for term in SEARCH_TERMS:
        q = urllib.parse.urlencode({"searchParam": term, "pageNumber": 1})
        status, page = call(f"{url}/contacts?{q}", token=token)
        if status != 200:
            raise RuntimeError(f"GET /contacts {term!r}: {status} {page}")
        with db.connection_context():
            query = contacts.contacts_query(tenant, term)
            exact = query.order_by().count()
            first = [c.id for c in query.limit(PAGE_SIZE)]
        if page["count"] != exact or page["hasMore"] != (exact > PAGE_SIZE):
            raise RuntimeError(
                f"{term!r}: count {page['count']} hasMore {page['hasMore']}, expected {exact}"
            )
        if [r["id"] for r in page["contacts"]] != first:
            raise RuntimeError(f"{term!r}: the page's records are not the first {PAGE_SIZE}")


def match_counts(tenant: Tenant) -> dict[str, int]:
    with db.connection_context():
        return {t: contacts.contacts_query(tenant, t).order_by().count() for t in SEARCH_TERMS}


def cache_counts(client, prefix: str) -> dict:
    return cache.stats(client, prefix).get(contacts.CONTACTS_NAMESPACE, {"hit": 0, "miss": 0})


def line(label: str, r: dict) -> str:
    text = (
        f"{label:<34} {r['req_per_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
        f"  p90 {r['p90_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}"
    )
    if r.get("error_kinds"):
        text += " (" + ", ".join(f"{k} {v}" for k, v in r["error_kinds"].items()) + ")"
    if "app_cpu_ms_per_req" in r:
        text += (
            f"  CPU/request: gunicorn {r['app_cpu_ms_per_req']:.2f} ms,"
            f" PostgreSQL {r['db_cpu_ms_per_req']:.2f} ms"
        )
    if "cache_hit_rate" in r:
        text += f"  cache hits {100 * r['cache_hit_rate']:.1f}%"
    return text


def set_fastupdate(value: str) -> None:
    if value == "default":
        return
    with db.connection_context():
        db.execute_sql(
            f"ALTER INDEX contacts_company_search_trgm SET (fastupdate = {value})"  # on | off
        )
        vacuum_analyze()


def login_token(url: str) -> str:
    status, login = call(
        url + "/auth/login", "POST", {"email": "admin@bench.example", "password": PASSWORD}
    )
    if status != 200:
        raise RuntimeError(f"login failed: {status} {login}")
    return login["token"]


def think_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    low_ms, high_ms = int(low), int(high or low)
    if not 0 <= low_ms <= high_ms:
        raise argparse.ArgumentTypeError(f"--think-ms must be LOW-HIGH in ms, got {text!r}")
    return low_ms, high_ms


def run_config(
    args,
    env: dict,
    tmp: Path,
    database: str,
    tenant: Tenant,
    index: int,
    workers: int,
    threads: int,
) -> dict:
    """Start gunicorn with ``workers`` x ``threads`` and run every load against it.

    On the first configuration, a second gunicorn with the query cache off
    (``QUERY_CACHE_TTL_S=0``) runs next to it, and the page loads alternate between the two, so
    cached and uncached figures come from the same minutes of the same run.
    """
    label = f"{workers}x{threads}" if threads else f"{workers} sync"
    sizing = {
        "API_WORKERS": str(workers),
        "API_WORKER_CLASS": "gthread" if threads else "sync",
        "API_THREADS": str(threads or 1),
    }
    server = Gunicorn(
        env | sizing | {"QUERY_CACHE_TTL_S": str(args.cache_ttl)},
        tmp / f"gunicorn-{label.replace(' ', '-')}.log",
    )
    plain = None
    if index == 0 and args.compare_uncached:
        plain = Gunicorn(
            env | sizing | {"QUERY_CACHE_TTL_S": "0"},
            tmp / f"gunicorn-{label.replace(' ', '-')}-uncached.log",
        )
    redis_client = get_redis(args.redis_url)
    out: dict = {"config": label}
    try:
        server.wait_healthy()
        token = login_token(server.url)
        check_pages(server.url, token, tenant)
        check_pages(server.url, token, tenant)  # the second time from the cache, if it is on
        terms = ", ".join(lua_str(urllib.parse.quote(t)) for t in SEARCH_TERMS)
        names = ", ".join(
            lua_str(f"{f} {s}") for (f, _), (s, _) in zip(FIRST_NAMES, SURNAMES, strict=False)
        )
        page_script = LUA_PAGE % {"terms": terms, "token": token}
        low, high = args.think_ms
        think_script = page_script + LUA_THINK % {"low": low, "high": high}
        pages = (page_script, think_script)
        me_script = LUA_ME % {"token": token}
        create_script = LUA_CREATE % {
            "names": names,
            "token": token,
            "ddd": DDDS[index % len(DDDS)][0],
        }

        def load(
            target: Gunicorn,
            script: str,
            seconds: float = args.seconds,
            clients: int = args.clients,
        ):
            before = cache_counts(redis_client, env["REDIS_PREFIX"])
            result = run_wrk(
                target.url,
                script,
                tmp,
                clients=clients,
                seconds=seconds,
                threads=min(args.wrk_threads, clients),
                meter=CpuMeter(target.proc.pid, database),
            )
            after = cache_counts(redis_client, env["REDIS_PREFIX"])
            hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
            # Only page runs: a run's window can also catch the last requests of the one before.
            if target is server and script in pages and args.cache_ttl > 0 and hits + misses:
                result["cache_hit_rate"] = round(hits / (hits + misses), 4)
            return result

        def report(key: str, text: str) -> None:
            print(line(f"[{label}] {text}", out[key]), flush=True)

        if plain is not None:
            plain.wait_healthy()
            plain_token = login_token(plain.url)
            check_pages(plain.url, plain_token, tenant)
            plain_page = LUA_PAGE % {"terms": terms, "token": plain_token}
            plain_think = plain_page + LUA_THINK % {"low": low, "high": high}
        if args.warmup > 0:
            load(server, page_script, args.warmup)
            if plain is not None:
                load(plain, plain_page, args.warmup)
        out["page"] = load(server, page_script)
        report("page", f"page, {args.clients} clients")
        if plain is not None:
            out["page_uncached"] = load(plain, plain_page)
            report("page_uncached", f"page, {args.clients} clients, no cache")
        if index == 0:
            out["page_1_client"] = load(server, page_script, clients=1)
            report("page_1_client", "page, 1 client")
            if plain is not None:
                out["page_1_client_uncached"] = load(plain, plain_page, clients=1)
                report("page_1_client_uncached", "page, 1 client, no cache")
            out["page_think"] = load(server, think_script)
            report("page_think", f"page, {args.clients} clients, think {low}-{high} ms")
            if plain is not None:
                out["page_think_uncached"] = load(plain, plain_think)
                report(
                    "page_think_uncached",
                    f"page, {args.clients} clients, think {low}-{high} ms, no cache",
                )
            out["me"] = load(server, me_script)
            report("me", f"GET /auth/me, {args.clients} clients")
        if plain is not None:
            plain.stop()  # before the writes: one server writes and reads from here on
            plain = None
        out["create"] = load(server, create_script)
        report("create", f"create, {args.clients} clients")
        out["page_after_writes"] = load(server, page_script)
        report("page_after_writes", "page after the creations")
    finally:
        server.stop()
        if plain is not None:
            plain.stop()
        if args.keep_log:
            print(server.tail())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contacts", type=int, default=100_000, help="contacts to load (100000)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent connections (50)")
    ap.add_argument("--seconds", type=float, default=15, help="seconds per measured run (15)")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured warm-up (3)")
    ap.add_argument(
        "--configs",
        default="2x4,4x2,4x4",
        help="gunicorn WORKERSxTHREADS to compare, comma-separated; the first is the headline "
        "(default 2x4,4x2,4x4; 2x4 is the shipped default)",
    )
    ap.add_argument("--wrk-threads", type=int, default=1, help="wrk event-loop threads (1)")
    ap.add_argument("--pool", type=int, default=None, help="DB_POOL_SIZE (default: the app's)")
    ap.add_argument("--log-level", default="info", help="LOG_LEVEL of gunicorn (info)")
    ap.add_argument(
        "--gin-fastupdate",
        choices=("default", "on", "off"),
        default="default",
        help="override fastupdate of the contacts trigram index in the benchmark database",
    )
    ap.add_argument(
        "--cache-ttl",
        type=int,
        default=60,
        help="QUERY_CACHE_TTL_S of the measured gunicorn (60, the default; 0: no query cache)",
    )
    ap.add_argument(
        "--no-compare-uncached",
        dest="compare_uncached",
        action="store_false",
        help="skip the second gunicorn with the query cache off (first configuration)",
    )
    ap.add_argument(
        "--think-ms",
        type=think_range,
        default=(200, 400),
        help="think time of each client before each request in the think-time runs, "
        "LOW-HIGH ms, uniformly random (200-400)",
    )
    ap.add_argument("--seed", type=int, default=7, help="random seed of the data (7)")
    ap.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/"),
        help="server to create the benchmark database on",
    )
    ap.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    ap.add_argument("--keep-log", action="store_true", help="print gunicorn's log tails")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        ap.error("wrk is not installed (apt-get install -y wrk)")

    run_id = uuid.uuid4().hex[:8]
    url = args.database_url.rsplit("/", 1)[0] + f"/zapx_bench_{run_id}"
    prefix = f"zapx:bench:{run_id}:"
    tmp = Path(tempfile.mkdtemp(prefix="zapx-bench-"))
    results: list[dict] = []
    try:
        ensure_database(url)
        init_db(url, pool_size=4, application_name="zapx-bench")
        migrate()
        with db.connection_context(), db.atomic():
            company = Company.create(name="Bench Condomínios Ltda")
            User.create(
                company=company.id,
                name="Bench Admin",
                email="admin@bench.example",
                password_hash=auth.hash_password(PASSWORD),
                profile="admin",
            )
        tenant = Tenant(company.id)
        load_s = load_contacts(company.id, args.contacts, args.seed)
        set_fastupdate(args.gin_fastupdate)
        with db.connection_context():
            loaded_max_id = db.execute_sql("SELECT max(id) FROM contacts").fetchone()[0] or 0
        print(f"loaded {args.contacts} contacts in {load_s:.1f} s into zapx_bench_{run_id}")
        counts = match_counts(tenant)
        times = db_times(tenant)
        print(f"{'searchParam':<16}{'matches':>9}{'PostgreSQL ms':>15}")
        for term in SEARCH_TERMS:
            print(f"{term:<16}{counts[term]:>9}{times[term]:>15.2f}")
        print(
            f"{'mean':<16}{sum(counts.values()) / len(counts):>9.0f}"
            f"{sum(times.values()) / len(times):>15.2f}",
            flush=True,
        )

        env = dict(os.environ) | {
            "ZAPX_ENV": "production",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "DATABASE_URL": url,
            "REDIS_URL": args.redis_url,
            "REDIS_PREFIX": prefix,
            "LOG_LEVEL": args.log_level,
            "LOG_FORMAT": "json",
        }
        if args.pool:
            env["DB_POOL_SIZE"] = str(args.pool)
        for index, (workers, threads) in enumerate(parse_configs(args.configs)):
            result = run_config(
                args, env, tmp, f"zapx_bench_{run_id}", tenant, index, workers, threads
            )
            with db.connection_context():
                result["created"] = db.execute_sql(
                    "DELETE FROM contacts WHERE id > %s", (loaded_max_id,)
                ).rowcount
                vacuum_analyze()
            # A write behind the API's back, like an import: it must retire the cached pages.
            cache.bump(get_redis(args.redis_url), prefix, company.id, contacts.CONTACTS_NAMESPACE)
            print(f"[{result['config']}] {result['created']} contacts created (now deleted)")
            results.append(result)

        # The plan of the page's one statement for the most common and the rarest term.
        common = max(counts, key=counts.get)
        rare = min((t for t in counts if counts[t] > 0), key=counts.get)
        for term in (common, rare):
            built = page_sql(tenant, term)
            print(f"\n-- searchParam={term!r} ({counts[term]} matches)")
            print(interpolate(*built))
            print(explain(*built))
    finally:
        with contextlib.suppress(Exception):
            db.close_all()
        with contextlib.suppress(Exception):
            drop_database(url)
        with contextlib.suppress(Exception):
            client = get_redis(args.redis_url)
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        shutil.rmtree(tmp, ignore_errors=True)

    head = results[0]
    summary = {
        "contacts": args.contacts,
        "clients": args.clients,
        "seconds_per_run": args.seconds,
        "config": head["config"],
        "page_req_per_s": head["page"]["req_per_s"],
        "page_p50_ms": head["page"]["p50_ms"],
        "page_p90_ms": head["page"]["p90_ms"],
        "page_p99_ms": head["page"]["p99_ms"],
        "page_errors": head["page"]["errors"],
        "create_req_per_s": head["create"]["req_per_s"],
        "create_p50_ms": head["create"]["p50_ms"],
        "create_p90_ms": head["create"]["p90_ms"],
        "create_p99_ms": head["create"]["p99_ms"],
        "create_errors": head["create"]["errors"],
        "page_1_client_p50_ms": head["page_1_client"]["p50_ms"],
        "page_1_client_p99_ms": head["page_1_client"]["p99_ms"],
        "page_cache_hit_rate": head["page"].get("cache_hit_rate"),
        "page_think_req_per_s": head["page_think"]["req_per_s"],
        "page_think_p50_ms": head["page_think"]["p50_ms"],
        "page_think_p99_ms": head["page_think"]["p99_ms"],
        "page_think_errors": head["page_think"]["errors"],
        "page_think_cache_hit_rate": head["page_think"].get("cache_hit_rate"),
        "me_req_per_s": head["me"]["req_per_s"],
        "me_p99_ms": head["me"]["p99_ms"],
        "page_db_mean_ms": round(sum(times.values()) / len(times), 2),
        "cache_ttl_s": args.cache_ttl,
        "think_ms": list(args.think_ms),
        "configs": {
            r["config"]: {
                "page_req_per_s": r["page"]["req_per_s"],
                "page_p50_ms": r["page"]["p50_ms"],
                "page_p99_ms": r["page"]["p99_ms"],
                "create_req_per_s": r["create"]["req_per_s"],
                "create_p99_ms": r["create"]["p99_ms"],
                "page_after_writes_req_per_s": r["page_after_writes"]["req_per_s"],
                "page_after_writes_p99_ms": r["page_after_writes"]["p99_ms"],
            }
            for r in results
        },
    }
    if "page_uncached" in head:
        summary["uncached"] = {
            "page_req_per_s": head["page_uncached"]["req_per_s"],
            "page_p50_ms": head["page_uncached"]["p50_ms"],
            "page_p99_ms": head["page_uncached"]["p99_ms"],
            "page_errors": head["page_uncached"]["errors"],
            "page_1_client_p50_ms": head["page_1_client_uncached"]["p50_ms"],
            "page_1_client_p99_ms": head["page_1_client_uncached"]["p99_ms"],
            "page_think_req_per_s": head["page_think_uncached"]["req_per_s"],
            "page_think_p50_ms": head["page_think_uncached"]["p50_ms"],
            "page_think_p99_ms": head["page_think_uncached"]["p99_ms"],
            "page_think_errors": head["page_think_uncached"]["errors"],
        }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
