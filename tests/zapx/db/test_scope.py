"""zapx.db: a connection scope closes only the connection it opened.

Inside an API request the middleware opens the thread's connection outside any scope (to reuse
it across requests); a service's ``db.connection_context()`` used to close it under the request,
whose next query then failed (``autoconnect`` is off).
"""

from __future__ import annotations

from zapx.db import db


def test_a_scope_inside_an_open_connection_leaves_it_open(database_url):
    db.connect()
    try:
        with db.connection_context():
            db.execute_sql("SELECT 1")
        assert not db.is_closed()
        assert db.execute_sql("SELECT 2").fetchone() == (2,)
    finally:
        db.close()


def test_a_scope_closes_what_it_opened_and_nests(database_url):
    assert db.is_closed()
    with db.connection_context():
        with db.connection_context():
            db.execute_sql("SELECT 1")
        assert not db.is_closed()  # the inner scope opened nothing
    assert db.is_closed()


def test_a_scope_closes_its_connection_when_the_body_raises(database_url):
    try:
        with db.connection_context():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert db.is_closed()
