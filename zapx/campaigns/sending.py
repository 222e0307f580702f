"""One claimed batch sent row by row through the connection's send gate (the worker's loop).

For each row: sleep to its planned slot, then ask the gate (:mod:`zapx.schedule`, one script
call) whether the message may leave *now*. That same call checks that the campaign still runs in
the batch's generation (a pause or cancel stops sending within the message on the wire), notes
the row as started and appends the outcomes of the rows done since the batch's last call to its
progress in Redis. On a Wait the batch sleeps (the Wait's ``wait_s``, or
:func:`zapx.schedule.backoff_s` after a rate-limit hit) while it is within its deadline and its
campaign still runs; a wait that is long (:data:`LONG_WAIT_S`, or a daily limit) or would pass
the deadline ends the batch instead: its rows not sent go back to pending, due when the gate
said (never dropped, never failed for a limit), the reason is kept for the campaign report and
the batch reports ``Stop.WAIT``, so the engine waits for those rows instead of re-planning them
at once.

Outcomes reach the progress right after each answer, before any sleep: when a sleep comes next
(paced, or a slot ahead) one script call writes them and reads the run flag; when the next row
follows at once (unpaced) they are written without waiting for Redis's reply
(:func:`zapx.campaigns.flags.push_outcomes`), which the next gate call reads, so an unpaced send
costs one round trip. So a worker killed between two sends leaves no answered row ``unknown``:
only a request on the wire is. The gate's send token is given back when the batch ends, whatever
ends it.

This serial loop sends paced batches and those of providers without ``request``/``result``;
unpaced batches of the real providers keep up to 8 requests in flight instead
(:mod:`zapx.campaigns.window`, a subclass).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import redis as redis_lib

from zapx import dependencies, metrics, rate_limits
from zapx.campaigns import batches, flags
from zapx.campaigns.context import CampaignContext
from zapx.campaigns.recording import Recorder
from zapx.circuits import Circuits, Health
from zapx.engine.messages import BatchReport, Outcome, Stop
from zapx.providers import OutMessage
from zapx.redis import Keys, drain
from zapx.schedule import Grant, SendGate, Stopped, Wait, backoff_s
from zapx.status import RowStatus

log = logging.getLogger("zapx.delivery")

#: Seconds of a gate wait past which the batch ends and gives its rows back (due when the gate
#: allows) rather than holding a worker thread: longer than any gap a batch is planned with
#: (the engine plans 2 s ahead), shorter than a batch's lease.
LONG_WAIT_S = 10.0
#: A waiting batch reads its run flag at least this often (seconds): a pause or a cancel stops
#: it within that even in the middle of a long wait.
FLAG_POLL_S = 1.0
#: Waits from this many seconds on are noted for the campaign report (``waitingBecause``);
#: shorter ones are the pacing itself.
NOTE_WAIT_S = 1.0


@dataclasses.dataclass
class _Stopped:
    stop: Stop
    wait: Wait | None = None


class BatchSender(Recorder):
    """Sends one claim's rows (a plain class: the Dramatiq actor gives it its ports).

    ``deadline``: a ``time.monotonic()`` after which no send starts; ``progress_ttl_s``: how long
    the batch's progress outlives it in Redis (seconds).
    """

    def __init__(
        self,
        claim: batches.Claim,
        ctx: CampaignContext,
        *,
        redis: redis_lib.Redis,
        keys: Keys,
        gate: SendGate,
        deadline: float,
        progress_ttl_s: int,
        circuits: Circuits | None = None,
        on_spam: Callable[[str], None] | None = None,
    ):
        self.claim, self.ctx, self.redis, self.keys, self.gate = claim, ctx, redis, keys, gate
        #: Called with the provider's error the moment a send answers 131048 (spam rate limit):
        #: the worker pauses the campaign then, before this batch is even recorded.
        self.on_spam = on_spam
        self.deadline, self.progress_ttl_s = deadline, progress_ttl_s
        self.circuits = circuits
        #: The batch's counts for the breakers, reported once when it ends.
        self.health = Health()
        self.paced = ctx.pacing.message_interval_s > 0
        self.progress = flags.gate_progress(
            keys,
            claim.company_id,
            claim.campaign_id,
            claim.batch_id,
            claim.generation,
            progress_ttl_s,
        )
        # Only paced sends take the connection's send token (the gate's rule 1).
        self.holder = f"batch:{claim.batch_id}" if self.paced else ""
        self.outcomes: list[Outcome] = []
        self.reported = 0  # outcomes already in the batch's progress
        self.completed: float | None = None  # monotonic end of this batch's last request
        self.counts = {RowStatus.SENT: 0, "retry": 0, RowStatus.FAILED: 0, RowStatus.UNKNOWN: 0}

    def _completed_ago_s(self) -> float:
        return 0.0 if self.completed is None else max(0.0, time.monotonic() - self.completed)

    def _progress(self, started: int) -> bool:
        """Write the outcomes not yet in the batch's progress, note ``started`` rows and read
        the run flag (one script call). False: the campaign no longer runs in this batch."""
        claim = self.claim
        running = flags.before_send(
            self.redis,
            self.keys,
            claim.company_id,
            claim.campaign_id,
            claim.generation,
            claim.batch_id,
            started,
            self.outcomes[self.reported :],
            self.progress_ttl_s,
        )
        self.reported = len(self.outcomes)
        return running

    def _push_outcomes(self) -> None:
        claim = self.claim
        flags.push_outcomes(
            self.redis,
            self.keys,
            claim.company_id,
            claim.batch_id,
            self.outcomes[self.reported :],
            self.progress_ttl_s,
        )
        self.reported = len(self.outcomes)

    def _acquire(self, index: int, row) -> Grant | Wait | Stopped:
        """One gate call for row ``index``: it also writes the outcomes not yet in the progress
        (whatever it answers), checks the run flag and, on a grant, notes ``index + 1`` rows
        started."""
        claim = self.claim
        pending = self.outcomes[self.reported :]
        answer = self.gate.acquire(
            claim.whatsapp_id,
            claim.company_id,
            claim.campaign_id,
            row.number,
            self.ctx.pacing,
            rate_limits.limits_for(claim.company_id),
            self.holder,
            self._completed_ago_s(),
            progress=self.progress,
            started=index + 1,
            outcomes=[flags.encode(o) for o in pending],
        )
        self.reported += len(pending)
        return answer

    def _await_grant(self, index: int, row) -> Grant | _Stopped:
        """Ask the gate until it grants row ``index``, or why the batch stops instead."""
        claim = self.claim
        hits = 0
        while True:
            if time.monotonic() > self.deadline:
                return _Stopped(Stop.LEASE)  # the engine may soon finish the batch from progress
            answer = self._acquire(index, row)
            if isinstance(answer, Grant):
                return answer
            if isinstance(answer, Stopped):
                return _Stopped(Stop.STOPPED)
            sleep = answer.wait_s
            if answer.reason.startswith("rate limit"):
                sleep = backoff_s(hits, answer.wait_s)
                hits += 1
            metrics.delay(answer.reason, sleep)
            long = answer.reason == "daily limit" or sleep > LONG_WAIT_S
            if long or time.monotonic() + sleep > self.deadline:
                return _Stopped(Stop.WAIT, dataclasses.replace(answer, wait_s=sleep))
            if sleep >= NOTE_WAIT_S:
                flags.note_waiting(self.redis, self.keys, claim.campaign_id, answer.reason, sleep)
            # The next call reads the run flag again: a pause stops a long wait within this.
            time.sleep(min(sleep, FLAG_POLL_S))

    def _give_back(self, index: int, wait: Wait) -> None:
        """Rows ``index`` on go back to pending, due when the gate allows, attempt unused."""
        flags.note_waiting(self.redis, self.keys, self.claim.campaign_id, wait.reason, wait.wait_s)
        for row in self.claim.rows[index:]:
            self.outcomes.append(Outcome(row.id, "throttled", None, None, None, wait.wait_s))
        self.counts["retry"] += len(self.claim.rows) - index

    def run(self) -> tuple[BatchReport, list[Outcome]]:
        """Send every row (or stop early); the report and the outcomes to record.

        When Redis fails under the batch, it stops there and still returns what it did, for
        the caller to record in PostgreSQL: every Redis call of the loop comes before a send
        or after its outcome is kept, so the rows past the last outcome were not sent, and go
        back to pending (attempt unused) for when Redis may be back. Left to the engine, the
        batch would be finished from its progress in Redis after its lease, and a Redis that
        came back empty has none: every row of it, sent or not, would become ``unknown``
        (100 rows of 2 batches, the Redis fault test, ``tests/actors/test_faults.py``)."""
        try:
            stop, retry_after = self._rows()
        except redis_lib.RedisError as exc:
            return self.conclude(None, None, lost=exc)
        except BaseException:
            self._release()  # an exception cannot keep the connection's send token
            raise
        return self.conclude(stop, retry_after)

    def conclude(
        self,
        stop: Stop | None,
        retry_after: float | None,
        lost: redis_lib.RedisError | None = None,
        breaker: str | None | bool = True,
    ) -> tuple[BatchReport, list[Outcome]]:
        """The batch's rows are done (``stop``: why it ended early, if it did; ``lost``: the
        Redis failure that ended it): its last outcomes to the progress, its counts to the
        breakers (``breaker`` True; else the campaign breaker's reason to pause, or None, from
        a caller that reported them itself), the send token back; the report and the outcomes
        to record."""
        claim = self.claim
        try:
            if lost is not None:
                raise lost
            # The outcomes after the last gate call (one call a batch), for a worker that dies
            # before the batch is recorded.
            flags.record_outcomes(
                self.redis,
                self.keys,
                claim.company_id,
                claim.batch_id,
                self.outcomes[self.reported :],
                self.progress_ttl_s,
            )
            self.reported = len(self.outcomes)
        except redis_lib.RedisError as exc:
            stop, retry_after = self._redis_lost(exc)
            breaker = None  # the breakers' counts would go to the Redis that failed
        else:
            if breaker is True:
                breaker = self._report_health()
        finally:
            self._release()
        log.info(
            "batch delivered",
            extra={
                "company_id": claim.company_id,
                "campaign_id": claim.campaign_id,
                "batch_id": claim.batch_id,
                "size": len(claim.rows),
                **self.counts,
                "stop": stop,
            },
        )
        report = BatchReport(
            company_id=claim.company_id,
            campaign_id=claim.campaign_id,
            whatsapp_id=claim.whatsapp_id,
            batch_id=claim.batch_id,
            generation=claim.generation,
            stop=stop,
            retry_after_s=retry_after,
            error=self.outcomes[-1].error if self.outcomes else None,
            breaker=breaker,
            **self.counts,
        )
        return report, self.outcomes

    def _redis_lost(self, exc: redis_lib.RedisError) -> tuple[Stop, float]:
        """The rows without an outcome go back to pending, due once Redis may answer again
        (the breaker's time to its probe), their attempt unused; the batch reports a wait."""
        delay = float(dependencies.retry_after_s(exc))
        done = len(self.outcomes)
        error = f"redis unavailable: {exc}"[:300]
        for row in self.claim.rows[done:]:
            self.outcomes.append(Outcome(row.id, "throttled", None, error, None, delay))
        self.counts["retry"] += len(self.claim.rows) - done
        log.warning(
            "batch stopped: redis unavailable",
            extra={"batch_id": self.claim.batch_id, "rows_done": done, "error": repr(exc)},
        )
        return Stop.WAIT, delay

    def _release(self) -> None:
        """Give the send token back and read the replies owed; with Redis gone, the token's
        lease gives it back instead (the gap still holds: nobody sends before it ends)."""
        claim = self.claim
        try:
            if self.paced:
                self.gate.release(
                    claim.whatsapp_id, claim.company_id, self.holder, self._completed_ago_s()
                )
            drain(self.redis)  # the replies owed to the outcomes pushed without waiting
        except redis_lib.RedisError as exc:
            log.warning(
                "send token not given back: redis unavailable",
                extra={"batch_id": claim.batch_id, "error": repr(exc)},
            )

    def _report_health(self) -> str | None:
        """The batch's counts to the breakers (one script call); the campaign breaker's
        reason to pause, if it tripped. A Redis failure costs the breakers one batch's counts,
        never the batch."""
        if self.circuits is None:
            return None
        claim = self.claim
        try:
            _, trip = self.circuits.report(
                claim.company_id,
                claim.whatsapp_id,
                claim.campaign_id,
                claim.generation,
                claim.batch_id,
                self.health,
            )
        except redis_lib.RedisError as exc:
            log.warning(
                "breaker report lost",
                extra={
                    "company_id": claim.company_id,
                    "batch_id": claim.batch_id,
                    "error": str(exc),
                },
            )
            return None
        return trip or None

    def _rows(self) -> tuple[Stop | None, float | None]:
        claim, ctx = self.claim, self.ctx
        for i, row in enumerate(claim.rows):
            slot = claim.slots[i][0] if i < len(claim.slots) else 0.0
            wait = slot - time.time()
            if wait > 0:
                metrics.delay("slot", min(wait, 60.0))
                time.sleep(min(wait, 60.0))
            answer = self._await_grant(i, row)
            if isinstance(answer, _Stopped):
                if answer.wait is not None:
                    self._give_back(i, answer.wait)
                    return answer.stop, answer.wait.wait_s
                return answer.stop, None
            # Granted: the campaign runs in this batch's generation and the row is noted as
            # started, so if this worker dies now the engine records what it did, this row
            # becomes unknown and the rows after it go back to pending.
            confirming = ctx.confirmation and not row.confirmed
            began = time.perf_counter()
            text = ctx.render(row, confirming)
            rendered = time.perf_counter()
            result = ctx.provider.send(
                OutMessage(row.number, text, ctx.media_url, ctx.media_type, ctx.media_name)
                if not confirming
                else OutMessage(row.number, text)
            )
            self.completed = time.monotonic()
            answered = time.perf_counter()
            stop = self._record(row, result, text, confirming)
            # Memory-mapped writes, no round trip (docs/METRICS.md has their cost).
            metrics.step("render", rendered - began)
            status = self.outcomes[-1].status
            metrics.message(ctx.provider_name, status, result.error_code, answered - rendered)
            if stop is not None:
                throttled = stop in (Stop.THROTTLE, Stop.SPAM)
                return stop, (result.retry_after_s if throttled else None)
            # The outcome goes to the progress now: a worker killed before the next gate call
            # would leave this answered row ``unknown``. When a sleep comes first, with a
            # look at the run flag; else written without waiting for Redis's reply.
            if self.paced or self._sleeps_before(i + 1):
                if not self._progress(i + 1):
                    return Stop.STOPPED, None
            else:
                self._push_outcomes()
        return None, None

    def _sleeps_before(self, index: int) -> bool:
        """Whether row ``index`` waits for its slot (unpaced batches have none due later)."""
        slots = self.claim.slots
        return index < len(slots) and index < len(self.claim.rows) and slots[index][0] > time.time()
