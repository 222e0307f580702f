"""Contact imports: accept a file, run it (in the request, a worker or the CLI), report on it.

:func:`create_import` checks the file (format, header) before it records anything, so a refused
file changes nothing. :func:`run_import` reads the file from its checkpoint, builds records in
chunks and hands each chunk to a loader thread, so parsing (Python) and loading (PostgreSQL) run
at the same time on two cores; at most two chunks are in memory.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from zapx import cache
from zapx.contact_lists import publish_list_reload
from zapx.db import ContactImport, ContactList, ImportRejection, Tenant, db, utcnow
from zapx.errors import ValidationError
from zapx.imports import readers
from zapx.imports.headers import map_header
from zapx.imports.load import Chunk, Counts, Loader, Superseded
from zapx.imports.progress import progress_of
from zapx.imports.rows import Rejected, RowBuilder, SafeCsv, merge
from zapx.paging import paginate
from zapx.status import ImportState
from zapx.uploads import write_limited

log = logging.getLogger("zapx.imports")

CHUNK_ROWS = 25_000
#: Files up to these sizes are imported inside the request (201); larger ones by a worker (202).
INLINE_CSV_BYTES = 1024 * 1024
INLINE_XLSX_BYTES = 256 * 1024
#: pg_advisory_lock(class, import id): one run of an import at a time.
_LOCK_CLASS = 0x696D70  # "imp"

Progress = Callable[[int, float], None]


def save_upload(stream, import_dir: str, company_id: int, filename: str, max_bytes: int) -> str:
    """Stream an upload to ``import_dir/<company>/<random>.<ext>``; at most ``max_bytes``."""
    ext = ".xlsx" if (filename or "").lower().endswith(".xlsx") else ".csv"
    target = Path(import_dir) / str(company_id) / (secrets.token_hex(12) + ext)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_limited(stream, target, max_bytes)
    return str(target)


def _header(rows: Iterator[tuple[int, list[str]]]):
    """The first non-blank row: ``(its number, its Columns)``."""
    for number, cells in rows:
        if any(c.strip() for c in cells):
            return number, map_header(cells)
    raise ValidationError("file has no header row (and no rows)", field="file")


def create_import(
    tenant: Tenant,
    path: str,
    filename: str,
    *,
    list_id: int | None = None,
    sheet: str | None = None,
    owned: bool = True,
) -> ContactImport:
    """Check the file at ``path`` and record a queued import of it. On a ValidationError nothing
    is recorded and an ``owned`` file is removed."""
    try:
        if list_id is not None:
            tenant.get(ContactList, list_id, label="ContactList")
        source = readers.open_source(path, sheet)
        rows = iter(readers.Rows(source))
        try:
            header_row, columns = _header(rows)
            if not any(any(c.strip() for c in cells) for _, cells in rows):
                raise ValidationError("file has a header row but no rows under it", field="file")
        finally:
            rows.close()  # type: ignore[attr-defined]
        with db.atomic():
            return ContactImport.create(
                company=tenant.company_id,
                contact_list=list_id,
                target="list" if list_id is not None else "contacts",
                file_path=path if owned else "!" + path,
                filename=(filename or os.path.basename(path))[:255],
                file_format=source.format,
                sheet=source.sheet,
                encoding=source.encoding,
                delimiter=source.delimiter,
                size_bytes=source.size,
                columns=list(columns.header),
                checkpoint=header_row,
            )
    except BaseException:
        if owned:
            Path(path).unlink(missing_ok=True)
        raise


def runs_inline(imp: ContactImport) -> bool:
    limit = INLINE_XLSX_BYTES if imp.file_format == "xlsx" else INLINE_CSV_BYTES
    return imp.size_bytes <= limit


def _file(imp: ContactImport) -> tuple[str, bool]:
    """(path, owned): a CLI import reads the user's file in place and never removes it."""
    path = imp.file_path
    return (path[1:], False) if path.startswith("!") else (path, True)


def _finish(import_id: int, state: str, error: str = "") -> None:
    done = {"fraction_read": 1.0} if state == ImportState.DONE else {}
    with db.atomic():
        ContactImport.update(
            state=state, error=error[:2000], finished_at=utcnow(), updated_at=utcnow(), **done
        ).where(ContactImport.id == import_id).execute()


