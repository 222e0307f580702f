"""The claim of many batches at once: a chunk of first batches in one statement.

A mass start (thousands of companies' campaigns due in the same second) plans every first batch
in bulk (:mod:`zapx.campaigns.starts`); a worker then takes up to ``FIRSTS_CHUNK`` of them in one
Dramatiq message (``actors.delivery.deliver_firsts``). The claim is
:func:`zapx.campaigns.batches.claim_batch`'s statement run once for the whole chunk (per first
batch a statement of its own cost more than the one-row batch's send: docs/BENCHMARKS.md, "Many
tenants"), and the chunk is recorded by :func:`zapx.campaigns.finish.finish_batches`, the one
statement every batch's finish is. The guarantees are the single batch's, batch by batch: a
batch is claimed only from ``planned`` (a duplicate message claims nothing), and only the rows
still ``queued`` in their own batch are written.
"""

from __future__ import annotations

from collections.abc import Sequence

from zapx.campaigns.batches import Claim, Row
from zapx.contact_fields import column_list
from zapx.db import db
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
