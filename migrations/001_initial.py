"""Initial schema: tenants, users, WhatsApp connections, contacts, lists, settings, rate limits.

Frozen SQL, deliberately independent of ``zapx.db.models``: a migration describes the schema as
it was when written. ``tests/zapx/db/test_migrations.py`` checks that the migrated schema equals the models.
"""

STATEMENTS = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    'CREATE TABLE "companies" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "name" VARCHAR(255) NOT NULL, "phone" VARCHAR(32) NOT NULL, "email" VARCHAR(255) NOT NULL, "status" BOOLEAN NOT NULL, "due_date" TIMESTAMPTZ, "max_users" INTEGER NOT NULL, "max_connections" INTEGER NOT NULL, "max_campaigns" INTEGER NOT NULL, "use_campaigns" BOOLEAN NOT NULL)',
    'CREATE TABLE "users" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL, "password_hash" VARCHAR(100) NOT NULL, "profile" VARCHAR(16) NOT NULL, "super" BOOLEAN NOT NULL, "token_version" INTEGER NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "users_email" ON "users" ("email")',
    'CREATE TABLE "whatsapps" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "provider" VARCHAR(16) NOT NULL, "settings" JSONB NOT NULL, "status" VARCHAR(16) NOT NULL, "is_default" BOOLEAN NOT NULL, "number" VARCHAR(20) NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "whatsapps_company_id_name" ON "whatsapps" ("company_id", "name")',
    'CREATE TABLE "contacts" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "number" VARCHAR(20) NOT NULL, "email" VARCHAR(255) NOT NULL, "condominio" VARCHAR(255) NOT NULL, "endereco" VARCHAR(255) NOT NULL, "cargo" VARCHAR(255) NOT NULL, "extra_info" JSONB NOT NULL, "is_group" BOOLEAN NOT NULL, "search" TEXT NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "contacts_company_id_number" ON "contacts" ("company_id", "number")',
    'CREATE TABLE "contact_lists" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "contact_lists_company_id_name" ON "contact_lists" ("company_id", "name")',
    'CREATE TABLE "contact_list_items" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "contact_list_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "number" VARCHAR(20) NOT NULL, "email" VARCHAR(255) NOT NULL, "condominio" VARCHAR(255) NOT NULL, "endereco" VARCHAR(255) NOT NULL, "cargo" VARCHAR(255) NOT NULL, "extra_info" JSONB NOT NULL, "is_whatsapp_valid" BOOLEAN, "search" TEXT NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE, FOREIGN KEY ("contact_list_id") REFERENCES "contact_lists" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "contact_list_items_company_id" ON "contact_list_items" ("company_id")',
    'CREATE UNIQUE INDEX "contact_list_items_contact_list_id_number" ON "contact_list_items" ("contact_list_id", "number")',
    'CREATE TABLE "campaign_settings" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "key" VARCHAR(64) NOT NULL, "value" JSONB, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "campaign_settings_company_id_key" ON "campaign_settings" ("company_id", "key")',
    'CREATE TABLE "rate_limits" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "kind" VARCHAR(16) NOT NULL, "scope" VARCHAR(64) NOT NULL, "max_count" INTEGER NOT NULL, "period_s" DOUBLE PRECISION NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "rate_limits_company_id_kind_scope" ON "rate_limits" ("company_id", "kind", "scope")',
    "CREATE INDEX contacts_company_search_trgm ON contacts USING gin (company_id, search gin_trgm_ops) WITH (fastupdate = off)",
    "CREATE INDEX contacts_company_name ON contacts USING btree (company_id, name)",
    "CREATE INDEX contact_list_items_list_search_trgm ON contact_list_items USING gin (contact_list_id, search gin_trgm_ops)",
    "CREATE INDEX contact_list_items_list_name ON contact_list_items USING btree (contact_list_id, name)",
    "CREATE UNIQUE INDEX whatsapps_one_default ON whatsapps USING btree (company_id) WHERE is_default",
    "CREATE INDEX users_company ON users USING btree (company_id, name)",
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    for table in (
        "rate_limits",
        "campaign_settings",
        "contact_list_items",
        "contact_lists",
        "contacts",
        "whatsapps",
        "users",
        "companies",
    ):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
