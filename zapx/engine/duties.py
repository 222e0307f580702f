"""The engine's periodic duties, as plain code: mass starts, the sweeps, and the rebuild of
what Redis keeps when it lost its data.

The Directory actor runs these from its clock's tick; they touch no actor. Starting is done in
bulk here, not per company, because thousands of campaigns may come due in the same second (the
tenants benchmark): every due campaign starts in chunks of ``START_CHUNK``, each chunk in one
transaction, with its first batches planned, flagged running and enqueued in a few statements;
the rest of their audiences is copied after (``complete_audiences``).
"""

from __future__ import annotations

import logging
import time

import redis

from zapx import cache
from zapx.campaigns import batches, flags, priority, starts
from zapx.config import Config
from zapx.engine.live import Outbox
from zapx.engine.messages import FirstBatch, Outcome
from zapx.engine.planning import FIRST_BATCH_SIZE
from zapx.engine.runflags import RunFlags

log = logging.getLogger("zapx.engine")

#: Campaigns started (and their first batches planned) per transaction when many come due:
#: each chunk's first batches are enqueued before the next chunk starts, so the workers send
#: them while the engine starts the next. (Chunks of 500 were tried for 2,000 at once beside a
#: 200,000-row campaign: p99 9.0 s against 6.9 s with 1,000, one run each on a shared host.)
START_CHUNK = 1000
#: The key whose absence says Redis lost its data: nothing deletes it or gives it a TTL.
REDIS_MARK = ("engine", "redis-mark")


