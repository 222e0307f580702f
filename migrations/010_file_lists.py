"""File lists, as the frontend's ``/files`` page and campaign form use them (issue 11).

- ``files``: a company's named lists (name unique per company, as the original's), with a
  message; ``files_options``: their files, each with a name, a caption and, once uploaded, the
  stored file's path (under ``MEDIA_DIR``) and its type read from its content.
- ``campaigns.file_list_id``: the list a campaign's form picked (``fileListId``); deleting the
  list clears it.

Frozen SQL; ``tests/zapx/db/test_migrations.py`` checks the result equals the models.
"""

STATEMENTS = (
    'CREATE TABLE "files" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "message" TEXT NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "files_company_id_name" ON "files" ("company_id", "name")',
    'CREATE TABLE "files_options" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "file_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "path" VARCHAR(512) NOT NULL, "media_type" VARCHAR(128) NOT NULL, "message" TEXT NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE, FOREIGN KEY ("file_id") REFERENCES "files" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "files_options_file_id" ON "files_options" ("file_id")',
    'ALTER TABLE "campaigns" ADD COLUMN "file_list_id" INTEGER REFERENCES "files" ("id") ON DELETE SET NULL',
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql('ALTER TABLE "campaigns" DROP COLUMN IF EXISTS "file_list_id"')
    for table in ("files_options", "files"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
