"""kill -9 of a worker in the middle of an import: the import, resumed by another worker, ends
with exactly the rows of an uninterrupted import, and running it again adds nothing."""

from __future__ import annotations

import os
import signal

import pytest

from tests.conftest import make_company
from tests.processes import ZAPX, Process, wait_for
from tests.zapx.imports.conftest import items_of, make_list
from tests.zapx.imports.generate import write_csv
from zapx.db import ContactImport, ImportRejection, Tenant, db
from zapx.imports import create_import, get_import, run_import

COUNTERS = ("rowsRead", "inserted", "updated", "unchanged", "merged", "rejected")


def _state(import_id: int) -> ContactImport:
    with db.connection_context():
        return ContactImport.get_by_id(import_id)


def _worker(env, tmp_path, name) -> Process:
    return Process([ZAPX, "worker", "--processes", "1", "--threads", "2"], env, tmp_path, name)


def _crash_and_resume(process_env, tmp_path, rows: int, chunk_rows: int) -> None:
    from actors.imports import import_contacts

    path = tmp_path / "contacts.csv"
    write_csv(path, rows)
    env = process_env | {"IMPORT_CHUNK_ROWS": str(chunk_rows)}
    crashed, whole = Tenant(make_company("crashed")), Tenant(make_company("whole"))
    crashed_list, whole_list = make_list(crashed), make_list(whole)
    with db.connection_context():
        imp = create_import(crashed, str(path), path.name, list_id=crashed_list, owned=False)
    worker = _worker(env, tmp_path, "worker-1")
    try:
        import_contacts.send(imp.id)
        wait_for(lambda: _state(imp.id).checkpoint > 1, timeout_s=120, what="a committed chunk")
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(10)
    finally:
        worker.stop()
    halfway = _state(imp.id)
    assert halfway.state == "running", worker.output()
    assert 1 < halfway.checkpoint <= rows, "killed after the end: make the file larger"
    # Dramatiq hands an unacked message to another worker once the dead one's heartbeat is
    # stale (60 s); sending it again stands for that redelivery.
    worker = _worker(env, tmp_path, "worker-2")
    try:
        import_contacts.send(imp.id)
        wait_for(lambda: _state(imp.id).state == "done", timeout_s=300, what="the import done")
    finally:
        worker.stop()
    with db.connection_context():
        reference = create_import(whole, str(path), path.name, list_id=whole_list, owned=False)
        assert run_import(reference.id, "BR", chunk_rows=chunk_rows) == "done"
        resumed, expected = get_import(crashed, imp.id), get_import(whole, reference.id)
        rejected = ImportRejection.select().where(ImportRejection.contact_import == imp.id)
        assert rejected.count() == resumed["rejected"]
    assert {k: resumed[k] for k in COUNTERS} == {k: expected[k] for k in COUNTERS}
    final = items_of(crashed_list)
    assert final == items_of(whole_list)
    assert len(final) == resumed["inserted"]
    with db.connection_context():  # and a second run of the whole file changes nothing
        again = create_import(crashed, str(path), path.name, list_id=crashed_list, owned=False)
        assert run_import(again.id, "BR", chunk_rows=chunk_rows) == "done"
        summary = get_import(crashed, again.id)
    # Nothing new; only numbers repeated across chunk boundaries are written again (in file
    # order, to the same final values).
    assert summary["inserted"] == 0 and summary["updated"] <= 2 * summary["merged"] + 20
    assert items_of(crashed_list) == final


def test_worker_killed_mid_import(process_env, tmp_path, broker, clean_db):
    _crash_and_resume(process_env, tmp_path, rows=10_000, chunk_rows=1_000)


@pytest.mark.slow
def test_worker_killed_mid_import_of_300k_rows(process_env, tmp_path, broker, clean_db):
    _crash_and_resume(process_env, tmp_path, rows=300_000, chunk_rows=50_000)