class Duties:
    """What the clock does besides waking companies; callers hold a connection scope."""

    def __init__(self, config: Config, outbox: Outbox, flags: RunFlags):
        self.config = config
        self.outbox = outbox
        self.flags = flags
        self.mark = flags.keys.of(*REDIS_MARK)

    def redis_lost(self) -> tuple[int, int] | None:
        """When Redis lost its data since the last call (restarted without persistence,
        flushed, failed over to an empty replica: the mark is gone), rebuild from PostgreSQL
        what zapx keeps there and cannot do without: the run flag of every running campaign
        (else every worker stops every batch, and the engine plans new ones for ever) and the
        message of every planned batch (they went with the queues; re-sending is safe: the
        claim is the gate). Returns (flags, batches) rebuilt, or None: nothing was lost.

        The first call on a Redis this install never used rebuilds too: there is nothing to
        rebuild unless campaigns run. One Redis call a tick (``SET NX``).
        """
        if not self.flags.client.set(self.mark, "1", nx=True):
            return None
        running = starts.running_campaigns()
        self.flags.set_many(running)
        # A pause or cancel committed since the read above cleared its flag before or after
        # the set: read again, and clear those that no longer run in that generation.
        still = set(starts.running_campaigns())
        for company_id, campaign_id, generation in running:
            if (company_id, campaign_id, generation) not in still:
                self.flags.clear(company_id, campaign_id)
        planned = batches.planned()
        for batch_id, company_id, delay_s in planned:
            self.outbox.send_batch(batch_id, company_id, False, delay_s)
        return len(running), len(planned)

    def start_due(self) -> list[tuple[list[tuple[int, int]], list[FirstBatch]]]:
        """Start every due campaign that can start and send its first batch; returns, per chunk,
        the (company id, campaign id) started and their first batches, for the company
        lifecycles to adopt (they plan from the second batch on).

        Every chunk's first batches are enqueued before any company actor is made: making a
        thousand actors takes seconds, and the next thousand's start would wait on it.

        A burst (``priority.counts`` of the campaigns due) holds the bulk lane from before its
        first start: the count is announced first, the chunks' batches are counted as they
        are sent, and what was announced but not sent (not startable, no row) is taken off
        at the end.
        """
        due = starts.due_count(START_CHUNK * 10)
        announced = due if priority.counts(due) else 0
        if announced:
            priority.firsts_enqueued(self.flags.client, self.flags.keys, announced)
        chunks = []
        while True:
            began = time.perf_counter()
            # Only the rows the first batches take: complete_audiences copies the rest.
            started = starts.start_due(START_CHUNK, self._first_size())
            if started and not announced:
                # Committed between the count and the start (a burst inserted that moment): it
                # is announced now, before its first batches go.
                late = len(started) + starts.due_count(START_CHUNK * 10)
                if priority.counts(late):
                    announced = late
                    priority.firsts_enqueued(self.flags.client, self.flags.keys, announced)
            if started:
                took_start = time.perf_counter() - began
                chunks.append((started, self._send_first_batches(started, bool(announced))))
                log.info(
                    "campaigns started",
                    extra={
                        "campaigns": len(started),
                        "first_batches": len(chunks[-1][1]),
                        "start_ms": round(took_start * 1000, 1),
                        "first_batches_ms": round(
                            (time.perf_counter() - began - took_start) * 1000, 1
                        ),
                    },
                )
            if len(started) < START_CHUNK:
                sent = sum(len(firsts) for _, firsts in chunks)
                if announced > sent:
                    priority.firsts_done(self.flags.client, self.flags.keys, announced - sent)
                return chunks

    def complete_audiences(self) -> list[tuple[int, int]]:
        """Copy the rest of the audience of every campaign a mass start began with its head only
        (``starts.complete_audiences``, ``START_CHUNK`` a transaction); returns the (company id,
        campaign id) completed, whose companies have rows to plan again.

        Also what recovers a crash between a start and its completion: the flag is in the
        database, and the next engine's first tick completes them. With none pending, one
        index lookup."""
        if not starts.audiences_pending():
            return []
        completed = []
        while True:
            began = time.perf_counter()
            chunk = starts.complete_audiences(START_CHUNK)
            completed += chunk
            if chunk:
                self._bump_reports({company_id for company_id, _ in chunk})
                log.info(
                    "audiences completed",
                    extra={
                        "campaigns": len(chunk),
                        "ms": round((time.perf_counter() - began) * 1000, 1),
                    },
                )
            # A short chunk: none left but those locked now (a pause, a cancel), the next tick's.
            if len(chunk) < START_CHUNK:
                return completed

    def _bump_reports(self, company_ids: set[int]) -> None:
        """Their rows changed with no batch finishing (a paused campaign's may never again): a
        report cached meanwhile counted the first rows only. One pipeline for them all."""
        client, prefix = self.flags.client, self.flags.keys.prefix
        try:
            pipe = client.pipeline(transaction=False)
            for company_id in sorted(company_ids):
                cache.queue_bump(pipe, prefix, company_id, cache.REPORTS)
            pipe.execute()
        except redis.RedisError as exc:
            cache.bump_failed(client, min(company_ids), (cache.REPORTS,), exc, cache.DEFAULT_TTL_S)

    def _first_size(self) -> int:
        """Rows in a mass start's first batch (and so in its audience's head)."""
        return min(self.config.batch_size, FIRST_BATCH_SIZE)

    def _send_first_batches(
        self, started: list[tuple[int, int]], counted: bool
    ) -> list[FirstBatch]:
        """Plan, flag and enqueue the started campaigns' first batches; ``counted``: part of an
        announced burst (the workers take them off its count)."""
        firsts = starts.plan_first_batches(started, self._first_size())
        # The run flags first: a worker drops a batch whose campaign is not flagged running.
        self.flags.set_many((f.company_id, f.campaign_id, f.generation) for f in firsts)
        self.outbox.send_first_batches([(f.batch_id, f.company_id) for f in firsts], counted)
        return firsts

    def burst_pending(self) -> int:
        """First batches of mass starts not yet sent (``zapx.campaigns.priority``); 0 when
        Redis cannot say (nothing is then held for it)."""
        try:
            return priority.pending(self.flags.client, self.flags.keys)
        except (redis.RedisError, ValueError) as exc:
            log.warning("burst count unreadable: %s", exc)
            return 0

    def sweep(self) -> list[tuple[int, int]]:
        """Finish the batches whose worker died (lease over) from the progress they left, and
        send again the planned batches whose message was lost (safe: the claim is the gate).
        Returns the (company id, campaign id) whose batches expired, to be refreshed."""
        expired = batches.expire_leases(self.progress)
        for company_id in sorted({c for c, _ in expired}):  # their rows moved: reports changed
            cache.bump(self.flags.client, self.flags.keys.prefix, company_id, cache.REPORTS)
        for company_id, campaign_id in expired:
            log.warning(
                "batch lease expired",
                extra={"company_id": company_id, "campaign_id": campaign_id},
            )
        for batch_id, company_id in batches.stale_planned(self.config.batch_lease_s):
            log.warning(
                "re-sending a lost batch message",
                extra={"company_id": company_id, "batch_id": batch_id},
            )
            self.outbox.send_batch(batch_id, company_id, False, 0.0)
        return expired

    def progress(self, batch_ids: list[tuple[int, int]]) -> dict[int, tuple[int, list[Outcome]]]:
        """What workers that died left of their batches (``flags.batch_progress``); with Redis
        unreachable nothing is known, and every row that may have left becomes unknown."""
        try:
            return flags.batch_progress(self.flags.client, self.flags.keys, batch_ids)
        except (redis.RedisError, ValueError, TypeError) as exc:  # down, or not what we wrote
            log.warning("batch progress unreadable: %s", exc, extra={"batches": batch_ids})
            return {}
