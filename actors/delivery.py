"""``deliver_batch(batch_id, company_id)``: the Dramatiq actor that sends one planned batch.

Claim (one statement) -> for each row at its slot: ask the send gate (``zapx.schedule``, one
Redis script call: the campaign still runs, the connection's gap, long pause, provider cap,
pair, daily cap and the company's rate limits, and the batch's progress noted), render, send,
note the outcome (written by the next call, or at once when a sleep comes first) -> record every
outcome, release the rows not reached and mark the batch done in one statement -> give the
gate's send token back -> report the batch to the engine. The progress lets the engine finish
the batch of a worker that died: done rows as recorded, the row on the wire ``unknown``, the
rest pending again.

While PostgreSQL or Redis is down (``zapx.dependencies``: this process's breaker for it is open,
or the call failed for want of it), nothing is claimed: the message is retried later
(:class:`DependencyRetry`, after the breaker's time to its next probe, with jitter), for as long
as the outage lasts, and Dramatiq logs no error for it (the breaker logs its opening, once).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable

import dramatiq

from actors.broker import broker  # noqa: F401 - configures the broker before the actors below
from actors.inbox import send_command, send_commands
from zapx import alerts, dependencies, metrics
from zapx.campaigns import batches, finish, firsts, flags, priority
from zapx.campaigns.chunk import ChunkSender, chunkable
from zapx.campaigns.context import CampaignContext, load_context, load_contexts
from zapx.campaigns.window import WindowSender
from zapx.circuits import Circuits, Thresholds
from zapx.config import load_config
from zapx.db import Tenant, db
from zapx.engine import commands
from zapx.engine.messages import BatchReport, Outcome
from zapx.engine.runflags import RunFlags
from zapx.errors import ZapxError
from zapx.outbound import Outbound
from zapx.providers.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from zapx.redis import Keys, get_redis
from zapx.schedule import SendGate

log = logging.getLogger("zapx.delivery")
_config = load_config()
_keys = Keys(_config.redis_prefix)
_outbound = Outbound.from_config(_config)
#: Seconds a batch's progress outlives its lease: the engine's sweep reads it after expiry.
_progress_ttl_s = int(_config.batch_lease_s) * 2 + 600
#: A batch starts no send later than this many seconds after its claim: the last send's
#: timeouts (connect + read) and a margin still end before the lease does, so the engine never
#: finishes a batch whose worker is alive and sending.
_send_deadline_s = _config.batch_lease_s - min(
    _config.batch_lease_s / 2, CONNECT_TIMEOUT_S + READ_TIMEOUT_S + 5
)
#: The send schedule of every connection (one per process; thread-safe). Its token lease is
#: longer than a request's timeouts, as it must be.
_gate = SendGate(get_redis(_config.redis_url), _keys)
#: The shared breakers every batch reports to once, when it ends.
_circuits = Circuits(get_redis(_config.redis_url), _keys, Thresholds.from_config(_config))


#: Retries of a batch whose failure is not a dependency's.
MAX_RETRIES = 3
#: Longest delay, ms, of a batch retried because a dependency is down.
MAX_UNAVAILABLE_DELAY_MS = 60_000


class DependencyRetry(dramatiq.Retry):
    """A batch not claimed because PostgreSQL or Redis is down: retried later, always."""


def _later(exc: BaseException | None) -> DependencyRetry:
    """The retry of a batch refused for ``exc``: after the breaker's time to its next probe
    (its first open time when it is not open yet), plus up to half again of jitter, so the
    batches held by an outage do not all come back in the same instant."""
    delay_ms = dependencies.retry_after_s(exc) * 1000 * (1 + random.random() / 2)
    reason = f"dependency unavailable: {exc}" if exc is not None else "dependency unavailable"
    return DependencyRetry(reason[:300], delay=int(min(delay_ms, MAX_UNAVAILABLE_DELAY_MS)))


def _retry_when(retries: int, exc: BaseException) -> bool:
    """Dramatiq's question: retry a batch held by a dependency for as long as it is down; any
    other failure MAX_RETRIES times (counting the dependency's retries)."""
    return isinstance(exc, DependencyRetry) or retries < MAX_RETRIES


def _deliver(batch_id: int, company_id: int | None = None, queue: str = "delivery") -> None:
    """Send batch ``batch_id`` of company ``company_id``. Safe to run twice: the second run
    finds the batch claimed. (A message without the company, queued by an older engine, reads
    it from the batch.) Raises :class:`DependencyRetry` while PostgreSQL or Redis is down.
    ``queue``: the message's, for the batch's duration metric."""
    blocked = dependencies.blocking()
    if blocked is not None:  # claim nothing: the next probe is the breaker's, not every batch's
        raise _later(blocked.refuse(blocked.name, blocked.retry_after_s()))
    try:
        _claim_and_send(batch_id, company_id, queue)
    except Exception as exc:
        if not dependencies.unavailable(exc):
            raise
        raise _later(exc) from exc


def _claim_and_send(batch_id: int, company_id: int | None, queue: str) -> None:
    redis = get_redis(_config.redis_url)
    if company_id is None:
        with db.connection_context():
            company_id = batches.company_of(batch_id)
        if company_id is None:
            return
    # Before the claim, not after: a batch claimed with no progress mark is finished as if every
    # row had left (all unknown), and a worker can die between any two statements. When Redis
    # cannot take the mark, nothing is claimed and Dramatiq retries the message.
    marked = flags.mark_claiming(redis, _keys, company_id, batch_id, _progress_ttl_s)
    with db.connection_context():
        began = time.perf_counter()
        with metrics.timed_step("claim"):
            claim = batches.claim_batch(batch_id, _config.batch_lease_s)
        if claim is None:
            if marked:  # already taken and finished: the mark would only linger
                flags.clear_progress(redis, _keys, company_id, batch_id)
            return
        lease_end = time.monotonic() + _config.batch_lease_s
        # The bulk lane holds while a burst of first batches is pending (priority); a first
        # batch is that burst's or a lone start's.
        report, outcomes = _send(claim, yields=queue != "delivery_first")
    with metrics.timed_step("record"):
        _finish(batch_id, outcomes, lease_end)
    metrics.batch(queue, time.perf_counter() - began)
    flags.batch_recorded(redis, _keys, company_id, batch_id)
    send_command(report)


def _finish(batch_id: int, outcomes: list[Outcome], lease_end: float) -> None:
    """Record the batch's outcomes; while PostgreSQL is down, again after the database
    breaker's time to its probe, until the lease ends (monotonic ``lease_end``).

    Why wait here: this thread holds the outcomes, and a message retried later would find the
    batch claimed and do nothing, so the batch waited for its lease (``BATCH_LEASE_S``, 120 s
    by default) to be finished by the engine from its progress in Redis, however short the
    outage (PostgreSQL stopped 2 s: the last rows recorded 14 s later with a 12 s lease,
    ``tests/actors/test_faults.py``). Past the lease the engine does that anyway, from the same
    outcomes: both finishes touch only the rows still ``sending``.
    """
    _until_recorded(functools.partial(batches.finish_batch, batch_id, outcomes), lease_end)


def _until_recorded(write: Callable[[], object], lease_end: float) -> None:
    """Run ``write`` in a connection scope; while PostgreSQL is down, again after the database
    breaker's time to its probe, until the lease ends (``_finish`` says why)."""
    while True:
        try:
            with db.connection_context():
                write()
            return
        except Exception as exc:
            wait_s = float(dependencies.retry_after_s(exc))
            if not dependencies.unavailable(exc) or time.monotonic() + wait_s > lease_end:
                raise
            time.sleep(wait_s)


_OPTIONS = {
    "max_retries": MAX_RETRIES,
    "retry_when": _retry_when,  # takes precedence over max_retries
    "time_limit": 600_000,
    "throws": (),
}


def _deliver_batch(batch_id: int, company_id: int | None = None) -> None:
    _deliver(batch_id, company_id, "delivery")


def _deliver_first(batch_id: int, company_id: int | None = None) -> None:
    _deliver(batch_id, company_id, "delivery_first")


#: Every batch but a campaign's first.
deliver_batch = dramatiq.actor(
    _deliver_batch, actor_name="deliver_batch", queue_name="delivery", priority=10, **_OPTIONS
)
#: A campaign's first batch: its own queue, and taken before ``deliver_batch`` work a worker
#: already holds (a lower number is a higher priority), so a company starting a small campaign
#: sees its first message while another company's big campaign fills the delivery queue.
deliver_first = dramatiq.actor(
    _deliver_first,
    actor_name="deliver_first",
    queue_name="delivery_first",
    priority=0,
    **_OPTIONS,
)


#: First batches a ``deliver_firsts`` message carries at most (the engine's chunks).
FIRSTS_CHUNK = 250


def _deliver_firsts(batch_ids: list[int], company_ids: list[int], counted: bool = False) -> None:
    """Send the first batches ``batch_ids`` (of companies ``company_ids``, pairwise) in one
    message: their progress marks in one pipeline (before the claim, every one of them), one
    claim statement, their contexts in three queries, each batch's rows through the send gate
    as ``deliver_first`` sends them, one finish statement, one pipeline to drop the progress,
    and the reports in one round trip. Safe to run twice: a second run claims nothing.

    A batch whose send raised is left to its lease (its progress is in Redis, as a dead
    worker's); the others are recorded and reported, then the error is raised again.

    ``counted``: the engine counted these batches as a burst that holds the bulk lane
    (``zapx.campaigns.priority``); they are taken off the count when this run ends, whatever
    its end (a retry's run takes them off again: the lane only runs sooner)."""
    if len(batch_ids) != len(company_ids):
        raise ValueError("batch_ids and company_ids differ in length")
    try:
        blocked = dependencies.blocking()
        if blocked is not None:
            raise _later(blocked.refuse(blocked.name, blocked.retry_after_s()))
        try:
            _claim_and_send_firsts(list(zip(batch_ids, company_ids, strict=True)))
        except Exception as exc:
            if not dependencies.unavailable(exc):
                raise
            raise _later(exc) from exc
    finally:
        if counted:
            _firsts_done(len(batch_ids))


def _firsts_done(batches_done: int) -> None:
    try:
        priority.firsts_done(get_redis(_config.redis_url), _keys, batches_done)
    except Exception as exc:  # the count expires by itself (priority.HOLD_MAX_S)
        log.warning("first batches not taken off the burst's count", extra={"error": repr(exc)})


def _claim_and_send_firsts(pairs: list[tuple[int, int]]) -> None:
    redis = get_redis(_config.redis_url)
    # Every mark before the claim, as for one batch (_claim_and_send): a worker killed after the
    # claim leaves each batch's rows it did not start pending, not unknown.
    marked = flags.mark_claiming_many(redis, _keys, pairs, _progress_ttl_s)
    failed: Exception | None = None
    done: list[tuple[batches.Claim, BatchReport, list[Outcome], float]] = []
    with db.connection_context():
        began = time.perf_counter()
        with metrics.timed_step("claim"):
            claims = firsts.claim_batches([b for b, _ in pairs], _config.batch_lease_s)
        claimed = {c.batch_id for c in claims}
        stale = [(b, c) for b, c in pairs if b not in claimed and b in marked]
        if stale:  # already taken and finished: the marks would only linger
            flags.clear_progress_many(redis, _keys, stale)
        if not claims:
            return
        lease_end = time.monotonic() + _config.batch_lease_s
        contexts = load_contexts(
            [(c.campaign_id, c.whatsapp_id, c.generation) for c in claims],
            _config.public_base,
            _outbound,
        )
        senders = [
            _sender(c, contexts[(c.campaign_id, c.whatsapp_id, c.generation)]) for c in claims
        ]
        together = [s for s in senders if chunkable(s)]
        alone = [s for s in senders if not chunkable(s)]
        if together:
            started = time.perf_counter()
            sent, left = ChunkSender(together, _gate, _outbound, _circuits).run()
            took = (time.perf_counter() - started) / max(1, len(sent))
            done += [(s.claim, report, outcomes, took) for s, report, outcomes in sent]
            alone += left
        for sender in alone:  # paced, or not granted at once: one after another
            started = time.perf_counter()
            try:
                report, outcomes = sender.run()
            except Exception as exc:  # left to its lease, as a dead worker's batch
                log.exception("first batch failed", extra={"batch_id": sender.claim.batch_id})
                failed = failed or exc
                continue
            done.append((sender.claim, report, outcomes, time.perf_counter() - started))
    if done:
        with metrics.timed_step("record"):
            _finish_many([(c.batch_id, o) for c, _, o, _ in done], lease_end)
        took = time.perf_counter() - began
        for _, _, _, sending in done:  # each batch: the chunk's claim and record, its own send
            metrics.batch("delivery_first", took - sum(d[3] for d in done) + sending)
        flags.batches_recorded(redis, _keys, [(c.batch_id, c.company_id) for c, *_ in done])
        send_commands([report for _, report, _, _ in done])
    if failed is not None:
        raise failed


def _finish_many(done: list[tuple[int, list[Outcome]]], lease_end: float) -> None:
    """:func:`_finish` for a chunk of batches: one statement, retried as it is."""
    _until_recorded(functools.partial(finish.finish_batches, done), lease_end)


#: Many campaigns' first batches in one message (a mass start's): on the first batches' queue,
#: with their priority; the engine sends them in chunks of :data:`FIRSTS_CHUNK`.
deliver_firsts = dramatiq.actor(
    _deliver_firsts,
    actor_name="deliver_firsts",
    queue_name="delivery_first",
    priority=0,
    **_OPTIONS,
)


def _send(
    claim: batches.Claim, ctx: CampaignContext | None = None, *, yields: bool = False
) -> tuple[BatchReport, list[Outcome]]:
    if ctx is None:
        ctx = load_context(
            claim.campaign_id, claim.whatsapp_id, claim.generation, _config.public_base, _outbound
        )
    sender = _sender(claim, ctx)
    sender.yields = yields
    return sender.run()


def _sender(claim: batches.Claim, ctx: CampaignContext) -> WindowSender:
    return WindowSender(
        claim,
        ctx,
        redis=get_redis(_config.redis_url),
        keys=_keys,
        gate=_gate,
        deadline=time.monotonic() + _send_deadline_s,
        progress_ttl_s=_progress_ttl_s,
        circuits=_circuits,
        on_spam=functools.partial(_pause_for_spam, claim.company_id, claim.campaign_id),
    )


def _pause_for_spam(company_id: int, campaign_id: int, error: str) -> None:
    """Cloud API 131048: pause the campaign at once, as a user's pause does (the row, then the
    run flag: its other batches stop within their message on the wire), and tell the engine.
    The batch's report (``Stop.SPAM``) follows: the engine opens the spam_rate_limit alert, and
    pauses the campaign itself if this could not (PostgreSQL down, a race with another pause)."""
    extra = {"company_id": company_id, "campaign_id": campaign_id}
    try:
        with db.connection_context():
            _, changed = commands.command(
                Tenant(company_id),
                RunFlags(get_redis(_config.redis_url), _keys),
                campaign_id,
                "pause",
                reason=alerts.spam_reason(error),
            )
    except ZapxError as exc:  # already paused (another batch's 131048), cancelled, deleted
        log.info("spam pause not applied", extra={**extra, "error": str(exc)})
        return
    except Exception as exc:  # the engine pauses it on the batch's report instead
        log.warning("spam pause failed", extra={**extra, "error": repr(exc)[:300]})
        return
    log.warning("campaign paused: spam rate limit", extra=extra)
    send_command(changed)
