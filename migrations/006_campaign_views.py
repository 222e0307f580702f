"""What users see of a campaign and an import: the run a report measures, the contacts' page and
search, an import's share of its file read.

- ``campaigns.resumed_at``: when the current run began (resume, restart); the report's send rate
  counts from the later of it and ``started_at``, not across a pause.
- ``campaign_shipping.search``: the list item's ``search`` text, copied by the snapshot, so a
  campaign's contacts are searched by name (accents folded) or number like a list. NULL on rows
  snapshotted before this migration: the search reads ``lower(name) || ' ' || number`` for them
  (no rewrite of a large table).
- ``campaign_shipping (campaign_id, id)``: a campaign's contacts page by page and the CSV export
  in id order without reading other campaigns' rows.
- ``imports.fraction_read``: the share of the file read when the last chunk committed (0..1),
  for ``GET /imports/{id}``'s percentage.

Frozen SQL; ``tests/zapx/db/test_migrations.py`` checks the result equals the models.
"""

STATEMENTS = (
    'ALTER TABLE "campaigns" ADD COLUMN "resumed_at" TIMESTAMPTZ',
    'ALTER TABLE "campaign_shipping" ADD COLUMN "search" TEXT',
    'CREATE INDEX "campaign_shipping_campaign_id_id" ON "campaign_shipping" ("campaign_id", "id")',
    'ALTER TABLE "imports" ADD COLUMN "fraction_read" DOUBLE PRECISION NOT NULL DEFAULT 0',
    # The models give the value on every insert; the schema test compares defaults too.
    'ALTER TABLE "imports" ALTER COLUMN "fraction_read" DROP DEFAULT',
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql('ALTER TABLE "imports" DROP COLUMN IF EXISTS "fraction_read"')
    db.execute_sql('DROP INDEX IF EXISTS "campaign_shipping_campaign_id_id"')
    db.execute_sql('ALTER TABLE "campaign_shipping" DROP COLUMN IF EXISTS "search"')
    db.execute_sql('ALTER TABLE "campaigns" DROP COLUMN IF EXISTS "resumed_at"')
