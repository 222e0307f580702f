"""The Directory: the engine's root actor. Routes commands to per-company actors, starting them
on demand and stopping them when idle, and runs the clock's periodic duties.
"""

from __future__ import annotations

import logging
import time

import pykka
import redis

from actors.engine.company import FIRST_BATCH_SIZE, Budget, CompanyActor
from zapx.campaigns import batches, flags
from zapx.config import Config
from zapx.db import db
from zapx.redis import Keys, get_redis

log = logging.getLogger("zapx.engine")

#: Seconds between sweeps for expired leases and lost batch messages.
SWEEP_S = 10.0
#: Seconds to wait for a company actor's answer.
ASK_TIMEOUT_S = 10.0
#: Campaigns started (and their first batches planned) per transaction when many come due.
START_CHUNK = 1000


class DirectoryActor(pykka.ThreadingActor):
    """Commands are plain dicts with a ``kind`` and ids, never rows."""

    def __init__(self, config: Config, budget: int | None = None):
        super().__init__()
        self.config = config
        self.keys = Keys(config.redis_prefix)
        self.budget = Budget(budget or config.engine_budget)
        self.companies: dict[int, pykka.ActorRef] = {}
        self.proxies: dict[int, pykka.ActorProxy] = {}
        #: Messages sent to each company's current actor (see ``company_idle``).
        self.routed: dict[int, int] = {}
        self._me = None  # this actor's own proxy, handed to the company actors (private: pykka
        # would inspect it, and warn, each time it builds a proxy of this actor)
        self.wakes: dict[int, float] = {}
        self.starting: dict[int, float] = {}
        self.started_at = 0.0
        self.last_sweep = 0.0
        self.handled = 0

    def on_start(self) -> None:
        self.started_at = time.monotonic()
        with db.connection_context():
            companies = batches.running_companies()
        for company_id in companies:
            self._company(company_id)  # each rebuilds its campaigns from the database
        log.info("directory started", extra={"companies_recovered": len(companies)})

    def on_stop(self) -> None:
        # Children first: the registry's stop_all would also do it, but an engine embedded in
        # tests stops the Directory alone.
        for ref in list(self.companies.values()):
            ref.stop(block=True, timeout=ASK_TIMEOUT_S)
        log.info("directory stopped", extra={"commands_handled": self.handled})

    # --- commands ---------------------------------------------------------------------------

    def handle(self, command: dict) -> dict:
        """Apply one command from the engine queue; returns a small status dict."""
        self.handled += 1
        kind = command.get("kind")
        if kind == "campaign_changed":
            self._tell(int(command["company_id"])).refresh(int(command["campaign_id"]))
        elif kind == "batch_done":
            self._tell(int(command["company_id"])).batch_done(command)
        elif kind == "tick":
            self.tick()
        elif kind == "ping":
            return self._ping(command)
        else:
            log.warning("unknown engine command", extra={"kind": kind})
            return {"ok": False, "error": f"unknown command {kind!r}"}
        return {"ok": True}

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
        self.companies.pop(company_id, None)
        self.proxies.pop(company_id, None)
        self.routed.pop(company_id, None)
        self.wakes.pop(company_id, None)
        ref.stop(block=False)
        self._share()

    def tick(self) -> None:
        """The clock: due scheduled starts, due wake-ups, and every SWEEP_S the sweeps."""
        now = time.time()
        with db.connection_context():
            # Due campaigns start in chunks of START_CHUNK, each in one transaction, and get
            # their first batches in three more statements: a first message does not wait for
            # its company actor, which plans from the second batch on. Every chunk's first
            # batches are enqueued before any company actor is made: making a thousand actors
            # takes seconds, and the next thousand's start would wait on it.
            chunks = []
            while True:
                started = batches.start_due(START_CHUNK)
                if started:
                    chunks.append((started, self._send_first_batches(started)))
                if len(started) < START_CHUNK:
                    break
            for started, firsts in chunks:
                self._adopt_first_batches(started, firsts)
            # What start_due left (no list, no connection) goes to the company actor, which
            # pauses it with the reason.
            for company_id, campaign_id in batches.due_scheduled():
                if self.starting.get(campaign_id, 0) > now - 5:
                    continue
                self.starting[campaign_id] = now
                self._tell(company_id).refresh(campaign_id)
            if now - self.last_sweep >= min(SWEEP_S, self.config.batch_lease_s / 2):
                self.last_sweep = now
                self._sweep()
        self.starting = {k: v for k, v in self.starting.items() if v > now - 5}
        for company_id, at in list(self.wakes.items()):
            if at <= now:
                del self.wakes[company_id]
                self._tell(company_id).pump()

    # --- internals --------------------------------------------------------------------------

    def _send_first_batches(self, started: list[tuple[int, int]]) -> list[tuple]:
        from actors.delivery import deliver_first

        firsts = batches.plan_first_batches(started, min(self.config.batch_size, FIRST_BATCH_SIZE))
        # The run flags first: a worker drops a batch whose campaign is not flagged running.
        pipe = get_redis(self.config.redis_url).pipeline(transaction=False)
        for _, campaign_id, generation, _, _ in firsts:
            pipe.set(flags.run_key(self.keys, campaign_id), generation)
        pipe.execute()
        for _, _, _, batch_id, _ in firsts:
            deliver_first.send(batch_id)
        return firsts

    def _adopt_first_batches(self, started: list[tuple[int, int]], firsts: list[tuple]) -> None:
        """Tell each started campaign's company actor (made now if new) of its first batch."""
        adopted = {f[1]: f for f in firsts}
        for company_id, campaign_id in started:
            log.info(
                "campaign started",
                extra={"company_id": company_id, "campaign_id": campaign_id},
            )
            first = adopted.get(campaign_id)
            if first is None:
                self._tell(company_id).refresh(campaign_id)
                continue
            _, _, generation, batch_id, rows = first
            ref = self.companies.get(company_id)
            if ref is not None and ref.is_alive():
                self._tell(company_id).adopt(campaign_id, generation, batch_id, rows)
            else:  # a new actor counts it from on_start, before it plans anything
                self._company(company_id, {campaign_id: (generation, batch_id, rows)})

    def _company(self, company_id: int, adopted: dict | None = None):
        ref = self.companies.get(company_id)
        if ref is None or not ref.is_alive():
            if ref is not None:
                log.warning("replacing a stopped company actor", extra={"company_id": company_id})
            if self._me is None:
                self._me = self.actor_ref.proxy()
            ref = CompanyActor.start(company_id, self._me, self.budget, self.config, adopted)
            self.companies[company_id] = ref
            self.proxies[company_id] = ref.proxy()
            self.routed[company_id] = 0
            self._share()
        # Kept per actor: building a proxy inspects the actor's attributes (~0.1 ms), and the
        # Directory sends thousands of messages a second at peak.
        return self.proxies[company_id]

    def _tell(self, company_id: int):
        """The company actor's proxy, for one message (counted for ``company_idle``)."""
        proxy = self._company(company_id)
        self.routed[company_id] += 1
        return proxy

    def _share(self) -> None:
        self.budget.share(len(self.companies))

    def _sweep(self) -> None:
        from actors.delivery import deliver_batch

        # A company actor that crashed with nothing left to tell it would leave its campaigns
        # running with nothing sent: every running campaign's company has a live actor.
        for company_id in batches.running_companies():
            ref = self.companies.get(company_id)
            if ref is None or not ref.is_alive():
                self._company(company_id)  # rebuilds from the database in on_start

        for company_id, campaign_id in batches.expire_leases(self._progress):
            log.warning(
                "batch lease expired",
                extra={"company_id": company_id, "campaign_id": campaign_id},
            )
            self._tell(company_id).refresh(campaign_id)
        for batch_id in batches.stale_planned(self.config.batch_lease_s):
            log.warning("re-sending a lost batch message", extra={"batch_id": batch_id})
            deliver_batch.send(batch_id)

    def _progress(self, batch_ids: list[int]) -> dict:
        """What workers that died left of their batches (``flags.batch_progress``); with Redis
        unreachable nothing is known, and every row that may have left becomes unknown."""
        try:
            return flags.batch_progress(get_redis(self.config.redis_url), self.keys, batch_ids)
        except (redis.RedisError, ValueError, TypeError) as exc:  # down, or not what we wrote
            log.warning("batch progress unreadable: %s", exc, extra={"batches": batch_ids})
            return {}

    def _ping(self, command: dict) -> dict:
        # A liveness probe: the token, stored for 300 s, proves the engine consumed its queue.
        uptime_s = round(time.monotonic() - self.started_at, 3)
        token = str(command.get("token", ""))[:64]
        if token:
            key = self.keys.of("engine", "ping", token)
            get_redis(self.config.redis_url).set(key, uptime_s, ex=300)
        return {"ok": True, "uptime_s": uptime_s}
