"""gunicorn settings for the zapx API, from the same environment variables as the app.

``gunicorn -c gunicorn.conf.py 'api:get_app()'`` — see docs/CONFIG.md for the variables.
"""

import os
import socket

from gunicorn.glogging import Logger

from zapx.config import load_config
from zapx.logs import setup_logging
from zapx.metrics import mark_process_dead, start_process_metrics  # the arbiter writes none
from zapx.parent_watch import terminate_when_orphaned
from zapx.startup import require_noeviction

_config = load_config()  # a bad variable stops gunicorn here, before any worker starts

bind = [os.environ.get("GUNICORN_BIND", _config.api_bind)]
# METRICS_BIND: a listener of its own for GET /metrics (no token there, nothing else served:
# api/resources/metrics.py tells the listeners apart by the accepted socket's address).
if _config.metrics_bind:
    bind.append(_config.metrics_bind)
workers = _config.api_workers
# sync (the default): each process serves one request at a time, so no request waits for the
# GIL behind another or for a hand-over between threads. On 2 cores at 50 connections back to
# back the cached page's p99 is 16 ms with 8 sync workers against 25 ms with gthread 2x4 at the
# same 4,300-4,700 requests/s (docs/BENCHMARKS.md, API run 7). A sync worker blocks on the
# connection it holds, so: TCP_DEFER_ACCEPT (when_ready below) keeps silent connections away
# from the workers, and where the API faces the internet it runs behind the buffering reverse
# proxy gunicorn asks for in front of sync workers (nginx, where TLS ends too), so slow clients
# and uploads are the proxy's to wait for. API_WORKER_CLASS=gthread is there for a host that
# cannot have one (API_THREADS each).
worker_class = _config.api_worker_class
# gunicorn turns "sync" into gthread whenever threads > 1: pass API_THREADS to gthread only.
threads = _config.api_threads if worker_class == "gthread" else 1
# gunicorn is pinned at 23.0.0: from 24.0 on, gthread holds a pool thread on every new
# connection until its first request arrives (up to 5 s), and finishes each request through the
# main thread (docs/BENCHMARKS.md, API run 4).
keepalive = 5  # seconds (gthread)
# Seconds a worker may stay silent before it is replaced. A sync worker is silent for as long as
# its request lasts, an upload from a slow client included when no proxy buffers it.
timeout = 120 if worker_class == "sync" else 30
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


def on_starting(server):
    # In the arbiter, before it binds or forks: a Redis that can evict keys stops it here, with
    # one line and exit status 2 (zapx/startup.py).
    require_noeviction(_config.redis_url, "api")


def post_fork(server, worker):
    setup_logging("api", _config.log_level, _config.log_format)
    # A sync worker looks at its parent only when no connection waits, then sleeps in select()
    # for up to timeout/2 (60 s): with the arbiter killed by -9 it would serve on unsupervised.
    # Within 1 s it gets the SIGTERM the arbiter would have sent, ends its request and exits.
    terminate_when_orphaned(worker.ppid)
    # Memory, CPU, pool and breakers of this worker, every few seconds (docs/METRICS.md).
    start_process_metrics("api")


def child_exit(server, worker):
    # In the arbiter, for each worker that exited (replaced, max_requests, killed): its live
    # gauges (memory, the process count, its pool) leave the sums; its counters stay.
    mark_process_dead(worker.pid)


class QuietAccessLogger(Logger):
    """gunicorn's logger without its access log.

    With ``logconfig_dict`` set, gunicorn builds every access line's fields before its logger
    drops the line: 6% of a cached request's CPU for nothing, since the app already writes one
    JSON line per request (api.middleware.RequestContext).
    """

    def access(self, resp, req, environ, request_time):
        return


logger_class = QuietAccessLogger


#: Seconds the kernel holds a new connection that has sent nothing before passing it on.
DEFER_ACCEPT_S = 30


def when_ready(server):
    # A connection that opens and stays silent (a browser's preconnect, a port scan) reaches no
    # worker until its request starts: a sync worker would otherwise sit on it. 50 clients that
    # connect, then think before sending, made a hello-world's p99 131 ms instead of 0.96 ms.
    if hasattr(socket, "TCP_DEFER_ACCEPT"):  # Linux
        for listener in server.LISTENERS:
            if listener.sock.family in (socket.AF_INET, socket.AF_INET6):
                listener.sock.setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT_S
                )
