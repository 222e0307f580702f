"""Recording a batch's outcomes (one statement for one batch or a chunk of them).

Used by the delivery actors when a batch ends, and by the engine when it finishes a batch whose
worker died (``zapx.campaigns.batches``).
"""

from __future__ import annotations

from collections.abc import Sequence

from zapx.db import db
from zapx.engine.messages import Outcome
from zapx.status import BatchStatus, RowStatus, sql


def finish_batch(batch_id: int, outcomes: list[Outcome]) -> int:
    """Record a batch's outcomes, return the rows it did not reach to pending and mark it done:
    one statement (one round trip, one transaction). Returns the number of outcomes written.

    Each outcome but ``throttled`` counts the row's attempt (the claim did not write it);
    ``throttled`` goes back to pending without using one: a provider asking us to slow down
    says nothing about the message. Only this batch's rows still ``queued`` in it change (the
    claim leaves them so), so a late duplicate cannot overwrite a final status (nor rows a lease
    expiry made ``unknown``, nor rows given back and planned again: their batch is another).
    Rows without an outcome were never attempted (the campaign stopped, or the batch broke off
    on a throttle): they go back to pending, their attempts unchanged.
    """
    return finish_batches([(batch_id, outcomes)])


def finish_batches(done: Sequence[tuple[int, Sequence[Outcome]]]) -> int:
    """Record the outcomes of every ``(batch id, outcomes)`` of ``done``, return each batch's
    rows without an outcome to pending and mark the batches done: one statement, one
    transaction. Returns the number of outcomes written.

    Batch by batch as :func:`finish_batch` says (each outcome carries its batch id: only rows
    still ``queued`` in *their own* batch change).
    """
    if not done:
        return 0
    batch_of: list[int] = []
    rows: list[list] = []
    for batch_id, outcomes in done:
        for outcome in outcomes:
            batch_of.append(batch_id)
            rows.append(outcome.as_list())
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    cursor = db.execute_sql(
        f"""
        WITH v AS (
            SELECT * FROM unnest(%(b)s::bigint[], %(id)s::bigint[], %(st)s::text[],
                %(mid)s::text[], %(err)s::text[], %(msg)s::text[], %(delay)s::float8[])
                AS v(batch_id, id, status, mid, err, msg, delay)
        ), rec AS (
            UPDATE campaign_shipping s SET
                status = CASE WHEN v.status = 'throttled' THEN {sql(RowStatus.PENDING)}
                    ELSE v.status END,
                attempts = CASE WHEN v.status = 'throttled' THEN s.attempts
                    ELSE s.attempts + 1 END,
                provider_message_id = COALESCE(v.mid, s.provider_message_id),
                error = v.err,
                message = COALESCE(v.msg, s.message),
                batch_id = CASE WHEN v.status IN ({sql(RowStatus.PENDING)}, 'throttled') THEN NULL
                    ELSE s.batch_id END,
                next_attempt_at = CASE WHEN v.status IN ({sql(RowStatus.PENDING)}, 'throttled')
                    THEN now() + make_interval(secs => v.delay) ELSE NULL END,
                sent_at = CASE WHEN v.status = {sql(RowStatus.SENT)} THEN now()
                    ELSE s.sent_at END,
                failed_at = CASE WHEN v.status = {sql(RowStatus.FAILED)} THEN now()
                    ELSE s.failed_at END,
                confirmation_requested_at = CASE WHEN v.status = {sql(RowStatus.AWAITING)}
                    THEN now()
                    ELSE s.confirmation_requested_at END,
                updated_at = now()
            FROM v
            WHERE s.id = v.id AND s.batch_id = v.batch_id AND s.status = {sql(RowStatus.QUEUED)}
            RETURNING s.id
        ), rel AS (
            UPDATE campaign_shipping SET status = {sql(RowStatus.PENDING)}, batch_id = NULL,
                updated_at = now()
            WHERE batch_id = ANY(%(batches)s) AND status = {sql(RowStatus.QUEUED)}
              AND NOT (id = ANY(%(id)s::bigint[]))
            RETURNING id
        ), fin AS (
            UPDATE campaign_batches SET status = {sql(BatchStatus.DONE)}, done_at = now(),
                updated_at = now()
            WHERE id = ANY(%(batches)s) RETURNING id
        )
        SELECT (SELECT count(*) FROM rec), (SELECT count(*) FROM rel), (SELECT count(*) FROM fin)
        """,
        {
            "batches": [batch_id for batch_id, _ in done],
            "b": batch_of,
            "id": list(cols[0]),
            "st": list(cols[1]),
            "mid": list(cols[2]),
            "err": list(cols[3]),
            "msg": list(cols[4]),
            "delay": [float(d) for d in cols[5]],
        },
    )
    return cursor.fetchone()[0]
