"""Live updates for the frontend: ``publish(company_id, event, payload)`` from any process.

The socket.io server (``zapx realtime``, :mod:`zapx.realtime_server`) holds the browsers'
connections; the API, the engine, the workers and ``zapx import`` change the data. Between
them is Redis: each process publishes through python-socketio's write-only ``RedisManager``
on the channel ``{REDIS_PREFIX}socketio``, and the server delivers each event to the room of
its company, ``company-{id}-mainchannel``, as ``company-{id}-{event}`` (the original backend's
names: ``campaign``, ``ContactList``, ``ContactListItem``, ``whatsapp``, ``whatsappSession``,
``user``, ``contact``). Payloads are built by the service that made the change, with the
serializer its API answers use.

Publishing never fails or slows the caller's write: ``publish`` puts the event in this
process's queue and returns (about a microsecond); a thread of the process sends it. When
Redis is down or the queue is full, the event is logged and dropped: the page's next fetch
shows the truth. Call it after the write committed, and do not change ``payload`` afterwards.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable

import socketio
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from zapx.config import load_config

log = logging.getLogger("zapx.realtime")

#: Events waiting in one process before new ones are dropped.
MAX_PENDING = 10_000
#: Seconds a publish may wait on Redis (connect and reply) before the event is dropped.
REDIS_TIMEOUT_S = 2.0
#: After a failed publish, seconds during which events are dropped without trying: in an
#: outage the queue holds no stale backlog, and the thread does not wait on every event.
RETRY_AFTER_S = 1.0


def channel(prefix: str) -> str:
    """The Redis pub/sub channel of an install (its key prefix keeps installs and tests apart)."""
    return f"{prefix}socketio"


def company_room(company_id: int) -> str:
    return f"company-{company_id}-mainchannel"


def user_room(user_id: int) -> str:
    return f"user-{user_id}"


def event_name(company_id: int, event: str) -> str:
    return f"company-{company_id}-{event}"


class _Emitter(socketio.RedisManager):
    """python-socketio's write-only Redis manager, but a failed publish raises (to
    :class:`Publisher`, which counts it and logs one line per thousand) instead of logging two
    lines per event."""

    def _publish(self, data):
        if not self.connected:
            self._redis_connect()
        try:
            return self.redis.publish(self.channel, self.json.dumps(data))
        except Exception:
            self.connected = False  # a new client for the next event
            raise


class Publisher:
    """Sends events to the socket.io server through Redis, from a thread of its own."""

    def __init__(self, redis_url: str, prefix: str, max_pending: int = MAX_PENDING):
        self.manager = _Emitter(
            redis_url,
            channel=channel(prefix),
            write_only=True,
            logger=log,
            redis_options={
                "socket_timeout": REDIS_TIMEOUT_S,
                "socket_connect_timeout": REDIS_TIMEOUT_S,
                "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
            },
        )
        self.max_pending = max_pending
        self.dropped = 0
        self._down_until = 0.0  # monotonic seconds
        self._lock = threading.Lock()
        self._pid = -1
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def publish(self, company_id: int, event: str, payload: dict) -> None:
        """Queue ``company-{company_id}-{event}`` with ``payload`` for the company's browsers."""
        if self._pid != os.getpid():  # first use, or a forked worker: its own queue and thread
            self._start()
        try:
            self._queue.put_nowait((company_id, event, payload))
        except queue.Full:
            self._drop(company_id, event, "queue full")

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queued event was handed to Redis (or dropped); False on timeout."""
        if self._pid != os.getpid():
            return True
        done = threading.Event()
        try:
            self._queue.put((None, None, done), timeout=timeout_s)  # answered in order
        except queue.Full:
            return False
        return done.wait(timeout_s)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.Queue(self.max_pending)
            self.manager.connected = False  # a socket inherited from the parent is not ours
            self._thread = threading.Thread(target=self._run, name="zapx-realtime", daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            company_id, event, payload = self._queue.get()
            if company_id is None:
                payload.set()
                continue
            if time.monotonic() < self._down_until:
                self._drop(company_id, event, "redis failed less than a second ago")
                continue
            try:
                self.manager.emit(
                    event_name(company_id, event), payload, room=company_room(company_id)
                )
            except Exception as exc:  # noqa: BLE001 - nothing may stop this thread
                if not isinstance(exc, TypeError | ValueError):  # not the payload: Redis
                    self._down_until = time.monotonic() + RETRY_AFTER_S
                self._drop(company_id, event, repr(exc))

    def _drop(self, company_id: int, event: str, reason: str) -> None:
        self.dropped += 1
        # The first drop, then one line per thousand: an outage must not flood the log.
        if self.dropped % 1000 == 1:
            log.warning(
                "realtime event dropped",
                extra={
                    "company_id": company_id,
                    "event": event,
                    "reason": reason,
                    "dropped": self.dropped,
                },
            )


_default: Publisher | None = None
_default_lock = threading.Lock()


def configure(redis_url: str, prefix: str) -> Publisher:
    """Make this process publish to ``redis_url`` under ``prefix`` (replacing any earlier one)."""
    global _default
    with _default_lock:
        _default = Publisher(redis_url, prefix)
    return _default


def publisher() -> Publisher:
    """This process's publisher; the first call builds it from the environment (REDIS_URL,
    REDIS_PREFIX), as every zapx process has validated it at start."""
    global _default
    if _default is None:
        config = load_config()
        with _default_lock:
            if _default is None:
                _default = Publisher(config.redis_url, config.redis_prefix)
    return _default


def publish(company_id: int, event: str, payload: dict) -> None:
    """Send ``company-{company_id}-{event}`` to that company's browsers; never raises."""
    try:
        publisher().publish(company_id, event, payload)
    except Exception as exc:  # noqa: BLE001 - a live update never fails the write it reports
        log.warning(
            "realtime event dropped",
            extra={"company_id": company_id, "event": event, "reason": repr(exc)},
        )


def publish_from(company_id: int, build: Callable[[], Iterable[tuple[str, dict]]]) -> None:
    """Publish the ``(event, payload)`` pairs ``build()`` returns, for payloads that need a query
    of their own: an error building them (a row deleted meanwhile, the database gone) is logged
    and dropped like a Redis error, never raised into the write that committed."""
    try:
        events = list(build())
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("realtime event dropped", extra={"company_id": company_id, "reason": repr(exc)})
        return
    for event, payload in events:
        publish(company_id, event, payload)


@atexit.register
def _flush_at_exit() -> None:
    # ``zapx import`` and a stopping worker end right after their last change: send it.
    if _default is not None:
        _default.flush(timeout_s=2.0)
