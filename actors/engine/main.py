"""``zapx engine``: the engine process's composition root. It builds the outbox from the Dramatiq
delivery actors, starts the Directory with it and the in-flight budget, binds the Directory to the
``engine`` queue's consumer (``actors.inbox``), runs the clock, the governor (which sets the
budget from the load) and the alert rules' thread, and stops everything in reverse on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence

import dramatiq
import pykka

from actors import alerts, inbox
from actors.broker import broker
from actors.delivery import FIRSTS_CHUNK, deliver_batch, deliver_first, deliver_firsts
from actors.engine.alerting import AlertThread, start_alerts
from actors.engine.directory import DirectoryActor
from actors.engine.governor import GovernorThread, start_governor
from zapx import dependencies, metrics
from zapx.config import Config
from zapx.db import init_db
from zapx.engine.live import Budget
from zapx.engine.messages import Tick
from zapx.logs import setup_logging
from zapx.queue_stats import QUEUES
from zapx.redis import get_redis

log = logging.getLogger("zapx.engine")

#: Longest idle poll interval of the engine queue's consumer, ms.
POLL_MS = 50
#: Messages a burst of first batches is spread over at least: one for each of worker_first's
#: threads (2 processes x 4), whose consumers fetch only for free threads (``FreeThreads``).
FIRSTS_SPREAD = 8
#: Seconds each actor gets to stop at shutdown.
STOP_TIMEOUT_S = 10.0


class DramatiqOutbox:
    """The lifecycle's outbox: a batch goes to ``deliver_batch``, a first batch to
    ``deliver_first`` (its own queue and worker program, docs/ENGINE.md "First messages"), an
    alert's event to ``deliver_alert`` (its company's webhook, docs/ALERTS.md)."""

    def send_batch(self, batch_id: int, company_id: int, first: bool, delay_s: float) -> None:
        actor = deliver_first if first else deliver_batch
        delay_ms = max(0, int(delay_s * 1000))
        actor.send_with_options(args=(batch_id, company_id), delay=delay_ms or None)

    def send_first_batches(self, batches: Sequence[tuple[int, int]], counted: bool = False) -> None:
        # One pipeline: 1,000 enqueues one by one took the starting tick about 0.5 s. A lone
        # first batch stays a deliver_first; more go FIRSTS_CHUNK to a deliver_firsts message,
        # which claims, records and reports them together (docs/ENGINE.md, "First messages").
        if len(batches) == 1 and not counted:
            broker.enqueue_many([deliver_first.message_with_options(args=batches[0])])
            return
        # Spread over FIRSTS_SPREAD messages at least while chunks stay under FIRSTS_CHUNK: a
        # chunk's rows go one batch after another, so a burst of 200 is 20 chunks of 10 for 20
        # threads, not 4 of 50.
        size = max(1, min(FIRSTS_CHUNK, -(-len(batches) // FIRSTS_SPREAD)))
        chunks = [batches[i : i + size] for i in range(0, len(batches), size)]
        broker.enqueue_many(
            [
                deliver_firsts.message_with_options(
                    args=([b for b, _ in chunk], [c for _, c in chunk], counted)
                )
                for chunk in chunks
            ]
        )

    def send_alert(self, alert_id: int, kind: str) -> None:
        alerts.notify(alert_id, kind)


class Clock(threading.Thread):
    """Tells the Directory ``Tick`` every ``TICK_S`` seconds (scheduled starts, wake-ups, sweeps).

    A thread rather than an actor: an actor cannot wait on a timer without blocking its inbox.
    Back-pressure: a tick is sent only once the previous one was handled, so a Directory slower
    than the clock (a mass start) holds at most one tick in its inbox, not a growing queue of
    them; a tick that failed is logged, and the next one tries again.
    """

    TICK_S = 0.25

    def __init__(self, directory: pykka.ActorProxy[DirectoryActor]):
        super().__init__(name="zapx-clock", daemon=True)
        self.directory = directory
        self.stopping = threading.Event()
        self.skipped = 0  # ticks not sent: the previous one was still in the inbox

    def run(self) -> None:
        pending: pykka.Future | None = None
        while not self.stopping.wait(self.TICK_S):
            if pending is not None:
                try:
                    pending.get(timeout=0)
                except pykka.Timeout:
                    self.skipped += 1
                    continue
                except pykka.ActorDeadError:
                    return
                except Exception as exc:
                    if dependencies.unavailable(exc):  # the breaker logs the outage, once
                        log.debug("clock tick failed: %r", exc)
                    else:
                        log.exception("clock tick failed")
            try:
                pending = self.directory.handle(Tick())
            except pykka.ActorDeadError:
                return

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class Engine:
    """The engine's parts, started in order and stopped in reverse order."""

    def __init__(self, config: Config):
        self.config = config
        self.directory: pykka.ActorRef[DirectoryActor] | None = None
        self.consumer: dramatiq.Worker | None = None
        self.clock: Clock | None = None
        self.governor: GovernorThread | None = None
        self.alerts: AlertThread | None = None

    def start(self) -> None:
        # Thousands of company actors may queue for the pool at once (mass starts): they wait
        # rather than crash.
        init_db(
            self.config.database_url,
            self.config.db_pool_size,
            application_name="zapx-engine",
            wait_s=120,
            connect_timeout_s=self.config.db_connect_timeout_s,
        )
        dependencies.configure(self.config.dependency_policy)
        budget = Budget(self.config.engine_budget)
        self.directory = DirectoryActor.start(self.config, DramatiqOutbox(), budget)
        proxy = self.directory.proxy()
        inbox.bind(proxy)
        # Before the consumer boots: its worker-boot hook keeps this process's kind, engine.
        metrics.start_process_metrics("engine")
        # One consumer thread: commands are cheap; their work happens in the actors.
        # A short idle poll (ms): reports and commands reach the actors within POLL_MS of sending.
        self.consumer = dramatiq.Worker(
            inbox.broker, queues={"engine"}, worker_threads=1, worker_timeout=POLL_MS
        )
        self.consumer.start()
        self.clock = Clock(proxy)
        self.clock.start()
        self.governor = start_governor(
            self.config,
            budget,
            get_redis(self.config.redis_url),
            inbox.broker.namespace,
            (deliver_batch.queue_name, deliver_first.queue_name),
        )
        self.alerts = start_alerts(
            self.config,
            get_redis(self.config.redis_url),
            inbox.broker.namespace,
            QUEUES,
            alerts.notify,
        )
        log.info(
            "engine started",
            extra={
                "queues": ["engine"],
                "governor": self.governor is not None,
                "alerts": self.alerts is not None,
            },
        )

    def stop(self) -> None:
        if self.alerts is not None:
            self.alerts.stop()
        if self.governor is not None:
            self.governor.stop()
        if self.clock is not None:
            self.clock.stop()
        if self.consumer is not None:
            self.consumer.stop(timeout=int(STOP_TIMEOUT_S * 1000))
        inbox.bind(None)
        # The Directory first: it stops each company actor, which stops its own session
        # throttles. The registry alone stops actors in reverse start order, so a throttle
        # (started after its company actor) went first while its company actor still asked it,
        # and the engine logged "session throttle failed" on every shutdown with work in hand.
        if self.directory is not None:
            self.directory.stop(block=True, timeout=STOP_TIMEOUT_S)
        pykka.ActorRegistry.stop_all(block=True, timeout=STOP_TIMEOUT_S)  # whatever is left
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
