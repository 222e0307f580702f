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
# On 2 cores the searched contacts page is PostgreSQL-bound: 2x4 (the default), 4x2 and 2x8
# measure alike and 4x4 worse (more processes and queries competing for the same cores); see
# docs/BENCHMARKS.md before changing API_WORKERS / API_THREADS.
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


# gunicorn's own events (start, worker exits, signals) in the same format as the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "zapx": {"()": "zapx.logs.JsonFormatter", "process": "api"}
        if _config.log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "zapx",
            "stream": "ext://sys.stderr",
        }
    },
    # gunicorn merges this dict shallowly into its defaults: every key it uses is restated.
    "root": {"level": _config.log_level, "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": _config.log_level, "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}


def post_fork(server, worker):
    setup_logging("api", _config.log_level, _config.log_format)


# A shared per-user control socket would clash between several gunicorns on one host (tests,
# benchmarks); supervisorctl is the control interface here.
control_socket_disable = True
