"""Which rows are *sending*: a row ``queued`` in a claimed batch.

A claim writes only its batch row (``zapx.campaigns.batches.claim_batch``): the batch's rows stay
``queued`` in it until the finish writes each row's outcome, so a row is written twice an
attempt (planned, finished) instead of three times. ``sending`` is still what readers see (the
report's counts, the contacts page and its CSV, the engine's open rows): derived here, never
stored. Cancel gives back only rows of *planned* batches (:func:`release_planned`): a claimed
batch's rows may be on the wire, and given back they could be sent twice by a restart.
"""

from __future__ import annotations

from zapx.db import db
from zapx.status import BatchStatus, RowStatus, sql


def in_claimed_batch(alias: str = "campaign_shipping.") -> str:
    """SQL condition: the row (``alias``: its table or the table's alias, with the dot) is
    ``queued`` in a claimed batch. ``status`` first: the batch lookup (its primary key) runs
    only for queued rows, a few batches' worth a campaign."""
    return (
        f"({alias}status = {sql(RowStatus.QUEUED)} AND EXISTS (SELECT 1 FROM campaign_batches "
        f"cb WHERE cb.id = {alias}batch_id AND cb.status = {sql(BatchStatus.CLAIMED)}))"
    )


def status_sql(alias: str = "campaign_shipping.") -> str:
    """SQL expression: the row's status as readers see it (``sending`` when in flight)."""
    return (
        f"(CASE WHEN {in_claimed_batch(alias)} THEN {sql(RowStatus.SENDING)} "
        f"ELSE {alias}status END)"
    )


def status_filter(status: str, alias: str = "campaign_shipping.") -> str:
    """SQL condition: the row's seen status is ``status`` (a row status), through the
    ``(campaign_id, status, id)`` index as a stored status would be."""
    if status == RowStatus.SENDING:
        return in_claimed_batch(alias)
    if status == RowStatus.QUEUED:
        return f"({alias}status = {sql(RowStatus.QUEUED)} AND NOT {in_claimed_batch(alias)})"
    return f"({alias}status = {sql(status)})"


def release_planned(campaign_id: int) -> int:
    """Give the campaign's rows in *planned* batches back to pending (a cancel; the caller's
    transaction); returns how many. Those batches' size becomes 0.

    The batch rows are updated first, so a claim racing with this either commits first (its
    batch is no longer planned: its rows are left alone) or waits for this and then finds size 0
    and takes no rows, whatever its statement's older snapshot shows of them.
    """
    cursor = db.execute_sql(
        f"""
        WITH b AS (
            UPDATE campaign_batches SET size = 0, updated_at = now()
            WHERE campaign_id = %s AND status = {sql(BatchStatus.PLANNED)} AND size > 0
            RETURNING id
        )
        UPDATE campaign_shipping s SET status = {sql(RowStatus.PENDING)}, batch_id = NULL,
            updated_at = now()
        FROM b WHERE s.batch_id = b.id AND s.status = {sql(RowStatus.QUEUED)}
        """,
        (campaign_id,),
    )
    return cursor.rowcount
