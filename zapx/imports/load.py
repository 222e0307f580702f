"""Loading a chunk of records into PostgreSQL in bulk, in one transaction with its checkpoint.

Per chunk (``IMPORT_CHUNK_ROWS`` source rows, 25,000 by default), one transaction:

1. lock the import row and check its checkpoint is where this run left it (another run that got
   further wins; this one stops);
2. lock the company (and list) every row references, and skip the per-row foreign-key triggers
   for this transaction when the role may (``may_skip_row_triggers``);
3. read the chunk's numbers that already exist (one ``= ANY`` query, rows locked) and merge:
   the file's non-empty values win, empty cells keep what is there, custom fields merge by name;
   rows that would not change are left alone;
4. ``COPY`` the new numbers straight into the table; the changed ones (and all of them, should
   another writer add one of the new numbers meanwhile) go through a temporary staging table and
   one ``INSERT ... SELECT ... ON CONFLICT (company_id, number) DO UPDATE`` (``(contact_list_id,
   number)`` for a list) counting inserts and updates with ``RETURNING (xmax = 0)``; list items
   whose number is well formed but not in use are then marked ``is_whatsapp_valid = false``
   (one ``UPDATE``, only in a chunk that has such numbers);
5. ``COPY`` the rejected rows, and move the checkpoint and the counters.

The CSV text of step 4 is written by the reading thread (``Loader.stage``) before it hands the
chunk over, so the loading thread spends its time waiting on PostgreSQL, not on Python.

A kill anywhere loses at most the open transaction; the next run starts after the checkpoint and
writes the same rows (the upsert merges, so even a repeated chunk duplicates nothing).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json

import peewee
import psycopg2.errors

from zapx.contact_fields import COLUMNS, EXTRA_COLUMN, PERSON, column_list
from zapx.db import db
from zapx.imports.headers import header_key
from zapx.imports.rows import (
    ASSIGNED,
    CARGO,
    CONDOMINIO,
    EMAIL,
    ENDERECO,
    EXTRA,
    NAME,
    NUMBER,
    extra_json,
    search_of,
)

# The staged CSV lines carry the target table's leading columns too (created_at, updated_at,
# company_id, then contact_list_id or is_group), so the same text can go straight into the
# target table when none of the chunk's numbers exists yet (see ``Loader._upsert``).
_LEADING = {
    "contacts": "created_at, updated_at, company_id, is_group",
    "list": "created_at, updated_at, company_id, contact_list_id",
}
_COLUMNS = f"{column_list()}, search"
_NOT_NULL = f"FORCE_NOT_NULL ({column_list(fields=PERSON)}, search)"
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS zapx_import_stage (created_at text, updated_at text, "
    f"company_id text, scope text, {', '.join(f + ' text' for f in PERSON)}, "
    f"{EXTRA_COLUMN} jsonb, search text) ON COMMIT DELETE ROWS"
)
_COPY_STAGE = f"COPY zapx_import_stage FROM STDIN WITH (FORMAT csv, {_NOT_NULL})"
_COPY_TARGET = {
    "contacts": f"COPY contacts ({_LEADING['contacts']}, {_COLUMNS}) FROM STDIN "
    f"WITH (FORMAT csv, {_NOT_NULL})",
    "list": f"COPY contact_list_items ({_LEADING['list']}, {_COLUMNS}) FROM STDIN "
    f"WITH (FORMAT csv, {_NOT_NULL})",
}
_COPY_REJECTED = (
    "COPY import_rejections (import_id, row_number, values, reason) FROM STDIN WITH (FORMAT csv)"
)
_FIELDS = f"{column_list(fields=COLUMNS[1:])}, search"  # all but the number, the conflict key
_SET = ", ".join(f"{f} = excluded.{f}" for f in _FIELDS.split(", "))
_UPSERT = {
    "contacts": (
        "WITH up AS (INSERT INTO contacts AS t (created_at, updated_at, company_id, number, "
        f"{_FIELDS}, is_group) SELECT now(), now(), %s, number, {_FIELDS}, false "
        "FROM zapx_import_stage ON CONFLICT (company_id, number) DO UPDATE SET "
        f"updated_at = now(), {_SET} RETURNING (t.xmax = 0) AS fresh) "
        "SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh) FROM up"
    ),
    "list": (
        "WITH up AS (INSERT INTO contact_list_items AS t (created_at, updated_at, company_id, "
        f"contact_list_id, number, {_FIELDS}) SELECT now(), now(), %s, %s, number, {_FIELDS} "
        "FROM zapx_import_stage ON CONFLICT (contact_list_id, number) DO UPDATE SET "
        f"updated_at = now(), {_SET} RETURNING (t.xmax = 0) AS fresh) "
        "SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh) FROM up"
    ),
}
_EXISTING = {
    "contacts": (
        f"SELECT {column_list()} FROM contacts "
        "WHERE company_id = %s AND number = ANY(string_to_array(%s, ',')) FOR UPDATE"
    ),
    "list": (
        f"SELECT {column_list()} "
        "FROM contact_list_items WHERE contact_list_id = %s "
        "AND number = ANY(string_to_array(%s, ',')) FOR UPDATE"
    ),
}


#: List items whose number is well formed but not in use are marked as not on WhatsApp
#: (campaigns skip them); numbers are the chunk's, joined by commas.
_NOT_ON_WHATSAPP = (
    "UPDATE contact_list_items SET is_whatsapp_valid = false WHERE contact_list_id = %s "
    "AND number = ANY(string_to_array(%s, ',')) AND is_whatsapp_valid IS DISTINCT FROM false"
)


#: The rows every row of a chunk references, locked as PostgreSQL's foreign-key checks would
#: lock them (see ``Loader.load``). Arguments: ``Loader.upsert_args``.
_PARENTS = {
    "contacts": "SELECT 1 FROM companies WHERE id = %s FOR KEY SHARE",
    "list": (
        "SELECT 1 FROM companies c JOIN contact_lists l ON l.company_id = c.id "
        "WHERE c.id = %s AND l.id = %s FOR KEY SHARE OF c, l"
    ),
}


def may_skip_row_triggers() -> bool:
    """Whether this connection's role may set ``session_replication_role`` (a superuser, or on
    PostgreSQL 15+ a role granted ``SET ON PARAMETER session_replication_role``)."""
    try:
        row = db.execute_sql(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if row and row[0]:
            return True
        row = db.execute_sql(
            "SELECT has_parameter_privilege('session_replication_role', 'SET')"
        ).fetchone()
        return bool(row and row[0])
    except peewee.DatabaseError:  # before PostgreSQL 15 there is no parameter privilege
        return False


class Superseded(Exception):
    """Another run of the same import committed past this run's position; this run stops."""


