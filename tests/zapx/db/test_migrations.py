"""migrations/ against zapx.db.models: the migrated schema must equal the one the models describe.

Two fresh databases of the test's own: M is built by ``zapx.db.migrate`` (what production runs),
D by ``create_tables(MODELS)`` plus ``EXTRA_INDEXES`` and the two extensions. Their catalogs
(columns, indexes, constraints) are compared table by table.
"""

from __future__ import annotations

import inspect
import os
import re
import threading
import uuid

import pytest
from peewee import IntegrityError
from playhouse.migrations import Runner
from playhouse.postgres_ext import PooledPostgresqlExtDatabase, PostgresqlExtDatabase

from migrations import DIRECTORY
from zapx.db import EXTRA_INDEXES, MODELS, drop_database, ensure_database, migrate
from zapx.db.database import connect_params
from zapx.db.migrate import status

#: The table where peewee's migration Runner records what it applied (not part of the models).
BOOKKEEPING = inspect.signature(Runner).parameters["table_name"].default
EXTENSIONS = ("pg_trgm", "btree_gin")
MODEL_TABLES = {m._meta.table_name for m in MODELS}
#: Every migration file, in the order they apply.
ALL = sorted(f[:-3] for f in os.listdir(DIRECTORY) if re.fullmatch(r"\d{3}_\w+\.py", f))


def _url(name: str) -> str:
    base = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/"
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def fresh_database():
    """Factory: ``fresh_database(pooled=False)`` -> a peewee database on a new, empty database.

    Every database made here is dropped at the end of the module, whatever happened.
    """
    made: list[tuple[str, object]] = []

    def make(pooled: bool = False):
        url = _url(f"zapx_test_schema_{uuid.uuid4().hex[:12]}")
        assert ensure_database(url) is True
        params = connect_params(url)
        name = params.pop("database")
        cls = PooledPostgresqlExtDatabase if pooled else PostgresqlExtDatabase
        database = cls(name, autoconnect=False, **params)
        made.append((url, database))
        return database

    try:
        yield make
    finally:
        for url, database in made:
            try:
                if hasattr(database, "close_all"):
                    database.close_all()
                else:
                    database.close()
            finally:
                drop_database(url)


def _normalise_default(default: str | None) -> str | None:
    if default is None:
        return None
    return re.sub(r"nextval\('[^']+'::regclass\)", "nextval(<sequence>)", default)


