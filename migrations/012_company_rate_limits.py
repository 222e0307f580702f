"""A company's rate limits by kind (issue 13): ``company_rate_limits``, one row per company and
kind (``whatsapp``, ``contact``, ``campaign``, ``global``), at most ``max_sends`` sends per
``period_s`` seconds; CHECK constraints hold the API's ranges. The old ``rate_limits`` table is
another migration's (011).

Frozen SQL; ``tests/zapx/db/test_migrations.py`` checks the result equals the models.
"""

STATEMENTS = (
    'CREATE TABLE "company_rate_limits" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "kind" VARCHAR(16) NOT NULL CHECK (kind IN (\'whatsapp\', \'contact\', \'campaign\', \'global\')), "max_sends" INTEGER NOT NULL CHECK (max_sends BETWEEN 1 AND 1000000), "period_s" DOUBLE PRECISION NOT NULL CHECK (period_s BETWEEN 1 AND 86400), FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "company_rate_limits_company_id_kind" ON "company_rate_limits" ("company_id", "kind")',
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "company_rate_limits" CASCADE')
