"""DirectoryActor: the engine's root actor. Routes commands to per-company actors, starting them
on demand, stopping them when idle and replacing them when they fail, and runs the clock's
periodic duties (``zapx.engine.duties``).
"""

from __future__ import annotations

import logging
import threading
import time

import pykka

from actors.engine.company import CompanyActor
from zapx import dependencies
from zapx.campaigns import starts
from zapx.config import Config
from zapx.db import db
from zapx.engine.duties import Duties
from zapx.engine.live import Budget, Outbox
from zapx.engine.messages import BatchReport, CampaignChanged, Command, FirstBatch, Ping, Tick
from zapx.engine.planning import FIRST_WAIT_S
from zapx.engine.runflags import RunFlags
from zapx.redis import Keys, get_redis

log = logging.getLogger("zapx.engine")

#: Seconds between sweeps for expired leases and lost batch messages.
SWEEP_S = 10.0
#: Seconds each company actor gets to stop when the Directory stops.
STOP_TIMEOUT_S = 10.0
#: Seconds before a failed company actor is replaced: none for its first failure, then doubling
#: up to SWEEP_S while it keeps failing (a database that is down would otherwise make a
#: replacement loop of its on_start).
REPLACE_MIN_S, REPLACE_MAX_S = 0.25, SWEEP_S
#: Company actors a tick makes for companies whose first batches' reports have not come within
#: FIRST_WAIT_S (the reports make the others): a mass start's stragglers are made a few hundred
#: a second, not all in one tick.
BIRTHS_PER_TICK = 100
#: Company actors a tick makes, once a burst's first batches are all sent, for the companies
#: whose reports came meanwhile (held: see ``DirectoryActor.held``).
BIRTHS_AFTER_BURST = 250
#: Seconds of a tick its births may take at most (the rest wait for the next tick).
BIRTHS_BUDGET_S = 0.15
#: Pooled connections the company actors leave to the Directory's tick and the engine's other
#: threads (governor, alert rules): see ``CompanyActor.working``.
SPARE_CONNECTIONS = 3

#: A tick that takes this long (seconds) is logged with where its time went.
SLOW_TICK_S = 0.5

CompanyProxy = pykka.ActorProxy[CompanyActor]


