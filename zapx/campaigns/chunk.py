"""A chunk of unpaced first batches sent together: their gate calls in one pipeline, their
requests overlapped on one libcurl multi handle (``zapx.providers.Concurrent``), in one thread.

A mass start's first batches are one row each (``FIRST_BATCH_SIZE``), of as many companies; sent
one after another, each cost a Redis round trip for its gate call and an HTTP round trip of its
own, one at a time (docs/BENCHMARKS.md, "Many tenants"). Here each batch still has its own gate
call (:meth:`zapx.schedule.SendGate.acquire_many`: its run flag, every rule of its connection,
its progress), but the calls of a wave of batches go in one pipeline
(:meth:`~zapx.schedule.SendGate.acquire_many_each`), and every granted row's request starts at
once, at most :data:`CHUNK_IN_FLIGHT` on the wire. When that drops to half, the next wave is
asked for.

Each batch is a :class:`~zapx.campaigns.window.WindowSender` whose state (outcomes, counts, the
breakers' health, its progress) this drives, and each ends as that sender ends
(:meth:`~zapx.campaigns.sending.BatchSender.conclude`). The guarantees are the window's, batch
by batch: a row is on the wire only after its batch's grant recorded it as started; each
answer is recorded and pushed to its batch's progress as the window does (written without
waiting for the reply), so a worker killed at any time leaves ``unknown`` only rows granted and
not answered, and the rows never granted go back to pending. A batch the gate does not grant at
once (a wait, a stop) or whose rows do not fit one wave is not sent here: :meth:`ChunkSender.run`
returns it for the serial path (``WindowSender.run``, which asks again: a Wait consumed nothing).
"""

from __future__ import annotations

import contextlib
import logging

import redis as redis_lib

from zapx import rate_limits
from zapx.campaigns.window import (
    IDLE_WAIT_S,
    MAX_IN_FLIGHT,
    PROVIDER_STOPS,
    Flight,
    WindowSender,
    concurrent_capable,
)
from zapx.circuits import Circuits
from zapx.engine.messages import BatchReport, Outcome, Stop
from zapx.providers import concurrent
from zapx.schedule import GrantMany, SendGate

log = logging.getLogger("zapx.delivery")

#: Requests of a chunk on the wire at once, at most (each batch's own are at most MAX_IN_FLIGHT).
CHUNK_IN_FLIGHT = 16
#: The next wave of gate calls is asked for once in flight drops to this (or below).
CHUNK_REFILL_AT = CHUNK_IN_FLIGHT // 2

Done = tuple[WindowSender, BatchReport, list[Outcome]]


def chunkable(sender: WindowSender) -> bool:
    """Whether ``sender``'s batch can go in a chunk: unpaced, a provider with
    ``request``/``result``, at least one row and no more than one batch's window."""
    return (
        not sender.paced
        and concurrent_capable(sender.ctx.provider)
        and 0 < len(sender.claim.rows) <= MAX_IN_FLIGHT
    )


