"""The SQL of delivery: snapshot, plan, claim, record, finish, expire (DESIGN rules 1-3); the
SQL of starting many campaigns at once is in :mod:`zapx.campaigns.starts`.

Each function is one or two set-based statements, never a statement per row. Callers hold a
connection scope (``db.connection_context()``); writes that must go together run in
``db.atomic()`` here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from zapx.campaigns import inflight
from zapx.campaigns.finish import finish_batch
from zapx.contact_fields import column_list
from zapx.db import db
from zapx.engine.messages import Outcome
from zapx.status import BatchStatus, CampaignStatus, RowStatus, sql

#: Attempts before a transiently failing row is given up as ``failed``.
MAX_ATTEMPTS = 6


@dataclasses.dataclass(frozen=True)
class Row:
    """One shipping row as a worker needs it (never an ORM object across threads); the person
    fields are ``zapx.contact_fields.COLUMNS``, in that order (the claim's SQL builds them)."""

    id: int
    contact_id: int
    number: str
    name: str
    email: str
    condominio: str
    endereco: str
    cargo: str
    extra_info: list
    message_index: int
    attempts: int
    confirmed: bool


@dataclasses.dataclass(frozen=True)
class Claim:
    batch_id: int
    campaign_id: int
    company_id: int
    whatsapp_id: int
    generation: int
    slots: list
    rows: list


def snapshot_audience(campaign_id: int, company_id: int, list_id: int, messages: int) -> int:
    """Copy the list's items into shipping rows (one ``INSERT ... SELECT``); returns the total.

    Unique on (campaign, contact): running it twice adds nothing. Each row's message index is a
    hash of (campaign, contact) so the choice is stable across restarts.
    """
    cursor = db.execute_sql(
        f"""
        INSERT INTO campaign_shipping (created_at, updated_at, campaign_id, company_id,
            contact_id, {column_list()}, search, message_index, status, attempts)
        SELECT now(), now(), %(c)s, %(co)s, i.id, {column_list("i.")}, i.search,
               abs(hashtext(%(c)s::text || ':' || i.id::text)) %% %(m)s,
               {sql(RowStatus.PENDING)}, 0
        FROM contact_list_items i
        WHERE i.contact_list_id = %(l)s AND i.company_id = %(co)s
          AND i.is_whatsapp_valid IS NOT FALSE
        ON CONFLICT (campaign_id, contact_id) DO NOTHING
        """,
        {"c": campaign_id, "co": company_id, "l": list_id, "m": max(messages, 1)},
    )
    inserted = cursor.rowcount
    total = db.execute_sql(
        "SELECT count(*) FROM campaign_shipping WHERE campaign_id = %s", (campaign_id,)
    ).fetchone()[0]
    return total if total else inserted


#: ``status = 'pending'`` written as a range, with ``ORDER BY campaign_id, status, id``: only the
#: ``(campaign_id, status, id)`` index gives that order, so the next pending rows are read from
#: it whatever the statistics say. With ``=`` and ``ORDER BY id``, statistics taken while the
#: campaign's rows were all pending (a new campaign: until autoanalyze, a minute or more) made
#: the planner walk the primary key past every row already sent: each plan read 7,550 rows
#: for 50 after 150 batches, quadratic in the campaign's size.
_PENDING_IN_ORDER = f"status >= {sql(RowStatus.PENDING)} AND status <= {sql(RowStatus.PENDING)}"


def plan_batch(
    campaign_id: int, company_id: int, whatsapp_id: int, generation: int, slots: list
) -> tuple[int, int] | None:
    """Reserve up to ``len(slots)`` due pending rows into a new batch: (batch id, size) or None.

    ``slots`` are ``[send time, gap before]`` pairs (epoch seconds, seconds) from the throttle.

    ``FOR UPDATE SKIP LOCKED`` keeps two planners (an engine being replaced) from taking the
    same rows; the batch row and the rows' moves commit together.
    """
    with db.atomic():
        batch_id = db.execute_sql(
            f"""
            INSERT INTO campaign_batches (created_at, updated_at, campaign_id, company_id,
                whatsapp_id, generation, status, size, slots)
            VALUES (now(), now(), %s, %s, %s, %s, {sql(BatchStatus.PLANNED)}, 0, %s) RETURNING id
            """,
            (campaign_id, company_id, whatsapp_id, generation, json.dumps(slots)),
        ).fetchone()[0]
        size = db.execute_sql(
            f"""
            UPDATE campaign_shipping SET status = {sql(RowStatus.QUEUED)}, batch_id = %s,
                updated_at = now()
            WHERE id IN (
                SELECT id FROM campaign_shipping
                WHERE campaign_id = %s AND {_PENDING_IN_ORDER}
                  AND (next_attempt_at IS NULL OR next_attempt_at <= now())
                ORDER BY campaign_id, status, id LIMIT %s FOR UPDATE SKIP LOCKED)
            """,
            (batch_id, campaign_id, len(slots)),
        ).rowcount
        if not size:
            db.execute_sql("DELETE FROM campaign_batches WHERE id = %s", (batch_id,))
            return None
        db.execute_sql(
            "UPDATE campaign_batches SET size = %s, slots = %s WHERE id = %s",
            (size, json.dumps(slots[:size]), batch_id),
        )
    return batch_id, size


def company_of(batch_id: int) -> int | None:
    """The company of batch ``batch_id`` (None when there is no such batch)."""
    row = db.execute_sql(
        "SELECT company_id FROM campaign_batches WHERE id = %s", (batch_id,)
    ).fetchone()
    return None if row is None else row[0]


def claim_batch(batch_id: int, lease_s: float) -> Claim | None:
    """Take a planned batch; None when already taken.

    A duplicate Dramatiq message (redelivery after a crash) finds the batch claimed and sends
    nothing: the claim is the at-most-once gate. After ``lease_s`` seconds (BATCH_LEASE_S) an
    unfinished batch is presumed dead and its rows still in it become ``unknown``.

    One statement that writes only the batch row: its rows stay ``queued`` in it (a row queued
    in a claimed batch is *sending*: :mod:`zapx.campaigns.inflight`) and their attempt is
    counted when the batch is finished, so a row is written twice an attempt (planned,
    finished), not three times. The rows come back with that attempt counted, as the sender
    reads them. A batch whose rows a cancel gave back (size 0, :func:`release_planned`) is
    claimed with no rows: the statement's snapshot may predate that cancel's commit. The rows
    are looked up by the batch id given, not joined on the CTE's: joined, the planner (one row
    expected from the CTE) walked the whole ``batch_id`` index, every row ever sent included.
    """
    head = db.execute_sql(
        f"""
        WITH b AS (
            UPDATE campaign_batches SET status = {sql(BatchStatus.CLAIMED)}, claimed_at = now(),
                lease_until = now() + make_interval(secs => %s), updated_at = now()
            WHERE id = %s AND status = {sql(BatchStatus.PLANNED)}
            RETURNING id, campaign_id, company_id, whatsapp_id, generation, slots, size
        ), r AS (
            SELECT s.id, s.contact_id, {column_list("s.")}, s.message_index,
                s.attempts + 1 AS attempts, s.confirmed_at IS NOT NULL AS confirmed
            FROM campaign_shipping s, b
            WHERE s.batch_id = %s AND s.status = {sql(RowStatus.QUEUED)} AND b.size > 0
        )
        SELECT b.campaign_id, b.company_id, b.whatsapp_id, b.generation, b.slots,
            (SELECT json_agg(json_build_array(r.id, r.contact_id, {column_list("r.")},
                r.message_index, r.attempts, r.confirmed) ORDER BY r.id) FROM r)
        FROM b
        """,
        (lease_s, batch_id, batch_id),
    ).fetchone()
    if head is None:
        return None
    rows = [Row(*r) for r in head[5] or ()]
    return Claim(batch_id, head[0], head[1], head[2], head[3], head[4], rows)


#: The error of a row that was on the wire when its worker died.
LOST_MID_SEND = "worker lost mid-send; not resent (at most once)"


def expire_leases(
    progress: Callable[[list[tuple[int, int]]], dict[int, tuple[int, list[Outcome]]]] | None = None,
) -> list[tuple[int, int]]:
    """Batches whose worker died (lease over): finish them from what the worker left.

    ``progress([(batch id, company id), ...])`` gives, per batch, how many rows (in id order,
    the order the worker sends them) had started and the outcomes of those done
    (``flags.batch_progress``). Those outcomes are recorded as the worker would have; the rows
    started but without an outcome become ``unknown`` (they may have left: at most once); the
    rest go back to pending, attempts unchanged. A batch without progress (or no
    ``progress``) makes every row still in it (``queued`` in the claimed batch: sending)
    ``unknown``, its attempt counted.

    Returns the (company id, campaign id) pairs touched, so the engine can re-plan them.
    """
    with db.atomic():
        expired = db.execute_sql(
            f"""
            UPDATE campaign_batches SET status = {sql(BatchStatus.CLAIMED)}, lease_until = NULL,
                updated_at = now()
            WHERE status = {sql(BatchStatus.CLAIMED)} AND lease_until < now()
            RETURNING id, company_id, campaign_id
            """
        ).fetchall()
        ids = [e[0] for e in expired]
        known = progress([(e[0], e[1]) for e in expired]) if (ids and progress) else {}
        sending: dict[int, list[int]] = {}
        if known:
            for batch_id, row_id in db.execute_sql(
                "SELECT batch_id, id FROM campaign_shipping WHERE batch_id = ANY(%s) "
                f"AND status = {sql(RowStatus.QUEUED)} ORDER BY batch_id, id",
                (list(known),),
            ).fetchall():
                sending.setdefault(batch_id, []).append(row_id)
        for batch_id, (started, outcomes) in known.items():
            outcomes = list({o.row_id: o for o in outcomes}.values())  # a retried call's repeats
            rows = sending.get(batch_id, [])
            done = {o.row_id for o in outcomes}
            lost = [r for r in rows[:started] if r not in done]
            finish_batch(
                batch_id,
                [*outcomes, *(Outcome(r, RowStatus.UNKNOWN, error=LOST_MID_SEND) for r in lost)],
            )
        rest = [i for i in ids if i not in known]
        if rest:
            db.execute_sql(
                f"""
                UPDATE campaign_shipping SET status = {sql(RowStatus.UNKNOWN)}, error = %s,
                    attempts = attempts + 1, updated_at = now()
                WHERE batch_id = ANY(%s) AND status = {sql(RowStatus.QUEUED)}
                """,
                (LOST_MID_SEND, rest),
            )
            db.execute_sql(
                f"UPDATE campaign_batches SET status = {sql(BatchStatus.DONE)}, done_at = now(), "
                "updated_at = now() WHERE id = ANY(%s)",
                (rest,),
            )
    return sorted({(e[1], e[2]) for e in expired})


#: Seconds a contact has to answer a confirmation message; until then the campaign stays open.
CONFIRMATION_WINDOW_S = 24 * 3600


def open_rows(campaign_id: int) -> dict[str, int]:
    """Counts of rows with work ahead by status: pending, queued, sending (derived:
    :mod:`inflight`), and awaiting a confirmation reply within ``CONFIRMATION_WINDOW_S``."""
    rows = db.execute_sql(
        f"SELECT {inflight.status_sql()}, count(*) FROM campaign_shipping WHERE campaign_id = %s "
        f"AND (status IN ({sql(*RowStatus.OPEN)}) OR (status = {sql(RowStatus.AWAITING)} "
        "AND confirmation_requested_at > now() - make_interval(secs => %s))) GROUP BY 1",
        (campaign_id, CONFIRMATION_WINDOW_S),
    ).fetchall()
    return dict(rows)


def audience_pending(campaign_id: int) -> bool:
    """Whether the campaign's audience is still only its head (``starts.start_due``): it
    cannot finish, the rest of its rows is on the way (``starts.complete_audiences``)."""
    row = db.execute_sql(
        "SELECT audience_pending FROM campaigns WHERE id = %s", (campaign_id,)
    ).fetchone()
    return bool(row and row[0])


def next_due_in_s(campaign_id: int) -> float | None:
    """Seconds until the earliest pending row is due (0 when one is due now); None if none.

    Asked before every plan: whether one is due now reads the first due row in index order,
    not every pending row (an aggregate over them read all 20,000 of a campaign for each
    batch); only when none is due are the pending rows' times read (rows waiting for a retry).
    """
    row = db.execute_sql(
        f"""
        SELECT CASE WHEN EXISTS (
            SELECT 1 FROM campaign_shipping WHERE campaign_id = %(c)s AND {_PENDING_IN_ORDER}
              AND (next_attempt_at IS NULL OR next_attempt_at <= now())
            ORDER BY campaign_id, status, id LIMIT 1)
        THEN 0 ELSE (
            SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now()) FROM campaign_shipping
            WHERE campaign_id = %(c)s AND status = {sql(RowStatus.PENDING)}) END
        """,
        {"c": campaign_id},
    ).fetchone()
    return None if row[0] is None else max(0.0, float(row[0]))


def stale_planned(older_than_s: float = 60.0) -> list[tuple[int, int]]:
    """Planned batches whose first slot passed ``older_than_s`` ago unclaimed (their Dramatiq
    message was lost, e.g. the engine died between planning and enqueueing). Touched so the
    next sweep does not return them again at once; re-sending is safe (the claim is the gate).
    Returns (batch id, company id) pairs.
    """
    rows = db.execute_sql(
        f"""
        UPDATE campaign_batches SET updated_at = now()
        WHERE status = {sql(BatchStatus.PLANNED)}
          AND updated_at < now() - make_interval(secs => %s)
          AND COALESCE((slots->0->>0)::float8, 0) < EXTRACT(EPOCH FROM now()) - %s
        RETURNING id, company_id
        """,
        (older_than_s, older_than_s),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def planned() -> list[tuple[int, int, float]]:
    """Every planned batch, whatever its age: (batch id, company id, seconds until its first
    slot, 0 when due), to enqueue again when Redis lost their messages."""
    rows = db.execute_sql(
        f"""
        SELECT id, company_id,
            GREATEST(0, COALESCE((slots->0->>0)::float8, 0) - EXTRACT(EPOCH FROM now()))
        FROM campaign_batches WHERE status = {sql(BatchStatus.PLANNED)}
        """
    ).fetchall()
    return [(r[0], r[1], float(r[2])) for r in rows]


def finished(batch_ids: list[int]) -> set[int]:
    """Which of ``batch_ids`` are done (their report may have been lost with a worker)."""
    if not batch_ids:
        return set()
    rows = db.execute_sql(
        f"SELECT id FROM campaign_batches WHERE id = ANY(%s) AND status = {sql(BatchStatus.DONE)}",
        (list(batch_ids),),
    ).fetchall()
    return {r[0] for r in rows}


def promised_slots(whatsapp_id: int) -> tuple[float | None, int]:
    """What a connection's running campaigns still have planned: the last slot time (epoch s)
    of its planned or claimed batches, and the rows of those not yet claimed (none of them sent).
    A rebuilt session throttle plans after them (batches of a stopped generation are left out:
    their worker sends nothing)."""
    rows = db.execute_sql(
        f"""
        SELECT max((b.slots->-1->>0)::float8),
               COALESCE(sum(b.size) FILTER (WHERE b.status = {sql(BatchStatus.PLANNED)}), 0)
        FROM campaign_batches b JOIN campaigns c ON c.id = b.campaign_id
        WHERE b.whatsapp_id = %s AND b.status IN ({sql(BatchStatus.PLANNED, BatchStatus.CLAIMED)})
          AND c.status = {sql(CampaignStatus.EM_ANDAMENTO)} AND c.generation = b.generation
        """,
        (whatsapp_id,),
    ).fetchone()
    return (None if rows[0] is None else float(rows[0])), int(rows[1])
