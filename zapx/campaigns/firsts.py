"""The SQL of many batches at once: the claim and the finish of a chunk of first batches.

A mass start (thousands of companies' campaigns due in the same second) plans every first batch
in bulk (:mod:`zapx.campaigns.starts`); a worker then takes up to ``FIRSTS_CHUNK`` of them in one
Dramatiq message (``actors.firsts``). These are the same statements as
:func:`zapx.campaigns.batches.claim_batch` and :func:`~zapx.campaigns.batches.finish_batch`, each
run once for the whole chunk: per first batch a statement of its own cost more than the
one-row batch's send (docs/BENCHMARKS.md, "Many tenants"). The guarantees are the single
batch's, batch by batch: a batch is claimed only from ``planned`` (a duplicate message claims
nothing), and only the rows still ``queued`` in their own batch are written.
"""

from __future__ import annotations

from collections.abc import Sequence

from zapx.campaigns.batches import Claim, Row
from zapx.contact_fields import column_list
from zapx.db import db
from zapx.engine.messages import Outcome
from zapx.status import BatchStatus, RowStatus, sql


def claim_batches(batch_ids: Sequence[int], lease_s: float) -> list[Claim]:
    """Claim every batch of ``batch_ids`` still planned, in one statement; the claims in batch
    id order (the others were taken by another run: nothing of them is returned).

    As :func:`~zapx.campaigns.batches.claim_batch`, for each batch: only the batch row is
    written (its rows stay ``queued`` in it: *sending* to every reader), with a lease of
    ``lease_s`` seconds, and its rows come back with the attempt counted. The rows are looked
    up by the batch ids given (the ``batch_id`` index), not joined on the CTE's rows.
    """
    if not batch_ids:
        return []
    ids = sorted(set(batch_ids))
    heads = db.execute_sql(
        f"""
        WITH b AS (
            UPDATE campaign_batches SET status = {sql(BatchStatus.CLAIMED)}, claimed_at = now(),
                lease_until = now() + make_interval(secs => %(lease)s), updated_at = now()
            WHERE id = ANY(%(ids)s) AND status = {sql(BatchStatus.PLANNED)}
            RETURNING id, campaign_id, company_id, whatsapp_id, generation, slots, size
        ), r AS (
            SELECT s.batch_id, s.id, s.contact_id, {column_list("s.")}, s.message_index,
                s.attempts + 1 AS attempts, s.confirmed_at IS NOT NULL AS confirmed
            FROM campaign_shipping s
            WHERE s.batch_id = ANY(%(ids)s) AND s.status = {sql(RowStatus.QUEUED)}
        )
        SELECT b.id, b.campaign_id, b.company_id, b.whatsapp_id, b.generation, b.slots,
            (SELECT json_agg(json_build_array(r.id, r.contact_id, {column_list("r.")},
                r.message_index, r.attempts, r.confirmed) ORDER BY r.id)
             FROM r WHERE r.batch_id = b.id AND b.size > 0)
        FROM b ORDER BY b.id
        """,
        {"lease": lease_s, "ids": ids},
    ).fetchall()
    return [Claim(h[0], h[1], h[2], h[3], h[4], h[5], [Row(*r) for r in h[6] or ()]) for h in heads]


def finish_batches(done: Sequence[tuple[int, Sequence[Outcome]]]) -> int:
    """Record the outcomes of every ``(batch id, outcomes)`` of ``done``, return each batch's
    rows without an outcome to pending and mark the batches done: one statement, one
    transaction. Returns the number of outcomes written.

    Batch by batch as :func:`~zapx.campaigns.batches.finish_batch`: an outcome other than
    ``throttled`` counts the row's attempt; only rows still ``queued`` in *their own* batch
    change (each outcome carries its batch id), so a late duplicate cannot overwrite a final
    status; a row never attempted goes back to pending, its attempts unchanged.
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
