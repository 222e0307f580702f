"""scripts/lib.sh on a host whose PostgreSQL asks for passwords on loopback, as a fresh
Debian/Ubuntu install's does: the login failure is reported as one, and ``ensure_postgres``
adds the loopback trust rules and reloads the running cluster so that they count.

Each test runs a throwaway cluster (``initdb`` in a temporary directory, on a free port) started
with ``scram-sha-256`` on 127.0.0.1, and points lib.sh at it with ``PG_CONF_DIR`` / ``PG_CTL``:
the machine's own clusters (``/etc/postgresql``) are never touched, which the tests check.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

from tests.processes import ZAPX, free_port

ROOT = Path(__file__).resolve().parents[2]
# PostgreSQL refuses to run as root: the cluster belongs to the postgres user then.
AS_OWNER = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


def _pg_bin() -> Path:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found.sort(key=lambda path: int(path.split("/")[4]))
    assert found, "PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin)"
    return Path(found[-1]).parent


def _machine_clusters() -> dict[str, str]:
    """Digest of every configuration file of the machine's own clusters."""
    out = {}
    for path in glob.glob("/etc/postgresql/*/*/*.conf"):
        out[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


class Cluster:
    def __init__(self, data: Path, port: int, ctl: list[str]):
        self.data, self.port, self.ctl = data, port, ctl

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/zapx"

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])


@pytest.fixture
def scram_cluster():
    """A started cluster with password (scram-sha-256) authentication on 127.0.0.1."""
    before = _machine_clusters()
    bin_dir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="zapx-pg-"))
    data = base / "data"
    if AS_OWNER:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    ctl = [*AS_OWNER, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
    subprocess.run(
        [*AS_OWNER, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
         "--auth-host=scram-sha-256", "--auth-local=trust"],
        check=True, capture_output=True,
    )  # fmt: skip
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\n")
        conf.write(f"unix_socket_directories = '{base}'\n")
    subprocess.run([*ctl, "start"], check=True, capture_output=True)
    try:
        yield Cluster(data, port, ctl)
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        assert _machine_clusters() == before, "the machine's own cluster was modified"


def _env(process_env: dict, cluster: Cluster, **extra) -> dict:
    env = {k: v for k, v in process_env.items() if not k.startswith("PG")}  # no PGPASSWORD
    return env | {
        "DATABASE_URL": cluster.url,
        "PG_CONF_DIR": str(cluster.data),
        "PG_CTL": " ".join(cluster.ctl),
        **extra,
    }


def _lib(env: dict, *commands: str) -> subprocess.CompletedProcess:
    script = f'source "{ROOT}/scripts/lib.sh"; ' + "; ".join(commands)
    return subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )


def _check(env: dict) -> str:
    return subprocess.run([ZAPX, "check"], env=env, capture_output=True, text=True).stdout


def test_check_tells_a_refused_login_from_a_server_that_does_not_answer(scram_cluster, process_env):
    env = _env(process_env, scram_cluster)
    refused = _check(env)
    assert "postgres authentication failed: " in refused, refused
    assert "password" in refused  # libpq's reason: the server asked for one
    nothing = _check(env | {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"})
    assert "postgres down: " in nothing, nothing


def test_ensure_postgres_makes_a_running_password_cluster_trust_loopback(
    scram_cluster, process_env
):
    env = _env(process_env, scram_cluster)
    postmaster = scram_cluster.postmaster_pid()
    result = _lib(env, "ensure_postgres")
    assert result.returncode == 0, result.stderr
    assert "refused the login" in result.stderr and "does not answer" not in result.stderr
    psycopg2.connect(
        host="127.0.0.1", port=scram_cluster.port, user="postgres", dbname="postgres"
    ).close()  # no password: trusted now
    hba = (scram_cluster.data / "pg_hba.conf").read_text().splitlines()
    assert hba[:3] == [
        "# zapx: trust loopback",
        "host all all 127.0.0.1/32 trust",
        "host all all ::1/128 trust",
    ]
    assert scram_cluster.postmaster_pid() == postmaster  # reloaded, not restarted
    # Run again: the rules are not added twice and nothing is done to an answering server.
    again = _lib(env, "ensure_postgres")
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert (scram_cluster.data / "pg_hba.conf").read_text().count("zapx: trust loopback") == 1


def test_a_login_still_refused_is_reported_as_such(scram_cluster, process_env, tmp_path):
    # The rules written but never read (no reload: what lib.sh used to do to a running
    # cluster): the error names the refused login, not a server that does not answer.
    no_reload = tmp_path / "pg_ctl"
    ctl = " ".join(scram_cluster.ctl)
    no_reload.write_text(f'#!/bin/sh\n[ "$1" = reload ] && exit 0\nexec {ctl} "$@"\n')
    no_reload.chmod(0o755)
    env = _env(process_env, scram_cluster, PG_CTL=str(no_reload))
    result = _lib(env, "ensure_postgres")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: PostgreSQL at 127.0.0.1:") and "still refuses the login" in last
    assert "authentication failed: " in last and "password" in last, last