def catalog(database) -> dict:
    """``{table: {"columns": ..., "indexes": ..., "constraints": ...}}`` of the public schema."""
    out: dict[str, dict[str, dict]] = {}

    def table(name: str) -> dict:
        return out.setdefault(name, {"columns": {}, "indexes": {}, "constraints": {}})

    with database.connection_context():
        for (
            name,
            column,
            data_type,
            udt,
            length,
            precision,
            nullable,
            default,
        ) in database.execute_sql(
            "SELECT table_name, column_name, data_type, udt_name, character_maximum_length, "
            "numeric_precision, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall():
            table(name)["columns"][column] = (
                data_type,
                udt,
                length,
                precision,
                nullable,
                _normalise_default(default),
            )
        for name, index, definition in database.execute_sql(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ).fetchall():
            table(name)["indexes"][index] = definition
        for name, constraint, kind, definition in database.execute_sql(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
            "AND contype IN ('p', 'u', 'f', 'c', 'x')"
        ).fetchall():
            table(name)["constraints"][constraint] = (kind, definition)
        extensions = {
            row[0] for row in database.execute_sql("SELECT extname FROM pg_extension").fetchall()
        }
    out.pop(BOOKKEEPING, None)
    return {"tables": out, "extensions": extensions & set(EXTENSIONS)}


def differences(migrated: dict, modelled: dict) -> list[str]:
    """Human-readable differences between two catalogs; empty when they agree."""
    diffs = []
    if migrated["extensions"] != modelled["extensions"]:
        diffs.append(f"extensions: {migrated['extensions']} != {modelled['extensions']}")
    a, b = migrated["tables"], modelled["tables"]
    for name in sorted(a.keys() | b.keys()):
        if name not in a or name not in b:
            diffs.append(f"table {name}: only in {'migrations' if name in a else 'models'}")
            continue
        for part in ("columns", "indexes", "constraints"):
            x, y = a[name][part], b[name][part]
            for key in sorted(x.keys() | y.keys()):
                if x.get(key) != y.get(key):
                    diffs.append(
                        f"{name} {part} {key}: migrations {x.get(key)!r} / models {y.get(key)!r}"
                    )
    return diffs


@pytest.fixture(scope="module")
def migrated(fresh_database):
    """Database M: built by ``migrate``; returns (database, names applied by the first run)."""
    database = fresh_database()
    return database, migrate(database)


@pytest.fixture(scope="module")
def modelled(fresh_database):
    """Database D: built from the models, their extra indexes and the extensions."""
    database = fresh_database()
    with database.connection_context():
        for extension in EXTENSIONS:
            database.execute_sql(f"CREATE EXTENSION IF NOT EXISTS {extension}")
        with database.bind_ctx(MODELS):
            database.create_tables(MODELS)
        for _table, _name, definition in EXTRA_INDEXES:
            database.execute_sql(definition)
    return database


def test_bookkeeping_table_is_the_runners(migrated):
    database, _ = migrated
    assert BOOKKEEPING == "schema_migration"
    with database.connection_context():
        tables = set(database.get_tables())
        recorded = [r[0] for r in database.execute_sql(f"SELECT name FROM {BOOKKEEPING}")]
    assert tables == MODEL_TABLES | {BOOKKEEPING}
    assert recorded == ALL


def test_migrated_schema_equals_the_models(migrated, modelled):
    m, d = catalog(migrated[0]), catalog(modelled)
    assert set(m["tables"]) == MODEL_TABLES
    assert m["extensions"] == set(EXTENSIONS)
    assert differences(m, d) == []
    # The comparison saw something: every table has columns, a primary key and an index.
    for name, parts in m["tables"].items():
        assert "id" in parts["columns"], name
        assert f"{name}_pkey" in parts["indexes"], name
        assert any(kind == "p" for kind, _ in parts["constraints"].values()), name


def test_extra_indexes_are_declared_as_postgresql_prints_them(migrated):
    tables = catalog(migrated[0])["tables"]
    for table, name, definition in EXTRA_INDEXES:
        assert tables[table]["indexes"].get(name) == definition


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("DROP INDEX contacts_company_name", "contacts indexes contacts_company_name"),
        ("DROP INDEX users_email", "users indexes users_email"),
        ("ALTER TABLE contacts ALTER COLUMN email DROP NOT NULL", "contacts columns email"),
        ("ALTER TABLE contacts ALTER COLUMN cargo SET DEFAULT ''", "contacts columns cargo"),
        (
            "ALTER TABLE campaign_settings ALTER COLUMN key TYPE varchar(99)",
            "campaign_settings columns key",
        ),
        (
            "ALTER TABLE users DROP CONSTRAINT users_company_id_fkey, ADD CONSTRAINT "
            "users_company_id_fkey FOREIGN KEY (company_id) REFERENCES companies (id)",
            "users constraints users_company_id_fkey",
        ),
        ("ALTER TABLE companies ADD COLUMN extra integer", "companies columns extra"),
        ("DROP TABLE campaign_settings", "table campaign_settings: only in migrations"),
        (
            "ALTER TABLE company_rate_limits DROP CONSTRAINT company_rate_limits_period_s_check",
            "company_rate_limits constraints company_rate_limits_period_s_check",
        ),
        ("DROP EXTENSION btree_gin CASCADE", "extensions"),
    ],
)
def test_comparison_can_fail(migrated, modelled, change, expected):
    """Sanity: a one-statement change to D is reported (inside a transaction rolled back)."""
    with modelled.connection_context(), modelled.atomic() as txn:
        modelled.execute_sql(change)
        changed = catalog(modelled)
        txn.rollback()
    diffs = differences(catalog(migrated[0]), changed)
    assert any(diff.startswith(expected) for diff in diffs), diffs
    # And D is back to what it was.
    assert differences(catalog(migrated[0]), catalog(modelled)) == []