def run_import(
    import_id: int,
    region: str,
    *,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
    after_chunk: Callable[[int, str], None] | None = None,
) -> str:
    """Run (or resume) import ``import_id``; returns its state afterwards.

    Safe to call twice at once (the second returns at once) or again after a crash (it resumes
    after the checkpoint). A bad file ends the import ``failed`` with the reason; a database
    error leaves it to be resumed and is raised. ``after_chunk(company_id, namespace)`` runs
    after each chunk commits, with the query-cache namespace the chunk changed (``contacts``,
    or ``lists`` for an import into a list, whose item count moved; see :func:`invalidator`).
    """
    got = db.execute_sql(
        "SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS, import_id)
    ).fetchone()[0]
    if not got:
        log.info("import already running elsewhere", extra={"import_id": import_id})
        return ImportState.RUNNING
    try:
        imp = ContactImport.get_or_none(ContactImport.id == import_id)
        if imp is None or imp.state in (ImportState.DONE, ImportState.FAILED):
            return imp.state if imp else "missing"
        with db.atomic():
            ContactImport.update(
                state=ImportState.RUNNING,
                started_at=imp.started_at or utcnow(),
                updated_at=utcnow(),
            ).where(ContactImport.id == import_id).execute()
        path, owned = _file(imp)
        try:
            _run(imp, path, region, progress, chunk_rows, after_chunk)
        except ValidationError as exc:
            _finish(import_id, ImportState.FAILED, exc.message)
            log.warning("import failed", extra={"import_id": import_id, "error": exc.message})
        except Superseded:
            return ImportState.RUNNING
        else:
            _finish(import_id, ImportState.DONE)
        if imp.contact_list_id is not None:  # the list page merges the rows of this event
            publish_list_reload(Tenant(imp.company_id), imp.contact_list_id)
        if owned:
            Path(path).unlink(missing_ok=True)
        return ContactImport.get_by_id(import_id).state
    finally:
        db.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, import_id))


def invalidator(redis, prefix: str) -> Callable[[int, str], None]:
    """``after_chunk`` for :func:`run_import`: bumps the company's namespace the chunk changed
    (its contacts pages, or its lists' counts), in whichever process runs the import."""
    return lambda company_id, namespace: cache.bump(redis, prefix, company_id, namespace)


def _run(
    imp: ContactImport, path: str, region: str, progress, chunk_rows: int, after_chunk=None
) -> None:
    if not os.path.exists(path):
        raise ValidationError("the uploaded file is gone; upload it again", field="file")
    source = readers.open_source(path, imp.sheet or None)
    reader = readers.Rows(source)
    rows = iter(reader)
    _, columns = _header(rows)
    builder = RowBuilder(columns, region, keep_unassigned=imp.target == "list")
    bump = None
    if after_chunk is not None:
        namespace = cache.CONTACTS if imp.target == "contacts" else cache.LISTS
        bump = lambda: after_chunk(imp.company_id, namespace)  # noqa: E731
    loader = _LoaderThread(Loader(imp.id, imp.target, imp.company_id, imp.contact_list_id), bump)
    checkpoint = imp.checkpoint
    chunk = Chunk(first_row=checkpoint)
    done_rows, last_report = imp.rows_read, time.monotonic()
    try:
        for number, cells in rows:
            if number <= checkpoint:
                continue  # committed by an earlier run
            chunk.last_row = number
            try:
                record = builder.build(cells)
            except Rejected as exc:
                chunk.rows_read += 1
                chunk.rejected.append((number, cells, str(exc)))
            else:
                if record is not None:
                    chunk.rows_read += 1
                    known = chunk.records.get(record[0])
                    if known is None:
                        chunk.records[record[0]] = record
                    else:
                        merge(known, record)
            if number - chunk.first_row >= chunk_rows:
                done_rows += chunk.rows_read
                chunk.fraction = reader.fraction()
                loader.put(chunk)
                chunk = Chunk(first_row=number)
            if progress and number % 10_000 == 0 and time.monotonic() - last_report > 0.2:
                progress(done_rows + chunk.rows_read, reader.fraction())
                last_report = time.monotonic()
        if chunk.last_row:
            chunk.fraction = 1.0
            loader.put(chunk)
        loader.close()
    finally:
        rows.close()  # type: ignore[attr-defined]
        loader.stop()
    if progress:
        progress(loader.total.rows_read + imp.rows_read, 1.0)


