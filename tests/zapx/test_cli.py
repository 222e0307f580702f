"""``zapx worker`` arguments, the programs of deploy/supervisord.conf against the CLI, and
``zapx import``'s refusals as the real command prints them, and
``zapx migrate --status``, which reads and never creates."""

import configparser
import os
import shlex
import subprocess
import sys
import uuid

import pytest

from tests.conftest import make_company
from tests.processes import ZAPX
from tests.zapx.imports.conftest import contacts_of
from zapx import cli
from zapx.db import ContactImport, ContactList, Tenant, db, drop_database
from zapx.db.migrate import database_exists


@pytest.fixture
def execs(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "_exec", lambda argv: seen.append(argv) or 0)
    return seen


def _queues(argv):
    return argv[argv.index("--queues") + 1 :]


def test_worker_consumes_every_worker_queue_by_default(execs):
    assert cli.main(["worker", "--processes", "1", "--threads", "3"]) == 0
    argv = execs[0]
    assert argv[1] == "actors.worker"
    assert argv[argv.index("--threads") + 1] == "3"
    assert _queues(argv) == list(cli.WORKER_QUEUES)
    assert "engine" not in _queues(argv)


def test_worker_can_be_reserved_for_first_batches(execs):
    assert cli.main(["worker", "--queues", "delivery_first"]) == 0
    assert _queues(execs[0]) == ["delivery_first"]


@pytest.mark.parametrize(
    ("queues", "poll_ms"),
    [(["delivery_first"], cli.POLL_MS), (["delivery"], cli.IDLE_POLL_MS), ([], cli.IDLE_POLL_MS)],
)
def test_only_the_first_batch_worker_polls_often(execs, monkeypatch, queues, poll_ms):
    # setenv first, so that the undo removes what cli.main sets (it writes os.environ)
    monkeypatch.setenv("dramatiq_worker_timeout", "unset")
    monkeypatch.delenv("dramatiq_worker_timeout")
    assert cli.main(["worker", *(["--queues", *queues] if queues else [])]) == 0
    assert cli.os.environ["dramatiq_worker_timeout"] == str(poll_ms)
    assert cli.POLL_MS < cli.IDLE_POLL_MS


def test_worker_refuses_an_unknown_queue(execs, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["worker", "--queues", "engine"])
    assert exc.value.code == 2
    assert "invalid choice: 'engine'" in capsys.readouterr().err
    assert execs == []


def test_supervisord_programs_are_valid_zapx_commands(execs):
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(cli.ROOT / "deploy" / "supervisord.conf")
    programs = {s.split(":", 1)[1]: conf[s] for s in conf.sections() if s.startswith("program:")}
    assert set(programs) == {"sandbox", "engine", "worker", "worker_first", "api", "realtime"}
    for name, section in programs.items():
        words = shlex.split(section["command"])
        assert words[0].endswith("/.venv/bin/zapx"), name
        assert cli.parser().parse_args(words[1:]).command in cli.COMMANDS, name
        if words[1] == "worker":
            assert cli.main(words[1:]) == 0, name
    first, every = (programs[n]["command"] for n in ("worker_first", "worker"))
    assert _queues(shlex.split(first)) == ["delivery_first"]
    assert "--queues" not in every  # the main worker also takes first batches when it is free


def _zapx_import(*args: str) -> subprocess.CompletedProcess:
    """``zapx import ARGS`` in a child process, on the tests' database (the environment)."""
    argv = [sys.executable, "-m", "zapx.cli", "import", *args]
    env = os.environ | {"LOG_LEVEL": "warning"}
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, cwd=cli.ROOT, env=env, check=False
    )


@pytest.fixture
def importable(clean_db, tmp_path):
    """(company id, a valid CSV file, a PDF)."""
    csv_file = tmp_path / "contatos.csv"
    csv_file.write_text("nome;telefone\nAna;11 98765-4321\n")
    pdf = tmp_path / "folheto.csv"
    pdf.write_bytes(b"%PDF-1.4 binary")
    return make_company("cli"), str(csv_file), str(pdf)


def test_import_refusals_are_one_line_on_stderr_and_exit_1(importable, tmp_path):
    company, good, pdf = importable
    cases = [
        ([good, "--company", "999999"], "no company with id 999999"),
        ([good, "--company", str(company), "--list", "x" * 256], "at most 255 characters"),
        ([good, "--company", str(company), "--list", ""], "must not be empty"),
        ([good, "--company", "0"], "--company must be a positive integer id"),
        ([good, "--company", str(2**40)], "--company must be a positive integer id"),
        ([str(tmp_path / "missing.csv"), "--company", str(company)], "does not exist"),
        ([str(tmp_path), "--company", str(company)], "is not a file"),
        ([pdf, "--company", str(company)], "not a CSV or XLSX file"),
    ]
    problems = []
    for args, message in cases:
        done = _zapx_import(*args)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        ok = (
            done.returncode == 1
            and len(lines) == 1
            and lines[0].startswith("zapx import: ")
            and message in lines[0]
            and done.stdout == ""
        )
        if not ok:
            problems.append(f"{args[1:]}: rc {done.returncode}, stderr {done.stderr[-600:]!r}")
    assert not problems, "\n".join(problems)
    with db.connection_context():
        assert ContactImport.select().count() == 0 and ContactList.select().count() == 0


def test_import_of_a_good_file_still_works(importable):
    company, good, _ = importable
    done = _zapx_import(good, "--company", str(company), "--list", "Leads")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("import 1 done in") and "1 inserted" in done.stdout
    with db.connection_context():
        assert ContactList.get(ContactList.company == company).name == "Leads"
    assert contacts_of(Tenant(company)) == {}  # into the list, not the address book


def _migrate_status(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ZAPX, "migrate", "--status"], env=env, capture_output=True, text=True, timeout=60
    )


def test_migrate_status_of_a_missing_database_creates_nothing(process_env):
    url = (
        process_env["DATABASE_URL"].rsplit("/", 1)[0] + f"/zapx_test_absent_{uuid.uuid4().hex[:8]}"
    )
    try:
        result = _migrate_status(process_env | {"DATABASE_URL": url})
        assert not database_exists(url)
    finally:
        drop_database(url)
    assert result.returncode == 1
    name = url.rsplit("/", 1)[1]
    assert result.stderr.strip().splitlines() == [
        f"zapx migrate: database {name} does not exist "
        "(zapx migrate without --status creates it and applies every migration)"
    ]
    assert result.stdout == ""


def test_migrate_status_lists_the_applied_migrations(process_env):
    result = _migrate_status(process_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("applied  0") for line in lines), lines
    assert "created database" not in result.stdout