def test_migrate_applies_the_initial_migration_once(migrated):
    database, first = migrated
    assert first == ALL and ALL[0] == "001_initial"
    assert migrate(database) == []
    assert migrate(database) == []
    assert status(database) == [(name, True) for name in ALL]


def test_status_of_an_empty_database(fresh_database):
    assert status(fresh_database()) == [(name, False) for name in ALL]


def test_concurrent_migrations_take_turns(fresh_database, migrated):
    # Two processes starting at once: separate database objects (one pooled), same database.
    first = fresh_database()
    params = connect_params(_url(first.database))
    params.pop("database")
    second = PooledPostgresqlExtDatabase(first.database, autoconnect=False, **params)
    barrier = threading.Barrier(2)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def run(i: int, database) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = migrate(database)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, d)) for i, d in enumerate((first, second))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        second.close_all()
    assert errors == []
    assert sorted(results.values()) == [[], ALL]
    assert differences(catalog(first), catalog(migrated[0])) == []
    with first.connection_context():
        count = first.execute_sql(f"SELECT count(*) FROM {BOOKKEEPING}").fetchone()[0]
    assert count == len(ALL)


def test_down_then_up_round_trips(fresh_database):
    database = fresh_database()
    assert migrate(database) == ALL
    before = catalog(database)
    with database.connection_context():
        assert Runner(database, DIRECTORY).down(ALL[0]) == ALL[::-1]
        assert set(database.get_tables()) == {BOOKKEEPING}
    assert migrate(database) == ALL
    assert differences(catalog(database), before) == []


def test_005_keeps_existing_duplicate_phone_ids_and_marks_the_later_ones(fresh_database):
    """An install from before the rule: the migration must not fail on duplicates it finds."""
    database = fresh_database()
    assert migrate(database) == ALL  # then back to before 005, to seed what 005 finds
    with database.connection_context():
        assert "005_connection_phone_ids" in Runner(database, DIRECTORY).down(
            "005_connection_phone_ids"
        )
        database.execute_sql(
            "INSERT INTO companies (created_at, updated_at, name, phone, email, "
            "status, max_users, max_connections, max_campaigns, use_campaigns) "
            "SELECT now(), now(), 'c' || g, '', '', true, 5, 5, 5, true "
            "FROM generate_series(1, 3) g"
        )
        for company, provider, phone_id in (
            (1, "cloud", "PN1"),
            (2, "cloud", "PN1"),
            (3, "cloud", "PN1"),
            (2, "cloud", "PN2"),
            (1, "sandbox", "sandbox"),
            (2, "sandbox", "sandbox"),
        ):
            database.execute_sql(
                "INSERT INTO whatsapps (created_at, updated_at, company_id, name, provider, "
                "settings, status, is_default, number) VALUES (now(), now(), %s, "
                "%s, %s, jsonb_build_object('phoneNumberId', %s::text), 'CONNECTED', false, '')",
                (company, f"{provider}-{phone_id}", provider, phone_id),
            )
    assert migrate(database) == ALL[ALL.index("005_connection_phone_ids") :]
    with database.connection_context():
        rows = database.execute_sql("SELECT id, settings FROM whatsapps ORDER BY id").fetchall()
        marked = [i for i, settings in rows if settings.get("phoneNumberIdConflict")]
        assert marked == [2, 3]  # PN1's oldest keeps it; PN2 and the sandbox ids are untouched
        assert all(settings.get("phoneNumberId") for _, settings in rows)  # nothing renamed
        # The index holds for everything else: a new PN1 or PN2 is refused.
        for phone_id in ("PN1", "PN2"):
            with pytest.raises(IntegrityError), database.atomic():
                database.execute_sql(
                    "INSERT INTO whatsapps (created_at, updated_at, company_id, name, provider, "
                    "settings, status, is_default, number) VALUES (now(), now(), 3, 'new', "
                    "'cloud', jsonb_build_object('phoneNumberId', %s::text), 'CONNECTED', "
                    "false, '')",
                    (phone_id,),
                )
        assert Runner(database, DIRECTORY).down("005_connection_phone_ids")
        left = database.execute_sql(
            "SELECT count(*) FROM whatsapps WHERE settings ? 'phoneNumberIdConflict'"
        ).fetchone()[0]
        assert left == 0


