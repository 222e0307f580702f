"""``scripts/run > file 2>&1`` writes an intact log: the script's own lines, the migrate and demo
output, supervisord's lines and every line of every program, none lost or cut, in order.

The test runs the real scripts/run with the real deploy/supervisord.conf, whose programs'
commands (and only those, and supervisord's own files) are swapped for ones that write numbered
JSON lines the way zapx logs (one write a line), as fast as they can.
"""

from __future__ import annotations

import configparser
import json
import re
import sys
from pathlib import Path

from tests.processes import Process, wait_for

ROOT = Path(__file__).resolve().parents[2]
LINES = 2000
EMITTER = """\
import os, sys, time
name, lines = sys.argv[1], int(sys.argv[2])
for i in range(lines):
    os.write(2, (json.dumps({"program": name, "i": i, "pad": "x" * 150}) + "\\n").encode())
    if i % 100 == 0:
        time.sleep(0.01)
open(name + ".done", "w").close()
time.sleep(600)
""".replace("import os", "import json, os")
SUPERVISORD_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]{4} ")


def _config(tmp: Path) -> tuple[Path, list[str]]:
    # Raw: supervisord's own %(here)s stays as it is written.
    conf = configparser.RawConfigParser()
    conf.read(ROOT / "deploy" / "supervisord.conf")
    conf["supervisord"].update(
        logfile=str(tmp / "supervisord.log"), pidfile=str(tmp / "sd.pid"), childlogdir=str(tmp)
    )
    conf["supervisord"]["environment"] = f'PROMETHEUS_MULTIPROC_DIR="{tmp / "metrics"}"'
    conf["unix_http_server"]["file"] = str(tmp / "sd.sock")
    conf["supervisorctl"]["serverurl"] = f"unix://{tmp}/sd.sock"
    (tmp / "emit.py").write_text(EMITTER)
    names = []
    for section in conf.sections():
        if not section.startswith("program:"):
            continue
        program = conf[section]
        # What this test is about: every program writes to supervisord's stdout.
        assert program["stdout_logfile"] == "/dev/stdout" and program["redirect_stderr"] == "true"
        name = section.split(":", 1)[1]
        names.append(name)
        program.update(
            command=f"{sys.executable} {tmp / 'emit.py'} {name} {LINES}",
            directory=str(tmp),
            autorestart="false",
            startsecs="0",
        )
    path = tmp / "supervisord.conf"
    with open(path, "w") as out:
        conf.write(out)
    return path, names


def test_run_redirected_to_a_file_writes_an_intact_log(process_env, tmp_path, clean_db):
    conf, names = _config(tmp_path)
    # Process opens its log like the shell's "> file 2>&1": truncated, not in append mode.
    run = Process(
        ["bash", str(ROOT / "scripts" / "run")],
        process_env | {"SUPERVISORD_CONF": str(conf)},
        tmp_path,
        "run",
    )
    try:
        done = [tmp_path / f"{name}.done" for name in names]
        wait_for(lambda: all(p.exists() for p in done), timeout_s=60, what="every program's lines")
    finally:
        assert run.stop(timeout_s=30) == 0
    lines = run.log_path.read_text().splitlines()

    ours = [line for line in lines if line.startswith("==> ")]
    assert ours[0] == "==> applying migrations" and ours[-1].startswith("==> starting supervisord")
    first_program_line = next(i for i, line in enumerate(lines) if '"program"' in line)
    assert lines.index(ours[-1]) < first_program_line
    assert any(line.startswith("demo company ") for line in lines)

    seen: dict[str, list[int]] = {name: [] for name in names}
    for line in lines:
        if '"program"' in line:
            record = json.loads(line)  # a cut or merged line does not parse
            seen[record["program"]].append(record["i"])
    assert seen == {name: list(range(LINES)) for name in names}

    for name in names:
        assert any(
            SUPERVISORD_LINE.match(line) and f"spawned: '{name}' with pid" in line for line in lines
        ), name
        assert any(SUPERVISORD_LINE.match(line) and f"stopped: {name} " in line for line in lines)
