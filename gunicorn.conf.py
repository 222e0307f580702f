"""gunicorn settings for the zapx API, from the same environment variables as the app.

``gunicorn -c gunicorn.conf.py 'api:get_app()'`` — see docs/CONFIG.md for the variables.
"""

import os

from zapx.config import load_config
from zapx.logs import setup_logging

_config = load_config()  # a bad variable stops gunicorn here, before any worker starts

bind = [os.environ.get("GUNICORN_BIND", _config.api_bind)]
workers = _config.api_workers
# gthread: each worker serves API_THREADS requests at once; the DB pool is per worker.
worker_class = "gthread"
threads = _config.api_threads
keepalive = 5  # seconds
timeout = 30  # seconds a worker may stay silent before it is replaced
graceful_timeout = 20  # seconds to finish requests on SIGTERM
max_requests = 100_000
max_requests_jitter = 10_000
accesslog = None  # the app logs one JSON line per request itself
errorlog = "-"
proc_name = "zapx-api"
wsgi_app = "api:get_app()"


def post_fork(server, worker):
    setup_logging("api", _config.log_level, _config.log_format)