def test_012_company_rate_limits_hold_the_apis_ranges_and_roll_back(fresh_database):
    """One row per company and kind, the ranges ``zapx.rate_limits`` validates (1 .. 1,000,000
    sends, 1 .. 86,400 s, the four kinds) held by the table itself; down drops it alone."""
    name = "012_company_rate_limits"
    database = fresh_database()
    assert name in migrate(database)
    insert = (
        "INSERT INTO company_rate_limits (created_at, updated_at, company_id, kind, max_sends, "
        "period_s) VALUES (now(), now(), 1, %s, %s, %s)"
    )
    with database.connection_context():
        database.execute_sql(
            "INSERT INTO companies (created_at, updated_at, name, phone, email, status, "
            "max_users, max_connections, max_campaigns, use_campaigns) "
            "VALUES (now(), now(), 'c', '', '', true, 5, 5, 5, true)"
        )
        for kind, sends, period in (("whatsapp", 60, 60), ("global", 1_000_000, 86_400)):
            database.execute_sql(insert, (kind, sends, period))
        for kind, sends, period in (
            ("chat", 1, 1),
            ("contact", 0, 1),
            ("contact", 1_000_001, 1),
            ("contact", 1, 0.5),
            ("contact", 1, 86_401),
            ("whatsapp", 5, 5),  # a second limit of one kind
        ):
            with pytest.raises(IntegrityError), database.atomic():
                database.execute_sql(insert, (kind, sends, period))
        before = set(database.get_tables())
        assert Runner(database, DIRECTORY).down(name)[-1] == name
        # Down to 012 also rolls back the later migrations (013's alert tables).
        assert set(database.get_tables()) == before - {"company_rate_limits"} - LATER_THAN_012
    assert migrate(database) == ALL[ALL.index(name) :]


#: Tables made by the migrations after 012.
LATER_THAN_012 = {"alerts", "alert_webhooks"}


def test_013_alerts_hold_one_open_alert_per_subject_and_roll_back(fresh_database):
    """At most one open alert per (company or the system, rule, subject); resolved ones pile up;
    the CHECKs refuse an unknown rule, severity or status; down drops both tables."""
    name = "013_alerts"
    database = fresh_database()
    assert name in migrate(database)
    insert = (
        "INSERT INTO alerts (created_at, updated_at, company_id, rule, subject, severity, "
        "status, message, opened_at, last_seen_at, occurrences) "
        "VALUES (now(), now(), %s, %s, %s, %s, %s, '', now(), now(), 1)"
    )
    with database.connection_context():
        database.execute_sql(
            "INSERT INTO companies (created_at, updated_at, name, phone, email, status, "
            "max_users, max_connections, max_campaigns, use_campaigns) "
            "VALUES (now(), now(), 'c', '', '', true, 5, 5, 5, true)"
        )
        for row in (
            (1, "breaker_open", "whatsapp:1", "critical", "open"),
            (None, "breaker_open", "whatsapp:1", "critical", "open"),  # the system's is another
            (1, "breaker_open", "whatsapp:1", "critical", "resolved"),
            (1, "breaker_open", "whatsapp:1", "critical", "resolved"),
            (1, "breaker_open", "whatsapp:2", "warning", "open"),
        ):
            database.execute_sql(insert, row)
        for row in (
            (1, "breaker_open", "whatsapp:1", "critical", "open"),  # a second open one
            (None, "breaker_open", "whatsapp:1", "warning", "open"),
            (1, "cpu_hot", "x", "warning", "open"),
            (1, "breaker_open", "x", "fatal", "open"),
            (1, "breaker_open", "x", "warning", "closed"),
        ):
            with pytest.raises(IntegrityError), database.atomic():
                database.execute_sql(insert, row)
        before = set(database.get_tables())
        assert Runner(database, DIRECTORY).down(name)[-1] == name
        assert set(database.get_tables()) == before - {"alerts", "alert_webhooks"}
    assert migrate(database) == ALL[ALL.index(name) :]
