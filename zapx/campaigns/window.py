"""An unpaced batch with up to :data:`MAX_IN_FLIGHT` requests on the wire at once (the worker's
concurrent loop), in one thread through a libcurl multi handle (``zapx.providers.Concurrent``).

The loop keeps up to 8 requests in flight. When in flight drops to half (or nothing is in
flight) and rows remain, one gate call (:meth:`zapx.schedule.SendGate.acquire_many`) asks for as
many of the next rows as there is room for: it writes the outcomes completed since the previous
call, checks the run flag, grants the longest prefix the schedule allows now and records the
rows started, so a batch costs about one Redis round trip per four messages. Each granted row's
request starts at once. The outcomes of a set of answers that no gate call follows at once are
written right away without waiting for the reply (``flags.push_outcomes``): a worker killed at
any time leaves ``unknown`` only the rows granted and not answered, at most 8 (the engine
finishes its batch from the progress: rows started without an outcome).

What stops sending stops *new* requests only: a pause or a cancel (the gate's Stopped), a
throttle, a lost authorization or the spam limit (an answer), a long wait or the deadline. The
requests already in flight are waited for and recorded, so a pause lets at most 8 more messages
of a batch reach the provider, each of them recorded as answered. A batch of the bulk lane
(``yields``) also starts no request while a burst of first batches is pending
(``zapx.campaigns.priority``): it holds, reading its run flag with the burst's counter, so a
pause stops it there as at a gate call. Rows never granted go back as
in the serial loop (:mod:`zapx.campaigns.sending`), which paced batches keep (one request at a
time, the connection's send token), as do providers without ``request``/``result``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

import redis as redis_lib

from zapx import metrics, rate_limits
from zapx.campaigns import flags, priority
from zapx.campaigns.batches import LOST_MID_SEND
from zapx.campaigns.sending import FLAG_POLL_S, LONG_WAIT_S, NOTE_WAIT_S, BatchSender
from zapx.engine.messages import Outcome, Stop
from zapx.providers import OutMessage, concurrent
from zapx.schedule import GrantMany, Stopped, Wait, backoff_s
from zapx.status import RowStatus

#: Requests of one batch on the wire at once, at most (docs/ENGINE.md, "Concurrent sends").
MAX_IN_FLIGHT = 8
#: The gate is asked for more rows once in flight drops to this (or below).
REFILL_AT = MAX_IN_FLIGHT // 2
#: Seconds one wait for answers lasts at most when nothing else is due (the loop looks again).
IDLE_WAIT_S = 1.0
#: Stops that an answer calls for: they win over a pause, a wait or the deadline in the report.
PROVIDER_STOPS = (Stop.SPAM, Stop.AUTH, Stop.THROTTLE)


def concurrent_capable(provider) -> bool:
    """Whether ``provider`` splits a send into ``request`` and ``result`` around the transport
    (the real providers do; a test's fake with only ``send`` keeps the serial loop)."""
    return all(callable(getattr(provider, name, None)) for name in ("request", "result")) and (
        getattr(provider, "outbound", None) is not None
    )


@dataclasses.dataclass
class Flight:
    """A row on the wire: what was sent, since when (``time.perf_counter``)."""

    text: str
    confirming: bool
    started: float


class WindowSender(BatchSender):
    """A :class:`~zapx.campaigns.sending.BatchSender` whose unpaced batches send concurrently."""

    #: Rows granted (started): a prefix of the batch.
    granted = 0
    #: The progress's outcomes list has its TTL (later pushes need no EXPIRE).
    _ttl_set = False
    #: Whether the batch holds while a burst of first batches is pending (the bulk lane's
    #: batches do; first batches, which that burst is, never).
    yields = False
    _held = False  # at the last read of the counter
    _lane_read_at = float("-inf")  # monotonic

    def _rows(self) -> tuple[Stop | None, float | None]:
        if self.paced or not concurrent_capable(self.ctx.provider):
            return super()._rows()
        multi = concurrent(self.ctx.provider.outbound, MAX_IN_FLIGHT)
        flying: dict[int, Flight] = {}
        try:
            return self._window(multi, flying)
        except redis_lib.RedisError:
            # The requests on the wire left: their answers are kept for run() to record in
            # PostgreSQL (the rows never granted go back to pending, _redis_lost).
            self._land(multi, flying, keep=True)
            raise
        finally:
            self._land(multi, flying, keep=False)

    def _window(self, multi, flying: dict[int, Flight]) -> tuple[Stop | None, float | None]:
        claim = self.claim
        rows, n = claim.rows, len(claim.rows)
        stop: Stop | None = None
        retry_after: float | None = None
        give_back: tuple[int, Wait] | None = None
        hits = 0  # rate-limit waits in a row
        ask_at = 0.0  # monotonic: no gate call before

        def may_ask() -> bool:
            return stop is None and self.granted < n and multi.in_flight <= REFILL_AT

        while True:
            if may_ask() and time.monotonic() >= ask_at:
                if time.monotonic() > self.deadline:
                    stop = Stop.LEASE  # the engine may soon finish the batch from progress
                    continue
                lane = self._lane()
                if lane is Stop.STOPPED:
                    stop = lane
                    continue
                if lane is not None:  # a burst of first batches goes first
                    ask_at = time.monotonic() + lane
                    continue
                index = self.granted
                due = self._due(index, MAX_IN_FLIGHT - multi.in_flight)
                if due == 0:
                    wait = min(claim.slots[index][0] - time.time(), 60.0)
                    metrics.delay("slot", wait)
                    ask_at = time.monotonic() + wait
                    continue
                answer = self._acquire_many(index, due)
                if isinstance(answer, GrantMany):
                    hits = 0
                    # Counted as started by the call: if this worker dies now, these rows
                    # become unknown and the rows after them go back to pending.
                    self.granted += answer.count
                    for i in range(index, index + answer.count):
                        flying[i] = self._start(multi, i, rows[i])
                    continue
                if isinstance(answer, Stopped):
                    stop = Stop.STOPPED
                    continue
                sleep = answer.wait_s
                if answer.reason.startswith("rate limit"):
                    sleep = backoff_s(hits, answer.wait_s)
                    hits += 1
                metrics.delay(answer.reason, sleep)
                long = answer.reason == "daily limit" or sleep > LONG_WAIT_S
                if long or time.monotonic() + sleep > self.deadline:
                    stop, retry_after = Stop.WAIT, sleep
                    give_back = (index, dataclasses.replace(answer, wait_s=sleep))
                    continue
                if sleep >= NOTE_WAIT_S:
                    flags.note_waiting(
                        self.redis, self.keys, claim.campaign_id, answer.reason, sleep
                    )
                # The next call reads the run flag again: a pause stops a long wait within this.
                ask_at = time.monotonic() + min(sleep, FLAG_POLL_S)
                continue
            if multi.in_flight == 0:
                if not may_ask():
                    break
                time.sleep(max(0.0, ask_at - time.monotonic()))
                continue
            # Answers, until the gate may be asked again (or for a while when it may not).
            timeout = max(0.0, ask_at - time.monotonic()) if may_ask() else IDLE_WAIT_S
            done = multi.wait(timeout)
            for index, answer in done:
                called, result = self._answered(rows[index], flying.pop(index), answer)
                if called is not None and stop not in PROVIDER_STOPS:
                    throttled = called in (Stop.THROTTLE, Stop.SPAM)
                    stop, retry_after = called, (result.retry_after_s if throttled else None)
            if done and not (may_ask() and time.monotonic() >= ask_at):
                self._push()  # no gate call carries them at once: written now, reply later
        if give_back is not None:
            self._give_back(*give_back)
        return stop, retry_after

    def _lane(self) -> Stop | float | None:
        """For a batch that ``yields`` (the bulk lane, ``zapx.campaigns.priority``): None when
        the gate may be asked now, else the seconds to hold while first batches are pending, or
        ``Stop.STOPPED`` when the campaign no longer runs (read with the counter). The counter
        is read every ``priority.CHECK_S`` while the lane runs, every ``POLL_S`` while held."""
        if not self.yields:
            return None
        now = time.monotonic()
        if not self._held and now < self._lane_read_at + priority.CHECK_S:
            return None
        self._lane_read_at = now
        progress = self.progress
        hold, running = priority.yielding(
            self.redis, self.keys, progress.flag_key, progress.generation
        )
        if not running:
            return Stop.STOPPED
        self._held = hold
        if not hold:
            return None
        metrics.delay("first batches", priority.POLL_S)
        return priority.POLL_S

    def _due(self, index: int, room: int) -> int:
        """How many rows from ``index`` on (at most ``room``) are due now by their slots."""
        claim, now = self.claim, time.time()
        count = 0
        for i in range(index, min(len(claim.rows), index + room)):
            if i < len(claim.slots) and claim.slots[i][0] > now:
                break
            count += 1
        return count

    def _acquire_many(self, index: int, count: int):
        """One gate call for rows ``index .. index + count - 1``; it also writes the outcomes
        not yet in the progress, whatever it answers."""
        claim = self.claim
        pending = self.outcomes[self.reported :]
        answer = self.gate.acquire_many(
            claim.whatsapp_id,
            claim.company_id,
            claim.campaign_id,
            [row.number for row in claim.rows[index : index + count]],
            self.ctx.pacing,
            rate_limits.limits_for(claim.company_id),
            self.progress,
            index,
            [flags.encode(o) for o in pending],
        )
        self.reported += len(pending)
        self._ttl_set = self._ttl_set or bool(pending)
        return answer

    def _start(self, multi, index: int, row, tag: object = None) -> Flight:
        """Render ``row`` and start its request at once (it was granted: counted as started);
        its answer comes back from ``multi`` with ``tag`` (default: ``index``)."""
        ctx = self.ctx
        confirming = ctx.confirmation and not row.confirmed
        began = time.perf_counter()
        text = ctx.render(row, confirming)
        message = (
            OutMessage(row.number, text, ctx.media_url, ctx.media_type, ctx.media_name)
            if not confirming
            else OutMessage(row.number, text)
        )
        request = ctx.provider.request(message)
        rendered = time.perf_counter()
        metrics.step("render", rendered - began)
        multi.add(index if tag is None else tag, request)
        return Flight(text, confirming, rendered)

    def _answered(self, row, flight: Flight, answer) -> tuple[Stop | None, object]:
        """Record ``row``'s answer as the serial loop does: (the stop it calls for, its
        result)."""
        result = self.ctx.provider.result(answer)
        self.completed = time.monotonic()
        answered = time.perf_counter()
        stop = self._record(row, result, flight.text, flight.confirming)
        status = self.outcomes[-1].status
        metrics.message(
            self.ctx.provider_name, status, result.error_code, answered - flight.started
        )
        return stop, result

    def _push(self) -> None:
        """The outcomes not yet in the progress, written without waiting for the reply; the
        list's TTL is set by its first write only (a later RPUSH keeps it)."""
        pending = self.outcomes[self.reported :]
        if not pending:
            return
        claim = self.claim
        flags.push_outcomes(
            self.redis,
            self.keys,
            claim.company_id,
            claim.batch_id,
            pending,
            self.progress_ttl_s,
            expire=not self._ttl_set,
        )
        self.reported = len(self.outcomes)
        self._ttl_set = True

    def _land(self, multi, flying: dict[int, Flight], *, keep: bool) -> None:
        """Wait for every request still in flight (libcurl's timeouts end each). With ``keep``
        their answers are recorded (a Redis failure of a throttle's signal aside: the outcome
        is kept first), else dropped."""
        while multi.in_flight:
            for index, answer in multi.wait(IDLE_WAIT_S):
                flight = flying.pop(index, None)
                if keep and flight is not None:
                    with contextlib.suppress(redis_lib.RedisError):
                        self._answered(self.claim.rows[index], flight, answer)

    def _redis_lost(self, exc: redis_lib.RedisError) -> tuple[Stop, float]:
        """As the serial loop's; a granted row without an answer (none should be left: they are
        waited for) becomes ``unknown``, never given back, since it may have left."""
        done = {o.row_id for o in self.outcomes}
        for row in self.claim.rows[: self.granted]:
            if row.id not in done:
                self.outcomes.append(Outcome(row.id, RowStatus.UNKNOWN, None, LOST_MID_SEND))
                self.counts[RowStatus.UNKNOWN] += 1
        # Now the outcomes cover exactly the granted prefix: the serial version gives the
        # rows after it back.
        return super()._redis_lost(exc)