@dataclasses.dataclass
class Chunk:
    """Source rows ``(first_row, last_row]``: their records by number, and the rejected rows."""

    first_row: int
    last_row: int = 0
    rows_read: int = 0
    merged: int = 0
    #: Share of the file read (0..1) up to this chunk's last row, stored with its checkpoint.
    fraction: float = 0.0
    records: dict = dataclasses.field(default_factory=dict)
    rejected: list = dataclasses.field(default_factory=list)
    #: The records as CSV text (``Loader.stage``), each number's ``(start, end)`` in it, and
    #: the text every line starts with (the leading columns, the same for the whole chunk).
    staged: str = ""
    offsets: dict = dataclasses.field(default_factory=dict)
    leading: str = ""


@dataclasses.dataclass
class Counts:
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: Counts) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _merged_with(record: list, row: tuple) -> list | None:
    """``record`` merged over the existing ``row``; None when nothing would change."""
    _, name, email, condominio, endereco, cargo, extra_info = row
    final = [
        record[NUMBER],
        record[NAME] or name,
        record[EMAIL] or email,
        record[CONDOMINIO] or condominio,
        record[ENDERECO] or endereco,
        record[CARGO] or cargo,
        None,
    ]
    old = {item.get("name"): item.get("value", "") for item in extra_info or ()}
    extra = dict(old)
    if record[EXTRA]:
        # A custom field matches an existing one whatever its case or accents ("plano", "Plano").
        known = {header_key(key): key for key in old}
        for key, value in record[EXTRA].items():
            extra[known.get(header_key(key), key)] = value
    final[EXTRA] = extra or None
    same = (name, email, condominio, endereco, cargo) == tuple(final[1:6]) and old == extra
    return None if same else final


def _stage_line(buf, writer, leading: str, record: list) -> None:
    number, name, email = record[NUMBER], record[NAME] or record[NUMBER], record[EMAIL]
    buf.write(leading)  # the same for every line: written once, not quoted row by row
    writer.writerow(
        (
            number,
            name,
            email,
            record[CONDOMINIO],
            record[ENDERECO],
            record[CARGO],
            extra_json(record[EXTRA]),
            search_of(name, number, email),
        )
    )


def _copy(cur, sql: str, text: str) -> None:
    # One read of the whole text: in 8 kB reads (the default) each read waits for the GIL,
    # which the reading thread holds while it builds the next chunk.
    cur.copy_expert(sql, io.StringIO(text), size=max(len(text), 8192))


