"""``zapx worker`` arguments, and the programs of deploy/supervisord.conf against the CLI."""

import configparser
import shlex

import pytest

from zapx import cli


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
