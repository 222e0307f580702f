"""A mass start copies each campaign's audience in two steps (docs/ENGINE.md, "The audience in
two steps"): ``campaigns.audience_pending`` says the rest is still to copy (false on every
campaign that exists: their snapshots are whole), with a partial index for the engine's tick,
which looks for such campaigns every time.

The column keeps its default in the schema (unlike 006's ``fraction_read``): inserts that do not
name it (the benchmarks' own) must still work, and the model declares the same default.

Frozen SQL; ``tests/zapx/db/test_migrations.py`` checks the result equals the models.
"""

STATEMENTS = (
    'ALTER TABLE "campaigns" ADD COLUMN "audience_pending" BOOLEAN NOT NULL DEFAULT false',
    "CREATE INDEX campaigns_audience_pending ON public.campaigns USING btree (id) "
    "WHERE audience_pending",
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "campaigns_audience_pending"')
    db.execute_sql('ALTER TABLE "campaigns" DROP COLUMN IF EXISTS "audience_pending"')
