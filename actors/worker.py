"""What ``zapx worker`` loads: the broker, then every Dramatiq actor module.

``dramatiq actors.worker`` imports this module in each worker process; the actor modules register
themselves with the broker on import. Each worker process also watches Dramatiq's main process
(:class:`ParentWatch`): when that one dies (``kill -9``), the worker process stops taking
messages, finishes the ones its threads hold and exits, instead of running on unsupervised.
"""

import logging
import multiprocessing
import os
import sys

import dramatiq

from actors import alerts, delivery, housekeeping, imports  # noqa: F401
from actors import broker as _broker  # first: the broker must exist before actors
from zapx import dependencies
from zapx.config import load_config
from zapx.db import init_db
from zapx.logs import setup_logging
from zapx.parent_watch import log_orphaned, watch_parent
from zapx.startup import require_noeviction

#: Milliseconds an orphaned worker process waits for its threads' messages, as Dramatiq's CLI
#: does on SIGTERM (``--worker-shutdown-timeout``): past it, the process exits anyway.
SHUTDOWN_TIMEOUT_MS = 600_000

log = logging.getLogger("zapx.worker")


def _write_to_own_stderr() -> None:
    """Dramatiq's main process relayed this process's output through a pipe; with that process
    gone, the lines of the last messages go straight to the inherited stderr instead."""
    pipe = sys.stderr
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is pipe:
            handler.setStream(sys.__stderr__)


class ParentWatch(dramatiq.Middleware):
    """Stops this worker process gracefully once Dramatiq's main process (``parent_pid``) died.

    The stop is the one SIGTERM gives (stop consuming, finish the messages in hand, give back the
    prefetched ones), run from the watching thread: a parent killed while it waited for this
    process to boot leaves the main thread blocked for good in Dramatiq's start-up handshake
    (``multiprocessing.Event.set`` waits for the dead waiter), so no signal handler would run.
    """

    def __init__(self, parent_pid: int):
        self.parent_pid = parent_pid

    def after_worker_boot(self, broker, worker) -> None:
        watch_parent(self.parent_pid, lambda: self._stop(broker, worker))

    def _stop(self, broker, worker) -> None:
        _write_to_own_stderr()
        log_orphaned(self.parent_pid)
        worker.stop(timeout=SHUTDOWN_TIMEOUT_MS)
        broker.close()
        log.info("worker process stopped", extra={"pid": os.getpid()})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(0)


_config = load_config()
# ``zapx worker`` checked before it started Dramatiq (one line, not one per process); this is
# for ``dramatiq actors.worker`` run by hand. No wait: a process must not hang in its import.
require_noeviction(_config.redis_url, "worker", wait=False)
dependencies.configure(_config.dependency_policy)
# Dramatiq's CLI set up its own text logging; zapx logs one JSON line per event everywhere.
setup_logging("worker", _config.log_level, _config.log_format)
init_db(
    _config.database_url,
    _config.db_pool_size,
    application_name="zapx-worker",
    connect_timeout_s=_config.db_connect_timeout_s,
)

# The PID Dramatiq's main process had when it forked this one (None outside a worker process).
_parent = multiprocessing.parent_process()
if _parent is not None:
    _broker.broker.add_middleware(ParentWatch(_parent.pid))
