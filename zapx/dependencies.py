"""The ``database`` and ``redis`` breakers of this process, what counts as their failure, and
the errors they refuse calls with.

Every call to PostgreSQL and Redis reports to them: ``zapx.db.database`` wraps each connect and
query of the shared database object, ``zapx.redis`` the outermost attempt of each command,
pipeline and connect of its clients (the broker's included). So when a dependency goes down, the
first calls fail the slow way (a refused connection after the client's retries, or a timeout),
the breaker opens, and every later call in the process is refused at once with
:class:`DatabaseUnavailable` or :class:`RedisUnavailable`, which are the driver's own error
classes too (``peewee.OperationalError``, ``redis.ConnectionError``): code that already handles
those handles these. Then the API answers 503 at once, the workers stop claiming batches and the
engine skips its ticks, until a probe finds the dependency back.

The state is kept per process, not in Redis: a process learns of an outage from its own calls
within a few of them, sharing it through Redis would fail exactly when Redis is the one down,
and a network fault may cut one host only. The failure of one call is a connection that could
not be made or was lost, or a timeout (``database_down``, ``redis_down``); an error the server
answered (a constraint, a deadlock, a statement timeout, OOM) is the dependency up.

One line is logged when a breaker opens and one when it closes; the probes between, at DEBUG.
"""

from __future__ import annotations

import logging
import math
import os

import peewee
import psycopg2
import redis as redis_py

from zapx.breakers import Breaker, BreakerOpen, Policy, State

log = logging.getLogger("zapx.dependencies")


class DatabaseUnavailable(BreakerOpen, peewee.OperationalError):
    """PostgreSQL is refused by the ``database`` breaker (a ``peewee.OperationalError``)."""


class RedisUnavailable(BreakerOpen, redis_py.ConnectionError):
    """Redis is refused by the ``redis`` breaker (a ``redis.ConnectionError``)."""


#: SQLSTATEs of a server going away: admin shutdown, crash shutdown, cannot connect now.
_SERVER_GONE = ("57P01", "57P02", "57P03")
#: When each breaker last opened from closed (epoch s), for the line that says it closed.
_opened_at: dict[str, float] = {}


def _log_change(breaker: Breaker, old: State, new: State) -> None:
    snap = breaker.snapshot()
    extra = {"breaker": breaker.name, "state": str(new), "error": snap.last_error}
    if new is State.OPEN and old is State.CLOSED:
        _opened_at[breaker.name] = snap.since
        log.warning("breaker opened", extra=extra | {"retry_after_s": round(snap.retry_after_s, 3)})
    elif new is State.CLOSED:
        down_s = snap.since - _opened_at.pop(breaker.name, snap.since)
        log.info("breaker closed", extra={"breaker": breaker.name, "down_s": round(down_s, 3)})
    else:  # the probes of an open breaker: half-open, and open again when one fails
        log.debug("breaker %s", new, extra=extra)


#: This process's breakers (``configure`` sets their policy from the configuration).
database = Breaker("database", refuse=DatabaseUnavailable, on_change=_log_change)
redis = Breaker("redis", refuse=RedisUnavailable, on_change=_log_change)
BREAKERS = (database, redis)


def configure(policy: Policy) -> None:
    """Give both breakers ``policy`` (every process calls it at start, from its Config)."""
    for breaker in BREAKERS:
        breaker.policy = policy


def _reset_all() -> None:
    for breaker in BREAKERS:
        breaker.reset()
    _opened_at.clear()


# A forked child (a gunicorn or Dramatiq worker process) counts its own calls from zero, with a
# lock nobody holds.
os.register_at_fork(after_in_child=_reset_all)


class QuietWhileDown(logging.Filter):
    """Drops the lines Dramatiq's consumer threads write every 3 s each (8 of them in a worker
    process: 16 lines every 3 s) while they cannot reach Redis, once the redis breaker is open:
    it said so in one line, and says so again when Redis is back."""

    LOGGER = "dramatiq.worker.ConsumerThread"
    LINES = ("Consumer encountered a connection error", "Restarting consumer")

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.LOGGER) or redis.state is State.CLOSED:
            return True
        return not str(record.msg).startswith(self.LINES)


def database_down(exc: BaseException) -> bool:
    """Whether ``exc`` says PostgreSQL cannot be reached (not an error it answered)."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, peewee.PeeweeException):
        exc = getattr(exc, "orig", None)  # peewee wraps the driver's error
    if isinstance(exc, psycopg2.InterfaceError):  # the connection is closed
        return True
    if isinstance(exc, psycopg2.OperationalError):
        code = exc.pgcode  # None: the client's own error (refused, lost, timed out)
        return code is None or code.startswith("08") or code in _SERVER_GONE
    return False


def redis_down(exc: BaseException) -> bool:
    """Whether ``exc`` says Redis cannot be reached (a lost connection or a timeout)."""
    return isinstance(exc, redis_py.ConnectionError | redis_py.TimeoutError)


def breaker_of(exc: BaseException) -> Breaker | None:
    """The breaker of the dependency ``exc`` says is down (None: not a dependency's fault)."""
    if isinstance(exc, BreakerOpen):
        return next((b for b in BREAKERS if b.name == exc.breaker), None)
    if database_down(exc):
        return database
    if redis_down(exc):
        return redis
    return None


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` is a dependency being down or refused by its breaker."""
    return isinstance(exc, BreakerOpen) or breaker_of(exc) is not None


def blocking() -> Breaker | None:
    """The first of this process's breakers that refuses calls now, if any."""
    return next((b for b in BREAKERS if b.refuses()), None)


def retry_after_s(exc: BaseException | None = None) -> int:
    """Whole seconds (at least 1) after which a call refused for ``exc`` may succeed: the
    breaker's time to its next probe, else its first open duration."""
    if isinstance(exc, BreakerOpen):
        return max(1, math.ceil(exc.retry_after_s))
    breaker = breaker_of(exc) if exc is not None else blocking()
    if breaker is None:
        return max(1, math.ceil(database.policy.open_s))
    return max(1, math.ceil(breaker.retry_after_s() or breaker.policy.open_s))
