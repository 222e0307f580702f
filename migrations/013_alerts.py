"""Alerts (issue 15): ``alerts``, one row per episode of a rule holding for a subject (company_id
NULL = a system alert), with at most one open row per (company, rule, subject) held by the
unique partial index ``alerts_one_open``; and ``alert_webhooks``, one optional URL and signing
secret per company. CHECK constraints hold the rule, severity and status names.

Frozen SQL; ``tests/zapx/db/test_migrations.py`` checks the result equals the models.
"""

STATEMENTS = (
    'CREATE TABLE "alerts" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER, "rule" VARCHAR(32) NOT NULL CHECK (rule IN (\'breaker_open\', \'queue_stale\', \'campaign_error_rate\', \'spam_rate_limit\', \'redis_memory_high\', \'connection_down\', \'dead_letters_growing\')), "subject" VARCHAR(128) NOT NULL, "severity" VARCHAR(8) NOT NULL CHECK (severity IN (\'warning\', \'critical\')), "status" VARCHAR(8) NOT NULL CHECK (status IN (\'open\', \'resolved\')), "message" TEXT NOT NULL, "value" DOUBLE PRECISION, "threshold" DOUBLE PRECISION, "opened_at" TIMESTAMPTZ NOT NULL, "last_seen_at" TIMESTAMPTZ NOT NULL, "resolved_at" TIMESTAMPTZ, "occurrences" INTEGER NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "alerts_company_id_id" ON "alerts" ("company_id", "id")',
    "CREATE UNIQUE INDEX alerts_one_open ON public.alerts USING btree "
    "(COALESCE(company_id, 0), rule, subject) WHERE ((status)::text = 'open'::text)",
    'CREATE TABLE "alert_webhooks" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "url" VARCHAR(2048) NOT NULL, "secret" VARCHAR(128) NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "alert_webhooks_company_id" ON "alert_webhooks" ("company_id")',
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "alert_webhooks" CASCADE')
    db.execute_sql('DROP TABLE IF EXISTS "alerts" CASCADE')