class ChunkSender:
    """Sends the batches of ``senders`` (all :func:`chunkable`, sharing ``outbound``: the
    process's) together. ``gate``: the process's send gate."""

    def __init__(
        self, senders: list[WindowSender], gate: SendGate, outbound, circuits: Circuits | None
    ):
        self.senders, self.gate, self.outbound, self.circuits = senders, gate, outbound, circuits
        self.limits: dict[int, tuple] = {}
        self.stops: dict[int, tuple[Stop | None, float | None]] = {}
        self.queue: list[int] = []  # indexes of the senders not asked for yet

    def run(self) -> tuple[list[Done], list[WindowSender]]:
        """Send what the gate grants at once: (the batches done, each with its report and
        outcomes; the senders left for the serial path, none of their rows sent here)."""
        # Every company's limits at once: at a mass start none is cached in this process.
        self.limits = rate_limits.limits_for_many(s.claim.company_id for s in self.senders)
        multi = concurrent(self.outbound, CHUNK_IN_FLIGHT)
        flying: dict[tuple[int, int], Flight] = {}
        sent: list[int] = []  # indexes of the senders granted here
        rest: list[WindowSender] = []
        try:
            self._waves(multi, flying, sent, rest)
        except redis_lib.RedisError as exc:
            # The requests on the wire left: their answers are kept, and each granted batch
            # ends as the window does when Redis fails (its rows not answered unknown, those
            # never granted pending again).
            self._land(multi, flying, keep=True)
            rest += [self.senders[k] for k in self.queue]  # never asked: nothing of them sent
            return [self._conclude(k, lost=exc) for k in sent], rest
        finally:
            self._land(multi, flying, keep=False)
        breakers = self._report_health(sent)
        return [self._conclude(k, breaker=breakers.get(k)) for k in sent], rest

    def _waves(self, multi, flying, sent: list[int], rest: list[WindowSender]) -> None:
        queue = self.queue = list(range(len(self.senders)))
        while queue or multi.in_flight:
            if queue and multi.in_flight <= CHUNK_REFILL_AT:
                room, wave = CHUNK_IN_FLIGHT - multi.in_flight, []
                while queue and len(self.senders[queue[0]].claim.rows) <= room:
                    room -= len(self.senders[queue[0]].claim.rows)
                    wave.append(queue.pop(0))
                if wave:
                    self._ask(multi, flying, wave, sent, rest)
                    continue
            done = multi.wait(IDLE_WAIT_S)
            touched = set()
            for (k, i), answer in done:
                sender = self.senders[k]
                called, result = sender._answered(sender.claim.rows[i], flying.pop((k, i)), answer)
                touched.add(k)
                stop = self.stops.get(k, (None, None))[0]
                if called is not None and stop not in PROVIDER_STOPS:
                    throttled = called in (Stop.THROTTLE, Stop.SPAM)
                    self.stops[k] = (called, result.retry_after_s if throttled else None)
            for k in sorted(touched):  # written now, the replies read later
                self.senders[k]._push()

    def _ask(self, multi, flying, wave: list[int], sent: list[int], rest: list[WindowSender]):
        """One pipeline of gate calls for the batches ``wave``; the granted rows start now."""
        calls = []
        for k in wave:
            s = self.senders[k]
            claim = s.claim
            calls.append(
                (
                    claim.whatsapp_id,
                    claim.company_id,
                    claim.campaign_id,
                    [row.number for row in claim.rows],
                    s.ctx.pacing,
                    self.limits[claim.company_id],
                    s.progress,
                    0,
                )
            )
        try:
            answers = self.gate.acquire_many_each(calls)
        except redis_lib.RedisError:
            # Some calls may have run (their rows noted as started): none of them is sent, and
            # the serial path records each batch, its rows pending again.
            rest += [self.senders[k] for k in wave]
            raise
        for k, answer in zip(wave, answers, strict=True):
            s = self.senders[k]
            if not isinstance(answer, GrantMany):
                rest.append(s)  # a wait or a stop: the serial path asks again and handles it
                continue
            # Counted as started by the call: if this worker dies now, these rows become
            # unknown and the rows after them (not granted) go back to pending.
            s.granted = answer.count
            s.counts["retry"] += len(s.claim.rows) - answer.count
            sent.append(k)
            for i in range(answer.count):
                flying[(k, i)] = s._start(multi, i, s.claim.rows[i], tag=(k, i))

    def _conclude(
        self, k: int, lost: redis_lib.RedisError | None = None, breaker: str | None = None
    ) -> Done:
        sender = self.senders[k]
        stop, retry_after = self.stops.get(k, (None, None))
        if lost is not None:
            return sender, *sender.conclude(None, None, lost=lost)
        return sender, *sender.conclude(stop, retry_after, breaker=breaker)

    def _report_health(self, sent: list[int]) -> dict[int, str | None]:
        """Every granted batch's counts to the breakers in one pipeline (one script call
        each, as a batch alone reports them): each campaign breaker's reason to pause, if it
        tripped. A Redis failure costs the breakers these batches' counts, never the batches."""
        if self.circuits is None or not sent:
            return {}
        calls = []
        for k in sent:
            c, health = self.senders[k].claim, self.senders[k].health
            calls.append(
                (c.company_id, c.whatsapp_id, c.campaign_id, c.generation, c.batch_id, health)
            )
        try:
            trips = self.circuits.report_many(calls)
        except redis_lib.RedisError as exc:
            log.warning("breaker reports lost", extra={"batches": len(sent), "error": str(exc)})
            return {}
        return {k: trip or None for k, trip in zip(sent, trips, strict=True)}

    def _land(self, multi, flying: dict[tuple[int, int], Flight], *, keep: bool) -> None:
        """Wait for every request still in flight (libcurl's timeouts end each); with ``keep``
        their answers are recorded, else dropped."""
        while multi.in_flight:
            for (k, i), answer in multi.wait(IDLE_WAIT_S):
                flight = flying.pop((k, i), None)
                if keep and flight is not None:
                    sender = self.senders[k]
                    with contextlib.suppress(redis_lib.RedisError):
                        sender._answered(sender.claim.rows[i], flight, answer)
