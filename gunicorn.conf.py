"""gunicorn settings for the zapx API, from the same environment variables as the app.

``gunicorn -c gunicorn.conf.py 'api:get_app()'`` — see docs/CONFIG.md for the variables.
"""

import os

from gunicorn.glogging import Logger

from zapx.config import load_config
from zapx.logs import setup_logging

_config = load_config()  # a bad variable stops gunicorn here, before any worker starts

bind = [os.environ.get("GUNICORN_BIND", _config.api_bind)]
workers = _config.api_workers
# gthread: each worker serves API_THREADS requests at once; the DB pool is per worker.
# On 2 cores the searched contacts page is PostgreSQL-bound: 2x4 (the default), 4x2 and 2x8
# measure alike and 4x4 worse (more processes and queries competing for the same cores); see
# docs/BENCHMARKS.md before changing API_WORKERS / API_THREADS.
# gunicorn is pinned at 23.0.0: from 24.0 on, gthread holds a pool thread on every new
# connection until its first request arrives (up to 5 s), and finishes each request through the
# main thread; on 2 cores that cut the cached page from 3,383 to 1,173 requests/s and gave 1% of
# requests of clients that connect before they send (browsers preconnect) 130-160 ms of
# waiting (docs/BENCHMARKS.md, API run 4).
worker_class = "gthread"
threads = _config.api_threads
keepalive = 5  # seconds
timeout = 30  # seconds a worker may stay silent before it is replaced
graceful_timeout = 20  # seconds to finish requests on SIGTERM
max_requests = 100_000
max_requests_jitter = 10_000
accesslog = None  # the app logs one JSON line per request itself (see QuietAccessLogger)
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


class QuietAccessLogger(Logger):
    """gunicorn's logger without its access log.

    With ``logconfig_dict`` set, gunicorn builds every access line's fields before its logger
    drops the line: 6% of a cached request's CPU for nothing, since the app already writes one
    JSON line per request (api.middleware.RequestContext).
    """

    def access(self, resp, req, environ, request_time):
        return


logger_class = QuietAccessLogger
