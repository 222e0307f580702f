"""Fixtures on the real PostgreSQL and Redis.

The session makes its own database ``zapx_test_<random>`` (dropped at the end) and uses its own
Redis key prefix (its keys deleted at the end), so it never touches data it did not create.
Set ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` to point elsewhere than the local defaults.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
import warnings

import falcon.testing
import pytest

_RUN = uuid.uuid4().hex[:10]
_DATABASE_URL = (
    os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/"
).rsplit("/", 1)[0] + f"/zapx_test_{_RUN}"
_REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
# Tests run sandboxes on 127.0.0.1 at ports of their own, not at SANDBOX_BIND: connections may
# reach that host (any port), which production refuses by default (zapx/outbound.py).
_ALLOWED_HOSTS = "127.0.0.1"
# Modules that read the environment when imported (the Dramatiq broker, the delivery actor) must
# see this session's database and Redis prefix, never a real install's: set them before imports.
os.environ.update(
    {
        "ZAPX_ENV": "test",
        "DATABASE_URL": _DATABASE_URL,
        "REDIS_URL": _REDIS_URL,
        "REDIS_PREFIX": f"zapx:test:{_RUN}:",
        "CONNECTION_ALLOWED_HOSTS": _ALLOWED_HOSTS,
    }
)

from api import Deps, create_app
from tests.processes import stop_all
from zapx import auth, rate_limits
from zapx.config import load_config
from zapx.db import MODELS, Company, User, db, drop_database, ensure_database, init_db, migrate
from zapx.redis import close_all, get_redis

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def database_url():
    url = _DATABASE_URL
    ensure_database(url)
    init_db(url, pool_size=16, application_name="zapx-test")
    migrate()
    auth.set_bcrypt_rounds(4)  # tests hash many passwords; production uses the library default
    yield url
    db.close_all()
    drop_database(url)


@pytest.fixture(scope="session")
def redis_url():
    return _REDIS_URL


@pytest.fixture(scope="session")
def redis_prefix(redis_url):
    prefix = os.environ["REDIS_PREFIX"]
    yield prefix
    client = get_redis(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    close_all()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def import_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("imports"))


#: Rows a delivery batch holds at most in the tests (``BATCH_SIZE``).
TEST_BATCH_SIZE = 50


@pytest.fixture(scope="session")
def config(database_url, redis_url, redis_prefix, media_dir, import_dir):
    return load_config(
        {
            "ZAPX_ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": redis_prefix,
            "LOG_LEVEL": "warning",
            "MEDIA_DIR": media_dir,
            "IMPORT_DIR": import_dir,
            "CONNECTION_ALLOWED_HOSTS": _ALLOWED_HOSTS,
            # The tests' campaigns (tens to a few thousand rows) are sized around batches of
            # TEST_BATCH_SIZE; production's default (200) only makes fewer, larger batches.
            "BATCH_SIZE": str(TEST_BATCH_SIZE),
        }
    )


_TABLES = [m._meta.table_name for m in MODELS]  # parents first
# The tables with a row, in one statement.
_DIRTY = " UNION ALL ".join(f"(SELECT '{t}' FROM \"{t}\" LIMIT 1)" for t in _TABLES)
# Every sequence the tables own back to 1 (a table emptied by the test itself included).
_RESTART = (
    "SELECT setval(s.oid::regclass, 1, false) FROM pg_class s "
    "JOIN pg_depend d ON d.objid = s.oid JOIN pg_class t ON d.refobjid = t.oid "
    "WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') AND t.relname = ANY(%s)"
)


def _empty_tables() -> None:
    """DELETE the rows of the tables that have any, children first, and restart their ids.
    A TRUNCATE of every table made new files for each and waited on their fsync: 45-150 ms
    after each of about a thousand tests, where this takes 3-13 ms."""
    dirty = {row[0] for row in db.execute_sql(_DIRTY).fetchall()}
    with db.atomic():
        for table in reversed(_TABLES):
            if table in dirty:
                db.execute_sql(f'DELETE FROM "{table}"')
        db.execute_sql(_RESTART, (_TABLES,))


@pytest.fixture
def clean_db(database_url, redis_url, redis_prefix):
    """Empties every table after the test (ids restart), so tests do not see each other; and,
    since the next test's company 1 is another company, forgets what Redis keeps by company id:
    the rate limits cached (this process's copies and the Redis entries) and every per-company
    key (``{c<id>}``: the connections' send schedule, run flags, batch progress, breakers). A
    connection's gate left by an earlier test gave the next test's connection of the same id
    its sends since the long pause (a pause after 3 sends instead of 5)."""
    yield
    with db.connection_context():
        _empty_tables()
    rate_limits.forget_local()
    client = get_redis(redis_url)
    cached = f"{redis_prefix}cache:*:{rate_limits.NAMESPACE}:*"
    keys = list(client.scan_iter(match=cached, count=1000))
    keys += client.scan_iter(match=f"{redis_prefix}{{c*", count=1000)
    if keys:
        client.delete(*keys)


@pytest.fixture
def app(config, clean_db):
    return create_app(Deps(config=config, redis=get_redis(config.redis_url)))


@pytest.fixture
def client(app):
    return falcon.testing.TestClient(app)


@dataclasses.dataclass
class Account:
    """A company with one logged-in user: ``headers`` carry the Bearer token."""

    company_id: int
    user_id: int
    email: str
    headers: dict


def make_company(name: str, **fields) -> int:
    with db.connection_context(), db.atomic():
        return Company.create(name=name, **fields).id


def make_user(company_id: int, email: str, *, profile="admin", super_=False) -> int:
    with db.connection_context(), db.atomic():
        return User.create(
            company=company_id,
            name=email.split("@")[0],
            email=email,
            password_hash=auth.hash_password(PASSWORD),
            profile=profile,
            super=super_,
        ).id


def login(client, email: str, password: str = PASSWORD) -> dict:
    resp = client.simulate_post("/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json['token']}"}


@pytest.fixture
def account(client):
    """Factory: ``account("acme", profile="user", super_=False, **company_fields)``."""

    def make(name: str, *, profile="admin", super_=False, **company_fields) -> Account:
        company_id = make_company(name, **company_fields)
        email = f"{profile}@{name}.test"
        user_id = make_user(company_id, email, profile=profile, super_=super_)
        return Account(company_id, user_id, email, login(client, email))

    return make


@pytest.fixture
def alice(account):
    """Company A's admin."""
    return account("alice")


@pytest.fixture
def bob(account):
    """Company B's admin: every A object must be a 404 to B."""
    return account("bob")


@pytest.fixture
def root(account):
    """A platform administrator (super)."""
    return account("platform", super_=True)


@pytest.fixture(scope="session")
def stray_processes():
    """At the end of the session, stops the processes tests started and left running (a test
    that failed or timed out before its clean-up), with everything they forked. Requested by
    ``process_env``, so it runs before the session's database and Redis keys are removed."""
    yield
    left = stop_all()
    if left:
        warnings.warn(f"stopped processes the tests left running: {', '.join(left)}", stacklevel=1)


@pytest.fixture(scope="session")
def process_env(config, stray_processes):
    """Environment for zapx child processes: this session's database and Redis prefix."""
    env = dict(os.environ)
    env.update(
        {
            "ZAPX_ENV": "test",
            "DATABASE_URL": config.database_url,
            "REDIS_URL": config.redis_url,
            "REDIS_PREFIX": config.redis_prefix,
            "LOG_LEVEL": "info",
            "LOG_FORMAT": "json",
            "DB_POOL_SIZE": "4",
            "MEDIA_DIR": config.media_dir,
            "IMPORT_DIR": config.import_dir,
            "CONNECTION_ALLOWED_HOSTS": config.connection_allowed_hosts,
            # The tests load the machine on purpose (2 cores, every process at once): the
            # governor would cut the engines' budgets under them and change what they measure.
            # tests/actors/engine/test_governor.py tests it on its own.
            "GOVERNOR_ENABLED": "false",
            "BATCH_SIZE": str(TEST_BATCH_SIZE),
        }
    )
    return env


@pytest.fixture(scope="session")
def broker(process_env):
    """The Dramatiq broker of this process, on the session's Redis prefix (set at the top)."""
    from actors.broker import broker as configured

    assert configured.namespace.startswith(process_env["REDIS_PREFIX"])

    yield configured
    configured.flush_all()
