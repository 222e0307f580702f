"""An import's percentage and rows/s: one computation for the CLI's bar and ``GET /imports/{id}``,
the share of the file stored with each committed chunk."""

from __future__ import annotations

from tests.zapx.imports.generate import write_csv
from zapx.db import ContactImport, db
from zapx.imports import create_import, get_import, run_import
from zapx.imports.progress import progress_of


def test_percent_and_rate_from_rows_fraction_and_time():
    shown = progress_of(50_000, 0.25, 2.0)
    assert (shown.percent, shown.rows_per_s) == (25.0, 25_000)
    assert progress_of(10, 1.7, 0.0).percent == 100.0  # never past the end, nor a division by 0
    assert progress_of(0, -0.1, 5.0).percent == 0.0


def test_each_committed_chunk_stores_how_far_into_the_file_it_is(company, tmp_path):
    tenant = company()
    path = tmp_path / "c.csv"
    write_csv(path, 4000)
    seen = []

    def after_chunk(company_id: int, namespace: str) -> None:  # in the loader thread, after commit
        row = ContactImport.get_by_id(imp.id)
        seen.append((row.rows_read, row.fraction_read, get_import(tenant, imp.id)["percent"]))

    with db.connection_context():
        imp = create_import(tenant, str(path), "c.csv", owned=False)
        assert get_import(tenant, imp.id)["percent"] == 0.0  # queued
        run_import(imp.id, "BR", chunk_rows=1000, after_chunk=after_chunk)
        done = get_import(tenant, imp.id)
    assert len(seen) == 4
    fractions = [f for _, f, _ in seen]
    assert fractions == sorted(fractions) and 0 < fractions[0] < 0.5 and fractions[-1] == 1.0
    assert [p for _, _, p in seen] == [round(f * 100, 1) for f in fractions]
    assert done["state"] == "done" and done["percent"] == 100.0
    assert done["rowsPerS"] > 0 and done["rowsRead"] == 4000
