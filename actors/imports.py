"""``import_contacts(import_id)``: the Dramatiq actor that runs a large contact import.

Safe to run twice: a second run while the first is alive returns at once (an advisory lock), and
a run after a crash resumes after the last committed chunk (``zapx.imports.load``). A file that
cannot be read ends the import ``failed`` without a retry; a database error is retried (and the
retry resumes).
"""

from __future__ import annotations

import logging

import dramatiq

from actors.broker import broker  # noqa: F401 - configures the broker before the actor below
from zapx.config import load_config
from zapx.db import db
from zapx.errors import ValidationError
from zapx.imports import run_import
from zapx.imports.service import invalidator
from zapx.redis import get_redis

log = logging.getLogger("zapx.imports")
_config = load_config()


@dramatiq.actor(
    queue_name="imports",
    max_retries=5,
    min_backoff=5_000,
    time_limit=6 * 3_600_000,  # ms: a million rows take well under a minute
    throws=(ValidationError,),
)
def import_contacts(import_id: int) -> None:
    """Run or resume import ``import_id``."""
    with db.connection_context():
        state = run_import(
            import_id,
            _config.phone_region,
            chunk_rows=_config.import_chunk_rows,
            after_chunk=invalidator(get_redis(_config.redis_url), _config.redis_prefix),
        )
    log.info("import ended", extra={"import_id": import_id, "state": state})
