"""A Cloud ``phoneNumberId`` belongs to one connection in the whole install.

Why: a webhook names its phone number id and is signed with the app secret of the connection that
has it. When any company could give its connection another company's phone id, the phone id no
longer said whose traffic it was (issue 10). The unique index makes the rule hold under concurrent
writes; the API answers 409 when a create or update breaks it.

Existing duplicates (an install from before the rule) must not stop the migration, and deleting
or renaming a phone id could cut off the company that really owns the number (the first to
register it is not always the owner). So the oldest connection of each duplicated id keeps it
under the index, and each later one is marked ``settings.phoneNumberIdConflict = true`` and left
out of the index: it keeps sending, its webhooks still act only for itself (the signature names
the connection), and the next save of its settings needs a phone id no other connection has
(the API drops the mark then, and the index applies). ``down`` drops the index and the marks.
"""

STATEMENTS = (
    """
    UPDATE whatsapps w
    SET settings = w.settings || '{"phoneNumberIdConflict": true}'::jsonb
    FROM (
        SELECT id, row_number() OVER (PARTITION BY settings->>'phoneNumberId' ORDER BY id) AS n
        FROM whatsapps
        WHERE provider = 'cloud' AND settings->>'phoneNumberId' IS NOT NULL
    ) d
    WHERE w.id = d.id AND d.n > 1
    """,
    "CREATE UNIQUE INDEX whatsapps_cloud_phone_number_id ON whatsapps "
    "USING btree (((settings ->> 'phoneNumberId'))) "
    "WHERE provider = 'cloud' AND (settings ->> 'phoneNumberIdConflict') IS NULL",
)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql("DROP INDEX IF EXISTS whatsapps_cloud_phone_number_id")
    db.execute_sql(
        "UPDATE whatsapps SET settings = settings - 'phoneNumberIdConflict' "
        "WHERE settings ? 'phoneNumberIdConflict'"
    )
