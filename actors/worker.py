"""What ``zapx worker`` loads: the broker, then every Dramatiq actor module.

``dramatiq actors.worker`` imports this module in each worker process; the actor modules register
themselves with the broker on import.
"""

from actors import broker as _broker  # noqa: F401 - first: the broker must exist before actors
from actors import delivery, housekeeping, imports  # noqa: F401
from zapx.config import load_config
from zapx.db import init_db
from zapx.logs import setup_logging

#: Must match ``zapx.cli.WORKER_QUEUES``: the worker never consumes the engine's queue.
QUEUES = ("delivery_first", "delivery", "housekeeping", "imports")

_config = load_config()
# Dramatiq's CLI set up its own text logging; zapx logs one JSON line per event everywhere.
setup_logging("worker", _config.log_level, _config.log_format)
init_db(_config.database_url, _config.db_pool_size, application_name="zapx-worker")
