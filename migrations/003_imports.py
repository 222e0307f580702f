"""Contact imports: the import record (progress, checkpoint, counters) and its rejected rows.

Frozen SQL (see 001_initial); ``tests/zapx/db/test_migrations.py`` checks it equals the models.
"""

STATEMENTS = (
    'CREATE TABLE "imports" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "contact_list_id" INTEGER, "target" VARCHAR(8) NOT NULL, "state" VARCHAR(8) NOT NULL, "file_path" VARCHAR(512) NOT NULL, "filename" VARCHAR(255) NOT NULL, "file_format" VARCHAR(8) NOT NULL, "sheet" VARCHAR(255) NOT NULL, "encoding" VARCHAR(16) NOT NULL, "delimiter" VARCHAR(4) NOT NULL, "size_bytes" BIGINT NOT NULL, "columns" JSONB NOT NULL, "rows_read" INTEGER NOT NULL, "inserted" INTEGER NOT NULL, "updated" INTEGER NOT NULL, "unchanged" INTEGER NOT NULL, "rejected" INTEGER NOT NULL, "checkpoint" INTEGER NOT NULL, "error" TEXT NOT NULL, "started_at" TIMESTAMPTZ, "finished_at" TIMESTAMPTZ, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE, FOREIGN KEY ("contact_list_id") REFERENCES "contact_lists" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "imports_company_id" ON "imports" ("company_id")',
    'CREATE TABLE "import_rejections" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "import_id" INTEGER NOT NULL, "row_number" INTEGER NOT NULL, "values" JSONB NOT NULL, "reason" TEXT NOT NULL, FOREIGN KEY ("import_id") REFERENCES "imports" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "import_rejections_import_id_row_number" ON "import_rejections" ("import_id", "row_number")',
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    for table in ("import_rejections", "imports"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
