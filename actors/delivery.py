"""``deliver_batch(batch_id)``: the Dramatiq actor that sends one planned batch.

Claim (one statement) -> for each row at its slot: render, check the campaign still runs and note
the batch's progress (one Redis script call), send -> record every outcome, release the rows not
reached and mark the batch done in one statement -> report the batch to the engine. The progress
lets the engine finish the batch of a worker that died: done rows as recorded, the row on the
wire ``unknown``, the rest pending again.
"""

from __future__ import annotations

import logging
import random
import time

import dramatiq

from actors.broker import broker  # noqa: F401 - configures the broker before the actors below
from actors.inbox import send_command
from zapx.campaigns import batches, flags
from zapx.campaigns.context import load_context
from zapx.config import load_config
from zapx.db import db
from zapx.engine.messages import BatchReport, Outcome, Stop
from zapx.outbound import Outbound
from zapx.providers import AMBIGUOUS, AUTH, PERMANENT, SENT, THROTTLE, OutMessage
from zapx.providers.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from zapx.redis import Keys, get_redis
from zapx.status import RowStatus

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
#: Gaps (seconds) from which sends are spaced through Redis: paced campaigns and low caps.
#: Unpaced sends at high caps skip it: a late batch there costs speed, not an account.
RESERVE_MIN_GAP_S = 0.01


def _backoff_s(attempts: int) -> float:
    """Exponential with full jitter: about 2, 4, 8 ... seconds, at most 300."""
    return min(300.0, 2.0**attempts) * random.uniform(0.5, 1.5)


def _deliver(batch_id: int) -> None:
    """Send batch ``batch_id``. Safe to run twice: the second run finds the batch claimed."""
    redis = get_redis(_config.redis_url)
    # Before the claim, not after: a batch claimed with no progress mark is finished as if every
    # row had left (all unknown), and a worker can die between any two statements. When Redis
    # cannot take the mark, nothing is claimed and Dramatiq retries the message.
    marked = flags.mark_claiming(redis, _keys, batch_id, _progress_ttl_s)
    with db.connection_context():
        claim = batches.claim_batch(batch_id, _config.batch_lease_s)
        if claim is None:
            if marked:  # already taken and finished: the mark would only linger
                flags.clear_progress(redis, _keys, batch_id)
            return
        report, outcomes = _send(claim)
        batches.finish_batch(batch_id, outcomes)
    flags.clear_progress(redis, _keys, batch_id)
    send_command(report)


_OPTIONS = {"max_retries": 3, "time_limit": 600_000, "throws": ()}
#: Every batch but a campaign's first.
deliver_batch = dramatiq.actor(
    _deliver, actor_name="deliver_batch", queue_name="delivery", priority=10, **_OPTIONS
)
#: A campaign's first batch: its own queue, and taken before ``deliver_batch`` work a worker
#: already holds (a lower number is a higher priority), so a company starting a small campaign
#: sees its first message while another company's big campaign fills the delivery queue.
deliver_first = dramatiq.actor(
    _deliver, actor_name="deliver_first", queue_name="delivery_first", priority=0, **_OPTIONS
)


def _send(claim: batches.Claim) -> tuple[BatchReport, list[Outcome]]:
    redis = get_redis(_config.redis_url)
    ctx = load_context(
        claim.campaign_id, claim.whatsapp_id, claim.generation, _config.public_base, _outbound
    )
    outcomes: list[Outcome] = []
    reported = 0  # outcomes already in the batch's progress
    deadline = time.monotonic() + _send_deadline_s
    counts = {RowStatus.SENT: 0, "retry": 0, RowStatus.FAILED: 0, RowStatus.UNKNOWN: 0}
    stop_reason: Stop | None = None
    retry_after = None
    paced = any(gap >= RESERVE_MIN_GAP_S for _, gap in claim.slots)
    for i, row in enumerate(claim.rows):
        slot, gap = claim.slots[i] if i < len(claim.slots) else (0.0, 0.0)
        if paced:
            # Paced: keep the promised spacing even when this batch starts late or another
            # worker sends on the same connection (one Redis script call per message).
            slot = flags.reserve(redis, _keys, claim.whatsapp_id, slot, gap, time.time())
        wait = slot - time.time()
        if wait > 0:
            time.sleep(min(wait, 60.0))
        if time.monotonic() > deadline:
            stop_reason = Stop.LEASE  # the engine may soon finish this batch from its progress
            break
        confirming = ctx.confirmation and not row.confirmed
        text = ctx.render(row, confirming)
        # One call before the request leaves: is the campaign still running in this batch's
        # generation (a pause or cancel stops the batch at the next message), and the batch's
        # progress, so that if this worker dies the engine records what it did, this row
        # becomes unknown and the rows after it go back to pending.
        if not flags.before_send(
            redis,
            _keys,
            claim.campaign_id,
            claim.generation,
            claim.batch_id,
            i + 1,
            outcomes[reported:],
            _progress_ttl_s,
        ):
            stop_reason = Stop.STOPPED
            break
        reported = len(outcomes)
        result = ctx.provider.send(
            OutMessage(row.number, text, ctx.media_url, ctx.media_type, ctx.media_name)
            if not confirming
            else OutMessage(row.number, text)
        )
        if paced:
            flags.sent(redis, _keys, claim.whatsapp_id, time.time())
        if result.outcome == SENT:
            status = RowStatus.AWAITING if confirming else RowStatus.SENT
            outcomes.append(Outcome(row.id, status, result.message_id, None, text))
            counts[RowStatus.SENT] += 1
        elif result.outcome == PERMANENT:
            outcomes.append(Outcome(row.id, RowStatus.FAILED, None, result.error, text))
            counts[RowStatus.FAILED] += 1
        elif result.outcome == AMBIGUOUS:
            outcomes.append(Outcome(row.id, RowStatus.UNKNOWN, None, result.error, text))
            counts[RowStatus.UNKNOWN] += 1
        elif result.outcome == THROTTLE:
            delay = result.retry_after_s or _backoff_s(1)
            outcomes.append(Outcome(row.id, "throttled", None, result.error, None, delay))
            counts["retry"] += 1
            stop_reason, retry_after = Stop.THROTTLE, result.retry_after_s
            break  # sending more now only collects more 429s
        elif row.attempts >= batches.MAX_ATTEMPTS:
            outcomes.append(
                Outcome(row.id, RowStatus.FAILED, None, f"gave up: {result.error}", text)
            )
            counts[RowStatus.FAILED] += 1
        else:
            delay = _backoff_s(row.attempts)
            outcomes.append(Outcome(row.id, RowStatus.PENDING, None, result.error, None, delay))
            counts["retry"] += 1
            if result.outcome == AUTH:
                stop_reason = Stop.AUTH  # the connection is gone: the engine pauses its campaigns
                break
    log.info(
        "batch delivered",
        extra={
            "company_id": claim.company_id,
            "campaign_id": claim.campaign_id,
            "batch_id": claim.batch_id,
            "size": len(claim.rows),
            **counts,
            "stop": stop_reason,
        },
    )
    report = BatchReport(
        company_id=claim.company_id,
        campaign_id=claim.campaign_id,
        whatsapp_id=claim.whatsapp_id,
        batch_id=claim.batch_id,
        generation=claim.generation,
        stop=stop_reason,
        retry_after_s=retry_after,
        error=outcomes[-1].error if outcomes else None,
        **counts,
    )
    return report, outcomes