class DirectoryActor(pykka.ThreadingActor):
    """Commands are :mod:`zapx.engine.messages` dataclasses, never rows."""

    def __init__(self, config: Config, outbox: Outbox, budget: Budget | None = None):
        super().__init__()
        self.config = config
        self.outbox = outbox
        self.keys = Keys(config.redis_prefix)
        #: Shared with the company actors, and with the governor, which sets its total.
        self.budget = budget or Budget(config.engine_budget)
        self.duties = Duties(config, outbox, RunFlags(get_redis(config.redis_url), self.keys))
        self.companies: dict[int, pykka.ActorRef[CompanyActor]] = {}
        #: Company actors working at once (``CompanyActor.working``).
        self.working = threading.BoundedSemaphore(max(1, config.db_pool_size - SPARE_CONNECTIONS))
        self.proxies: dict[int, CompanyProxy] = {}
        #: Messages sent to each company's current actor (see ``company_idle``).
        self.routed: dict[int, int] = {}
        self._me: pykka.ActorProxy[DirectoryActor] | None = None  # this actor's own proxy,
        # handed to the company actors (private: pykka would inspect it, and warn, each time it
        # builds a proxy of this actor)
        self.wakes: dict[int, float] = {}
        #: Companies without an actor whose campaigns were started in bulk: when that was
        #: (epoch s) and their first batches, in flight. Their actor is made when a message for
        #: the company comes (the first batch's report, a command), or by the tick FIRST_WAIT_S
        #: after: until the report it has nothing to do (the second batch waits for it), and
        #: making 2,000 actors at once (two threads and a dozen queries each) took the CPU the
        #: workers needed to send those first messages.
        self.unborn: dict[int, tuple[float, list[FirstBatch]]] = {}
        #: Reports of unborn companies' first batches that came while a burst's first batches
        #: were still pending (``zapx.campaigns.priority``): making their actors then (a dozen
        #: queries and a thread each) took the cores the burst's other first messages needed.
        #: Handed to each actor when it is made, once the burst is out.
        self.held: dict[int, list[BatchReport]] = {}
        #: First batches of bursts still pending at the last tick (0: none).
        self.burst_pending = 0
        self.starting: dict[int, float] = {}
        #: Failed companies: when to replace the actor (epoch s), and the last delay (s).
        self.replacing: dict[int, float] = {}
        self.replace_delay: dict[int, tuple[float, float]] = {}
        self.started_at = 0.0
        self.last_sweep = 0.0
        self.last_tick_end = 0.0  # perf_counter s
        self.handled = 0
        #: Ticks skipped because a dependency's breaker was open, and ticks run.
        self.skipped_ticks = 0
        self.ticks = 0

    def on_start(self) -> None:
        self.started_at = time.monotonic()
        try:
            with db.connection_context():
                companies = starts.running_companies()
        except Exception as exc:
            if not dependencies.unavailable(exc):
                raise
            # An engine (re)started while PostgreSQL is down waits for it instead of exiting
            # at once, again and again: the first tick's sweep, once the breaker lets it
            # through, starts every running company's actor.
            log.warning("directory started without its companies", extra={"error": repr(exc)})
            companies = []
        for company_id in companies:
            self._company(company_id)  # each rebuilds its campaigns from the database
        log.info("directory started", extra={"companies_recovered": len(companies)})

    def on_stop(self) -> None:
        # Children first: the registry's stop_all would also do it, but an engine embedded in
        # tests stops the Directory alone.
        for ref in list(self.companies.values()):
            ref.stop(block=True, timeout=STOP_TIMEOUT_S)
        log.info("directory stopped", extra={"commands_handled": self.handled})

    # --- commands ---------------------------------------------------------------------------

    def handle(self, command: Command) -> float | None:
        """Apply one command from the engine queue or the clock; a ping returns the uptime (s)."""
        self.handled += 1
        match command:
            case CampaignChanged(company_id=company_id, campaign_id=campaign_id):
                self._send(company_id, "refresh", campaign_id)
            case BatchReport(company_id=company_id) if (
                self.burst_pending and company_id in self.unborn
            ):
                self.held.setdefault(company_id, []).append(command)
            case BatchReport(company_id=company_id):
                self._send(company_id, "batch_done", command)
            case Tick():
                self.tick()
            case Ping():
                return self._ping(command)
            case _:
                raise TypeError(f"not an engine command: {command!r:.200}")
        return None

    def handle_all(self, commands: list[Command]) -> None:
        """:meth:`handle` each of ``commands`` in order (a chunk of first batches' reports)."""
        for command in commands:
            self.handle(command)

    def wake(self, company_id: int, at: float) -> None:
        """A company asks to be pumped at ``at`` (epoch seconds)."""
        current = self.wakes.get(company_id)
        if current is None or at < current:
            self.wakes[company_id] = at

    def company_idle(self, company_id: int, received: int) -> None:
        """Stop a company actor that had nothing live after its ``received``-th message.

        Only if that was the last message sent to it: one sent since may have given it work, and
        it will report again once it has handled that. No ask: with thousands of companies,
        waiting here on each one's thread delayed every other company's commands.
        """
        ref = self.companies.get(company_id)
        if ref is None or self.routed.get(company_id, 0) != received:
            return
        self._forget(company_id)
        ref.stop(block=False)

    def company_failed(self, company_id: int, actor_urn: str) -> None:
        """A company actor's work raised and Pykka stopped it (it logged why): replace it by a
        fresh one, rebuilt from the database, which takes the company's next messages."""
        ref = self.companies.get(company_id)
        if ref is None or ref.actor_urn != actor_urn:
            return  # already replaced, or stopped as idle
        self._forget(company_id)
        now = time.time()
        last_at, last_delay = self.replace_delay.get(company_id, (0.0, 0.0))
        delay = 0.0 if now - last_at > REPLACE_MAX_S * 2 else max(REPLACE_MIN_S, last_delay * 2)
        delay = min(delay, REPLACE_MAX_S)
        self.replace_delay[company_id] = (now, delay)
        self.replacing[company_id] = now + delay
        if delay == 0.0 and dependencies.blocking() is None:  # else the tick, once it is back
            self._replace_due(now)

    def tick(self) -> None:
        """The clock: due scheduled starts (then, once their burst is out, the rest of their
        audiences), due wake-ups, replacements, births, and every SWEEP_S the sweeps. Skipped
        while this process's database or redis breaker refuses calls: nothing is started,
        planned, replaced or swept (every part of it needs both) until a probe finds them back;
        then the wake-ups that came due in the meantime go at the next tick."""
        if dependencies.blocking() is not None:
            self.skipped_ticks += 1
            return
        now = time.time()
        began = time.perf_counter()
        with db.connection_context():
            rebuilt = self.duties.redis_lost()
            if rebuilt is not None and self.ticks:
                log.warning(
                    "redis lost its data; rebuilt from postgresql",
                    extra={"run_flags": rebuilt[0], "batches_resent": rebuilt[1]},
                )
            self.ticks += 1
            chunks = self.duties.start_due()
            for started, firsts in chunks:
                self._adopt_first_batches(started, firsts)
            # Read after the starts (a burst they announced counts from this tick on), and only
            # while there is something to hold: one GET a tick during a burst.
            self.burst_pending = self.duties.burst_pending() if self.unborn else 0
            audience_began = time.perf_counter()
            if not self.burst_pending:  # the burst's first messages before the rest's copy
                self._complete_audiences()
            audience = time.perf_counter() - audience_began
            # What start_due left (no list, no connection) goes to the company actor, which
            # pauses it with the reason.
            for company_id, campaign_id in starts.due_scheduled():
                if self.starting.get(campaign_id, 0) > now - 5:
                    continue
                self.starting[campaign_id] = now
                self._send(company_id, "refresh", campaign_id)
            took = {"start_ms": time.perf_counter() - began - audience, "audience_ms": audience}
            if now - self.last_sweep >= min(SWEEP_S, self.config.batch_lease_s / 2):
                self.last_sweep = now
                self._sweep()
                took["sweep_ms"] = time.perf_counter() - began - sum(took.values())
        self.starting = {k: v for k, v in self.starting.items() if v > now - 5}
        self._replace_due(now)
        self._birth_due(now)
        for company_id, at in list(self.wakes.items()):
            if at <= now:
                del self.wakes[company_id]
                self._send(company_id, "pump")
        took["rest_ms"] = time.perf_counter() - began - sum(took.values())
        # The gap since the last tick ended: time the Directory spent on other messages.
        gap, self.last_tick_end = began - self.last_tick_end, time.perf_counter()
        if sum(took.values()) >= SLOW_TICK_S or (self.ticks > 1 and gap >= 2 * SLOW_TICK_S):
            took["gap_ms"] = gap
            log.info("slow tick", extra={k: round(v * 1000, 1) for k, v in took.items()})

    # --- internals --------------------------------------------------------------------------

    def _adopt_first_batches(self, started: list[tuple[int, int]], firsts: list[FirstBatch]):
        """Tell each started campaign's company actor (made now if new) of its first batch."""
        adopted = {f.campaign_id: f for f in firsts}
        for company_id, campaign_id in started:
            log.info(
                "campaign started",
                extra={"company_id": company_id, "campaign_id": campaign_id},
            )
            first = adopted.get(campaign_id)
            if first is None:
                self._send(company_id, "refresh", campaign_id)
                continue
            ref = self.companies.get(company_id)
            if ref is not None and ref.is_alive():
                self._send(company_id, "adopt", first)
            else:  # a new actor counts it from on_start, before it plans anything
                if company_id not in self.unborn:
                    self.unborn[company_id] = (time.time(), [])
                self.unborn[company_id][1].append(first)
        self._share()

    def _complete_audiences(self) -> None:
        """Copy the rest of the audiences the starts above began with their heads, then have
        each completed campaign's company actor plan its new rows. Only an actor that exists:
        an unborn company's actor reads its campaigns from the database when it is made, and
        making it here would be the mass of births ``unborn`` avoids. One query when none is
        pending (a crash between start and completion leaves the flags: this completes them)."""
        for company_id, campaign_id in self.duties.complete_audiences():
            ref = self.companies.get(company_id)
            if ref is not None and ref.is_alive():
                self._send(company_id, "refresh", campaign_id)

    def _company(self, company_id: int, adopted: list[FirstBatch] | None = None) -> CompanyProxy:
        ref = self.companies.get(company_id)
        if ref is None or not ref.is_alive():
            if ref is not None:
                log.warning("replacing a stopped company actor", extra={"company_id": company_id})
            if self._me is None:
                self._me = self.actor_ref.proxy()
            self.replacing.pop(company_id, None)
            _, unborn = self.unborn.pop(company_id, (0.0, []))
            ref = CompanyActor.start(
                company_id,
                self._me,
                self.budget,
                self.config,
                self.outbox,
                [*unborn, *(adopted or ())],
                self.working,
            )
            self.companies[company_id] = ref
            self.proxies[company_id] = ref.proxy()
            self.routed[company_id] = 0
            for report in self.held.pop(company_id, ()):
                self.routed[company_id] += 1
                self.proxies[company_id].batch_done.defer(report)
            self._share()
        # Kept per actor: building a proxy inspects the actor's attributes (~0.1 ms), and the
        # Directory sends thousands of messages a second at peak.
        return self.proxies[company_id]

    def _send(self, company_id: int, method: str, *args) -> None:
        """Tell the company's actor ``method(*args)`` (one-way; counted for ``company_idle``).

        An actor that failed a moment ago is dead before its ``company_failed`` arrives: the
        message goes to its replacement, which has rebuilt from the database.
        """
        for attempt in (1, 2):
            proxy = self._company(company_id)
            self.routed[company_id] += 1
            try:
                getattr(proxy, method).defer(*args)
                return
            except pykka.ActorDeadError:
                if attempt == 2:
                    raise
                self._forget(company_id)

    def _forget(self, company_id: int) -> None:
        self.companies.pop(company_id, None)
        self.proxies.pop(company_id, None)
        self.routed.pop(company_id, None)
        self.wakes.pop(company_id, None)
        self._share()

    def _replace_due(self, now: float) -> None:
        for company_id, at in list(self.replacing.items()):
            if at <= now:
                log.info("company actor replaced", extra={"company_id": company_id})
                self._company(company_id)  # rebuilds from the database in on_start

    def _birth_due(self, now: float) -> None:
        """Once no burst is pending: make the actors of companies whose reports were held
        (BIRTHS_AFTER_BURST a tick), then of those whose first batches went FIRST_WAIT_S ago
        or more without a report (a killed worker never sends one), oldest first,
        BIRTHS_PER_TICK."""
        if self.burst_pending:
            return
        # Bounded in time too: a birth is a thread's start, which waits for a core (5-10 ms each
        # under load), and the next tick's starts wait for this one to end. 250 births in a tick
        # took it 1-1.5 s (starts at 100 a second: first message p99 3.7 s).
        until = time.perf_counter() + BIRTHS_BUDGET_S
        for company_id in list(self.held)[:BIRTHS_AFTER_BURST]:
            if time.perf_counter() > until:
                return
            self._company(company_id)
        due = []
        for company_id, (since, _) in self.unborn.items():  # in insertion order: oldest first
            if since + FIRST_WAIT_S > now or len(due) >= BIRTHS_PER_TICK:
                break
            due.append(company_id)
        for company_id in due:
            if time.perf_counter() > until:
                return
            self._company(company_id)

    def _share(self) -> None:
        # An unborn company has live work (its first batch) as much as one with an actor.
        self.budget.share(len(self.companies) + len(self.unborn))

    def _sweep(self) -> None:
        # A company actor that died with nothing left to tell it would leave its campaigns
        # running with nothing sent: every running campaign's company has a live actor.
        for company_id in starts.running_companies():
            ref = self.companies.get(company_id)
            if (
                (ref is None or not ref.is_alive())
                and company_id not in self.replacing
                and company_id not in self.unborn  # made by its report or _birth_due
            ):
                self._company(company_id)  # rebuilds from the database in on_start
        for company_id, campaign_id in self.duties.sweep():
            self._send(company_id, "refresh", campaign_id)

    def _ping(self, command: Ping) -> float:
        # A liveness probe: the token, stored for 300 s, proves the engine consumed its queue.
        uptime_s = round(time.monotonic() - self.started_at, 3)
        token = command.token[:64]
        if token:
            key = self.keys.of("engine", "ping", token)
            get_redis(self.config.redis_url).set(key, uptime_s, ex=300)
        return uptime_s
