"""Campaigns: the campaign, its audience snapshot (shipping rows) and its delivery batches.

Frozen SQL (see 001_initial); ``tests/zapx/db/test_migrations.py`` checks it equals the models.
"""

STATEMENTS = (
    'CREATE TABLE "campaigns" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "company_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "status" VARCHAR(16) NOT NULL, "confirmation" BOOLEAN NOT NULL, "message1" TEXT NOT NULL, "message2" TEXT NOT NULL, "message3" TEXT NOT NULL, "message4" TEXT NOT NULL, "message5" TEXT NOT NULL, "confirmation_message1" TEXT NOT NULL, "confirmation_message2" TEXT NOT NULL, "confirmation_message3" TEXT NOT NULL, "confirmation_message4" TEXT NOT NULL, "confirmation_message5" TEXT NOT NULL, "media_path" VARCHAR(512) NOT NULL, "media_name" VARCHAR(255) NOT NULL, "media_type" VARCHAR(16) NOT NULL, "scheduled_at" TIMESTAMPTZ, "started_at" TIMESTAMPTZ, "completed_at" TIMESTAMPTZ, "contact_list_id" INTEGER, "whatsapp_id" INTEGER, "pause_reason" TEXT NOT NULL, "total" INTEGER NOT NULL, "generation" INTEGER NOT NULL, FOREIGN KEY ("company_id") REFERENCES "companies" ("id") ON DELETE CASCADE, FOREIGN KEY ("contact_list_id") REFERENCES "contact_lists" ("id") ON DELETE SET NULL, FOREIGN KEY ("whatsapp_id") REFERENCES "whatsapps" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "campaigns_company_id_name" ON "campaigns" ("company_id", "name")',
    'CREATE TABLE "campaign_shipping" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "campaign_id" INTEGER NOT NULL, "company_id" INTEGER NOT NULL, "contact_id" INTEGER NOT NULL, "number" VARCHAR(20) NOT NULL, "name" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL, "condominio" VARCHAR(255) NOT NULL, "endereco" VARCHAR(255) NOT NULL, "cargo" VARCHAR(255) NOT NULL, "extra_info" JSONB NOT NULL, "message_index" SMALLINT NOT NULL, "status" VARCHAR(12) NOT NULL, "batch_id" BIGINT, "attempts" SMALLINT NOT NULL, "next_attempt_at" TIMESTAMPTZ, "provider_message_id" VARCHAR(128), "message" TEXT, "error" TEXT, "sent_at" TIMESTAMPTZ, "delivered_at" TIMESTAMPTZ, "read_at" TIMESTAMPTZ, "failed_at" TIMESTAMPTZ, "confirmation_requested_at" TIMESTAMPTZ, "confirmed_at" TIMESTAMPTZ, FOREIGN KEY ("campaign_id") REFERENCES "campaigns" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "campaign_shipping_campaign_id_contact_id" ON "campaign_shipping" ("campaign_id", "contact_id")',
    'CREATE INDEX "campaign_shipping_campaign_id_status_id" ON "campaign_shipping" ("campaign_id", "status", "id")',
    'CREATE TABLE "campaign_batches" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMPTZ NOT NULL, "updated_at" TIMESTAMPTZ NOT NULL, "campaign_id" INTEGER NOT NULL, "company_id" INTEGER NOT NULL, "whatsapp_id" INTEGER NOT NULL, "generation" INTEGER NOT NULL, "status" VARCHAR(8) NOT NULL, "size" SMALLINT NOT NULL, "slots" JSONB NOT NULL, "claimed_at" TIMESTAMPTZ, "lease_until" TIMESTAMPTZ, "done_at" TIMESTAMPTZ, FOREIGN KEY ("campaign_id") REFERENCES "campaigns" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "campaign_batches_campaign_id_status" ON "campaign_batches" ("campaign_id", "status")',
    "CREATE INDEX campaigns_scheduled ON campaigns USING btree (scheduled_at) WHERE ((status)::text = 'PROGRAMADA'::text)",
    "CREATE UNIQUE INDEX campaign_shipping_provider_message_id ON campaign_shipping USING btree (provider_message_id) WHERE (provider_message_id IS NOT NULL)",
    "CREATE INDEX campaign_shipping_batch ON campaign_shipping USING btree (batch_id) WHERE (batch_id IS NOT NULL)",
    "CREATE INDEX campaign_shipping_awaiting ON campaign_shipping USING btree (number) WHERE ((status)::text = 'awaiting'::text)",
    "CREATE INDEX campaign_batches_lease ON campaign_batches USING btree (lease_until) WHERE ((status)::text = 'claimed'::text)",
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    for table in ("campaign_batches", "campaign_shipping", "campaigns"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
