"""Drop ``rate_limits`` (issue 12): a table no code ever read or wrote (the ``RateLimit`` model
is gone); pacing lives in campaign-settings and each connection's caps.

Frozen SQL; ``tests/zapx/db/test_migrations.py`` checks the result equals the models. ``down``
makes the table again as ``001_initial`` did, empty.
"""

STATEMENTS = ('DROP TABLE IF EXISTS "rate_limits"',)

RESTORE = (
    'CREATE TABLE "rate_limits" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "kind" VARCHAR(16) NOT NULL, "scope" VARCHAR(64) NOT NULL, "max_count" INTEGER NOT NULL, "period_s" DOUBLE PRECISION NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "rate_limits_company_id_kind_scope" ON "rate_limits" ("company_id", "kind", "scope")',
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    for statement in RESTORE:
        db.execute_sql(statement)
