"""CompanyActor: the mailbox of one company's :class:`~zapx.engine.lifecycle.CompanyLifecycle`.

The actor only serializes calls into the lifecycle (one thread per company) and reports upward to
the Directory with ``tell`` (``.defer()``), never an ask, so the two never wait on each other.
Every message reaches it as a ``tell``: when its work raises, Pykka stops the actor and calls
``on_failure``, which logs the failure and tells the Directory, which replaces the actor by one
rebuilt from PostgreSQL (DESIGN rule 2).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pykka

from actors.engine.throttle import ThrottleActors
from zapx import dependencies
from zapx.campaigns import service
from zapx.circuits import Circuits, Thresholds
from zapx.config import Config
from zapx.db import db
from zapx.engine.lifecycle import CompanyLifecycle
from zapx.engine.live import Budget, Outbox
from zapx.engine.messages import BatchReport, FirstBatch
from zapx.engine.runflags import RunFlags
from zapx.redis import Keys, get_redis
from zapx.schedule import SendGate

if TYPE_CHECKING:
    from actors.engine.directory import DirectoryActor

log = logging.getLogger("zapx.engine.company")


class CompanyActor(pykka.ThreadingActor):
    """One company's campaigns; its messages are the lifecycle's entry points."""

    def __init__(
        self,
        company_id: int,
        directory: pykka.ActorProxy[DirectoryActor],
        budget: Budget,
        config: Config,
        outbox: Outbox,
        adopted: Iterable[FirstBatch] = (),
        working: threading.Semaphore | None = None,
    ):
        super().__init__()
        self.company_id = company_id
        #: Held while this actor works (on_start and each message), shared by every company
        #: actor: at most as many of them work at once as the engine's connection pool has
        #: connections to spare, so the Directory's tick never waits for one behind thousands
        #: of companies, and only those few threads compete for the GIL.
        self.working = working if working is not None else contextlib.nullcontext()
        self.directory = directory
        #: A SessionThrottleActor per connection with live work, started from here.
        self.throttles = ThrottleActors(company_id)
        redis = get_redis(config.redis_url)
        keys = Keys(config.redis_prefix)
        self.lifecycle = CompanyLifecycle(
            company_id,
            config=config,
            budget=budget,
            outbox=outbox,
            flags=RunFlags(redis, keys),
            wake=self._wake,
            publish=self._publish,
            adopted=adopted,  # before on_start: it must not plan a second first batch
            throttles=self.throttles,
            gate=SendGate(redis, keys),
            circuits=Circuits(redis, keys, Thresholds.from_config(config)),
        )
        #: Messages taken from the Directory, told back with ``company_idle`` so the Directory
        #: knows whether it sent anything since.
        self.received = 0
        #: The campaign the message being handled is about (None: all of them), for the log of
        #: a failure.
        self.working_on: int | None = None

    def on_start(self) -> None:
        try:
            with self.working:
                self.lifecycle.recover()
        except Exception:
            # Pykka stops an actor whose on_start raised without calling on_failure.
            self.on_failure(*sys.exc_info())
            raise

    def on_stop(self) -> None:
        self.throttles.stop_all()

    def on_failure(self, exc_type, exc_value, traceback) -> None:
        # Pykka has stopped this actor: its state may be half-updated, so the Directory
        # replaces it with a fresh one that rebuilds from the database. A dependency down is
        # not a bug (its breaker says so once; the Directory waits for it to close).
        level = logging.WARNING if dependencies.unavailable(exc_value) else logging.ERROR
        log.log(
            level,
            "company actor failed; replacing it",
            extra={
                "company_id": self.company_id,
                # The message's campaign, else the one its lifecycle was at (a wake-up's).
                "campaign_id": self.working_on
                if self.working_on is not None
                else self.lifecycle.working_on,
                "error": repr(exc_value),
            },
        )
        self.throttles.stop_all()  # the replacement rebuilds them from PostgreSQL and Redis
        self.directory.company_failed.defer(self.company_id, self.actor_urn)

    # --- messages (told by the Directory) -----------------------------------------------

    def refresh(self, campaign_id: int) -> None:
        """The campaign changed (command, schedule, lease expiry): act on its current row."""
        with self._work(campaign_id):
            self.lifecycle.refresh(campaign_id)

    def adopt(self, first: FirstBatch) -> None:
        """The Directory started the campaign and sent its first batch: count it."""
        with self._work(first.campaign_id):
            self.lifecycle.adopt(first)

    def batch_done(self, report: BatchReport) -> None:
        with self._work(report.campaign_id):
            self.lifecycle.record(report)

    def pump(self) -> None:
        """Plan what is due (the Directory's clock calls this at the wake-up time asked for)."""
        with self._work(None):
            self.lifecycle.pump()

    # --- internals ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _work(self, campaign_id: int | None):
        """One message's work, about ``campaign_id`` (None: all of them), holding ``working``;
        then, with nothing live, tell the Directory (a failure skips it: Pykka stops us)."""
        self.received += 1
        self.working_on = campaign_id
        self.lifecycle.working_on = None
        with self.working:
            yield
        self.working_on = None
        if self.lifecycle.idle:
            self.directory.company_idle.defer(self.company_id, self.received)

    def _wake(self, at: float) -> None:
        self.directory.wake.defer(self.company_id, at)

    def _publish(self, campaign_id: int) -> None:
        with db.connection_context():
            service.publish_campaign(self.lifecycle.tenant, campaign_id)
