"""Contact list items lose their trigram index: a list is searched by scanning it.

Why (docs/IMPORT.md, "The list items' search"): the index cost an import 13-14 µs a row of the
28 µs PostgreSQL spends on each (half of a million-row import), and lists are send audiences
searched now and then, one list at a time. Without it, a search reads the list through
``(contact_list_id, name)``: a rare term in a 1,000,000-item list takes about 90 ms instead of
3.5 ms, a common one about 200 ms as before, and lists of up to 100,000 items under 10 ms.
"""

STATEMENTS = ("DROP INDEX IF EXISTS contact_list_items_list_search_trgm",)


def up(migrator, db):
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS contact_list_items_list_search_trgm ON contact_list_items "
        "USING gin (contact_list_id, search gin_trgm_ops)"
    )