class Loader:
    """Writes chunks of one import into its target; one instance per thread that loads."""

    def __init__(self, import_id: int, target: str, company_id: int, list_id: int | None):
        self.import_id = import_id
        self.target = target
        self.owner = list_id if target == "list" else company_id
        self.upsert_args = (company_id, list_id) if target == "list" else (company_id,)
        self.skip_row_triggers: bool | None = None  # decided on the first chunk
        self._scope = list_id if target == "list" else "f"  # contact_list_id, or is_group

    def stage(self, chunk: Chunk) -> None:
        """Write ``chunk``'s records as CSV lines of the target table's columns. Called by the
        reading thread before it hands the chunk over: the loading thread's time between
        statements is time PostgreSQL waits. The loader only rewrites the lines of numbers that
        already exist (usually none)."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        chunk.leading = f"{now},{now},{self.upsert_args[0]},{self._scope},"
        buf = io.StringIO()
        writer = csv.writer(buf)
        offsets = chunk.offsets
        for number, record in chunk.records.items():
            start = buf.tell()  # in characters, as str slicing counts
            _stage_line(buf, writer, chunk.leading, record)
            offsets[number] = (start, buf.tell())
        chunk.staged = buf.getvalue()

    def load(self, chunk: Chunk, expected_checkpoint: int) -> Counts:
        """Commit ``chunk``; Superseded when the import is no longer at ``expected_checkpoint``."""
        counts = Counts(rows_read=chunk.rows_read, rejected=len(chunk.rejected))
        if self.skip_row_triggers is None:
            self.skip_row_triggers = may_skip_row_triggers()
        with db.atomic():
            cur = db.cursor()
            # Only this transaction's commit waits for no flush: a crash loses it whole,
            # checkpoint included, and the next run redoes it.
            cur.execute("SET LOCAL synchronous_commit = off")
            cur.execute(
                "SELECT checkpoint FROM imports WHERE id = %s FOR UPDATE", (self.import_id,)
            )
            found = cur.fetchone()
            if found is None or found[0] != expected_checkpoint:
                raise Superseded(f"import {self.import_id} moved on to row {found and found[0]}")
            if self.skip_row_triggers:
                # Every row of the chunk references the same company (and list): check and
                # lock them once, as each row's foreign-key trigger would, then skip those
                # triggers for this transaction only. They were 5.5 of the 13 µs a row the
                # upsert cost (docs/IMPORT.md); a role that may not do this keeps them.
                cur.execute(_PARENTS[self.target], self.upsert_args)
                if cur.fetchone() is None:
                    raise Superseded(f"the company or list of import {self.import_id} is gone")
                cur.execute("SET LOCAL session_replication_role = replica")
            if chunk.records:
                if len(chunk.offsets) != len(chunk.records):
                    self.stage(chunk)
                unassigned = [n for n, r in chunk.records.items() if r[ASSIGNED] is False]
                self._upsert(cur, chunk, counts)
                if unassigned and self.target == "list":
                    cur.execute(_NOT_ON_WHATSAPP, (self.owner, ",".join(unassigned)))
            if chunk.rejected:
                buf = io.StringIO()
                writer = csv.writer(buf)
                for row_number, cells, reason in chunk.rejected:
                    writer.writerow(
                        (self.import_id, row_number, json.dumps(cells, ensure_ascii=False), reason)
                    )
                buf.seek(0)
                cur.copy_expert(_COPY_REJECTED, buf)
            cur.execute(
                "UPDATE imports SET checkpoint = %s, rows_read = rows_read + %s, "
                "inserted = inserted + %s, updated = updated + %s, unchanged = unchanged + %s, "
                "rejected = rejected + %s, fraction_read = GREATEST(fraction_read, %s), "
                "updated_at = now() WHERE id = %s",
                (
                    chunk.last_row,
                    counts.rows_read,
                    counts.inserted,
                    counts.updated,
                    counts.unchanged,
                    counts.rejected,
                    chunk.fraction,
                    self.import_id,
                ),
            )
        return counts

    def _upsert(self, cur, chunk: Chunk, counts: Counts) -> None:
        records = chunk.records
        # One text of digits and commas: adapting a list of strings one by one holds the GIL.
        cur.execute(_EXISTING[self.target], (self.owner, ",".join(records)))
        existing = cur.fetchall()
        merged = {}
        for row in existing:
            final = _merged_with(records[row[0]], row)
            if final is None:
                del records[row[0]]
                counts.unchanged += 1
            else:
                records[row[0]] = merged[row[0]] = final
        fresh, text = len(records) - len(merged), chunk.staged
        if existing:  # usually none: only the lines of the numbers found change
            text = "".join(
                text[start:end]
                for number, (start, end) in chunk.offsets.items()
                if number in records and number not in merged
            )
            buf = io.StringIO()
            writer = csv.writer(buf)
            for final in merged.values():
                _stage_line(buf, writer, chunk.leading, final)
            upserted = buf.getvalue()
        else:
            upserted = ""
        if fresh:
            try:
                # Numbers that did not exist when read: COPY straight into the table, 2.4 µs a
                # row less for PostgreSQL than staging and upserting. A number another writer
                # adds meanwhile makes it fail as a whole; the savepoint takes it back and the
                # upsert below writes those rows too.
                with db.atomic():
                    _copy(cur, _COPY_TARGET[self.target], text)
            except psycopg2.errors.UniqueViolation:
                upserted += text
            else:
                counts.inserted += fresh
        if not upserted:
            return
        cur.execute(_STAGE)
        _copy(cur, _COPY_STAGE, upserted)
        cur.execute(_UPSERT[self.target], self.upsert_args)
        inserted, updated = cur.fetchone()
        counts.inserted += inserted
        counts.updated += updated
