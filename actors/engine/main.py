"""``zapx engine``: start the actor system and the ``engine`` queue consumer; stop on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

import dramatiq
import pykka

from zapx.config import Config
from zapx.db import init_db
from zapx.logs import setup_logging

log = logging.getLogger("zapx.engine")

#: Longest idle poll interval of the engine queue's consumer, ms.
POLL_MS = 50
#: Seconds each actor gets to stop at shutdown.
STOP_TIMEOUT_S = 10.0


class Clock(threading.Thread):
    """Tells the Directory ``tick`` every ``TICK_S`` seconds (scheduled starts, wake-ups, sweeps).

    A thread rather than an actor: an actor cannot wait on a timer without blocking its inbox.
    """

    TICK_S = 0.25

    def __init__(self, directory):
        super().__init__(name="zapx-clock", daemon=True)
        self.directory = directory
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.TICK_S):
            try:
                self.directory.handle({"kind": "tick"})
            except pykka.ActorDeadError:
                return

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class Engine:
    """The engine's parts, started in order and stopped in reverse order."""

    def __init__(self, config: Config):
        self.config = config
        self.directory = None
        self.consumer = None
        self.clock = None

    def start(self) -> None:
        from actors import inbox
        from actors.engine.directory import DirectoryActor

        # Thousands of company actors may queue for the pool at once (mass starts): they wait
        # rather than crash.
        init_db(
            self.config.database_url,
            self.config.db_pool_size,
            application_name="zapx-engine",
            wait_s=120,
        )
        self.directory = DirectoryActor.start(self.config)
        # One consumer thread: commands are cheap; their work happens in the actors.
        # A short idle poll (ms): reports and commands reach the actors within POLL_MS of sending.
        self.consumer = dramatiq.Worker(
            inbox.broker, queues={"engine"}, worker_threads=1, worker_timeout=POLL_MS
        )
        self.consumer.start()
        self.clock = Clock(self.directory.proxy())
        self.clock.start()
        log.info("engine started", extra={"queues": ["engine"]})

    def stop(self) -> None:
        if self.clock is not None:
            self.clock.stop()
        if self.consumer is not None:
            self.consumer.stop(timeout=int(STOP_TIMEOUT_S * 1000))
        # The registry stops actors in reverse start order: children before the Directory.
        pykka.ActorRegistry.stop_all(block=True, timeout=STOP_TIMEOUT_S)
        log.info("engine stopped")


def run(config: Config) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit code."""
    setup_logging("engine", config.log_level, config.log_format)
    stopping = threading.Event()

    def on_signal(signum, frame):
        log.info("signal received", extra={"signal": signal.Signals(signum).name})
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    engine = Engine(config)
    engine.start()
    code = 0
    try:
        while not stopping.wait(1.0):
            if not engine.directory.is_alive():
                # The root actor died: exit so that supervisord replaces the whole process,
                # which rebuilds every company's state from the database.
                log.error("directory actor died; exiting for a restart")
                code = 1
                break
    finally:
        engine.stop()
    return code
