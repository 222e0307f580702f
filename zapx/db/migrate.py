"""Applying ``migrations/`` and creating the database itself when it does not exist."""

from __future__ import annotations

import logging

import psycopg2
from playhouse.migrations import Runner
from psycopg2 import sql

from migrations import DIRECTORY
from zapx.db.database import connect_params, db

log = logging.getLogger(__name__)

# pg_advisory_lock key: two processes migrating at once take turns instead of racing.
_LOCK_KEY = 0x7A617078  # "zapx"


def database_exists(url: str) -> bool:
    """Whether the database named in ``url`` exists (asked of the server's ``postgres``
    database, so nothing is created)."""
    params = connect_params(url)
    name = params.pop("database")
    conn = psycopg2.connect(database="postgres", connect_timeout=5, **params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it is missing. Returns True when it created it."""
    params = connect_params(url)
    name = params.pop("database")
    conn = psycopg2.connect(database="postgres", connect_timeout=5, **params)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("database created", extra={"database": name})
            return True
    finally:
        conn.close()


def drop_database(url: str) -> None:
    """Drop the database named in ``url`` (tests and benchmarks clean up what they made)."""
    params = connect_params(url)
    name = params.pop("database")
    conn = psycopg2.connect(database="postgres", connect_timeout=5, **params)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


def migrate(database=db) -> list[str]:
    """Apply every pending migration in order; returns the names applied (empty when none)."""
    with database.connection_context():
        database.execute_sql("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            applied = Runner(database, DIRECTORY).up()
        finally:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    for name in applied:
        log.info("migration applied", extra={"migration": name})
    return applied


def status(database=db) -> list[tuple[str, bool]]:
    """(migration name, applied?) for every migration file, in order."""
    with database.connection_context():
        return [(m.name, bool(m.applied)) for m in Runner(database, DIRECTORY).status()]
