"""``zapx worker`` arguments, the programs of deploy/supervisord.conf against the CLI, and
``zapx migrate --status``, which reads and never creates."""

import configparser
import shlex
import subprocess
import uuid

import pytest

from tests.processes import ZAPX
from zapx import cli
from zapx.db import drop_database
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
    assert set(programs) == {"sandbox", "engine", "worker", "worker_first", "api"}
    for name, section in programs.items():
        words = shlex.split(section["command"])
        assert words[0].endswith("/.venv/bin/zapx"), name
        if words[1] == "worker":
            assert cli.main(words[1:]) == 0, name
    first, every = (programs[n]["command"] for n in ("worker_first", "worker"))
    assert _queues(shlex.split(first)) == ["delivery_first"]
    assert "--queues" not in every  # the main worker also takes first batches when it is free


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