class _LoaderThread:
    """Loads chunks in a thread of its own (its own pooled connection), one behind the reader.

    ``put`` blocks while a chunk is waiting, so the reader stays at most one chunk ahead; an
    error in the thread is raised from the next ``put`` or from ``close``.
    """

    def __init__(self, loader: Loader, after_chunk: Callable[[], None] | None = None):
        self.loader = loader
        self.after_chunk = after_chunk
        self.total = Counts()
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._work, name="zapx-import-load", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            with db.connection_context():
                while (chunk := self._queue.get()) is not None:
                    self.total.add(self.loader.load(chunk, chunk.first_row))
                    if self.after_chunk is not None:
                        self.after_chunk()  # the chunk committed: cached pages are stale
        except BaseException as exc:  # handed to the reader thread
            self.error = exc
            while self._queue.get() is not None:  # drain, so put() never blocks forever
                pass

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def put(self, chunk: Chunk) -> None:
        """Hand ``chunk`` over (called by the reading thread, which also writes its CSV text)."""
        self._raise()
        self.loader.stage(chunk)
        self._queue.put(chunk)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


# --- reporting ---------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if value else None


def _progress(imp: ContactImport):
    """The percentage and rows/s of the CLI's bar, from what the last committed chunk stored:
    rows over the run's time so far (to its end once it has one)."""
    if imp.started_at is None:
        return progress_of(0, 0.0, 1.0)
    until = imp.finished_at or utcnow()
    return progress_of(imp.rows_read, imp.fraction_read, (until - imp.started_at).total_seconds())


def import_dict(imp: ContactImport) -> dict:
    accounted = imp.inserted + imp.updated + imp.unchanged + imp.rejected
    shown = _progress(imp)
    return {
        "id": imp.id,
        "importId": imp.id,
        "state": imp.state,
        "target": imp.target,
        "contactListId": imp.contact_list_id,
        "filename": imp.filename,
        "format": imp.file_format,
        "encoding": imp.encoding,
        "delimiter": imp.delimiter,
        "sheet": imp.sheet,
        "sizeBytes": imp.size_bytes,
        "columns": imp.columns,
        "rowsRead": imp.rows_read,
        "inserted": imp.inserted,
        "updated": imp.updated,
        "unchanged": imp.unchanged,
        "merged": max(0, imp.rows_read - accounted),
        "rejected": imp.rejected,
        "percent": shown.percent,
        "rowsPerS": shown.rows_per_s,
        "error": imp.error or None,
        "rejectedUrl": f"/imports/{imp.id}/rejected.csv",
        "createdAt": _iso(imp.created_at),
        "startedAt": _iso(imp.started_at),
        "finishedAt": _iso(imp.finished_at),
    }


def get_import(tenant: Tenant, import_id: int) -> dict:
    return import_dict(tenant.get(ContactImport, import_id, label="Import"))


def imports_page(tenant: Tenant, number: int) -> dict:
    """The company's imports, newest first, 20 a page."""
    query = tenant.select(ContactImport).order_by(
        ContactImport.created_at.desc(), ContactImport.id.desc()
    )
    return paginate(query, number, import_dict)


def rejected_csv(tenant: Tenant, import_id: int, page: int = 5000) -> Iterator[bytes]:
    """The rejected rows as CSV (row, the file's columns, reason), formula cells neutralized.

    Checks the tenant at once; the rows are read page by page as the response is sent.
    """
    imp = tenant.get(ContactImport, import_id, label="Import")
    header = ["row", *imp.columns, "reason"]

    def pages() -> Iterator[bytes]:
        out = SafeCsv()
        out.row(header)
        yield ("\ufeff" + out.take()).encode()  # the BOM makes Excel read UTF-8
        last = 0
        while True:
            with db.connection_context():
                batch = list(
                    ImportRejection.select(
                        ImportRejection.row_number, ImportRejection.values, ImportRejection.reason
                    )
                    .where(
                        (ImportRejection.contact_import == imp.id)
                        & (ImportRejection.row_number > last)
                    )
                    .order_by(ImportRejection.row_number)
                    .limit(page)
                    .tuples()
                )
            if not batch:
                return
            for number, values, reason in batch:
                out.row([number, *values, reason])
            last = batch[-1][0]
            yield out.take().encode()

    return pages()
