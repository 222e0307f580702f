"""The SQL of starting campaigns: every due one in a few statements, and their first batches.

A mass start (thousands of companies' campaigns due at the same minute) costs a handful of
set-based statements per ``START_CHUNK`` campaigns, never statements per campaign. Callers hold a
connection scope (``db.connection_context()``); writes that go together run in ``db.atomic()``.
"""

from __future__ import annotations

import collections
import json
import time

from zapx.campaigns.pacing import CAP_DEFAULTS, SETTING_DEFAULTS
from zapx.contact_fields import column_list
from zapx.db import db
from zapx.engine.messages import FirstBatch
from zapx.engine.planning import FIRST_BATCH_SIZE
from zapx.status import BatchStatus, CampaignStatus, ConnectionStatus, RowStatus, sql

#: What makes a due campaign ``c2`` startable by :func:`start_due` (its connection ``w``).
_STARTABLE = f"""c2.contact_list_id IS NOT NULL
    AND EXISTS (SELECT 1 FROM whatsapps w3 WHERE w3.id = w.whatsapp_id
                AND w3.status = {sql(ConnectionStatus.CONNECTED)})
    AND EXISTS (SELECT 1 FROM contact_list_items i
                WHERE i.contact_list_id = c2.contact_list_id
                  AND i.company_id = c2.company_id
                  AND i.is_whatsapp_valid IS NOT FALSE)"""
#: A due campaign ``c2``'s connection: its own, else its company's default.
_CONNECTION = """CROSS JOIN LATERAL (
    SELECT COALESCE(c2.whatsapp_id, (
        SELECT w2.id FROM whatsapps w2 WHERE w2.company_id = c2.company_id
        ORDER BY w2.is_default DESC, w2.id LIMIT 1)) AS whatsapp_id) w"""


def due_scheduled(limit: int = 1000) -> list[tuple[int, int]]:
    """(company id, campaign id) of PROGRAMADA campaigns whose time has come and that
    :func:`start_due` cannot start (no connected connection, no contact to send to): the
    company actor pauses them with the reason.

    Not every due one: a mass start committed between the tick's ``start_due`` and this read
    came back here whole, and the Directory made a company actor for each of up to 1,000 of
    them to start it alone (about 3 ms each), the next tick's bulk start waiting behind that:
    the 2-4 s lag before a mass start with a big campaign running (docs/BENCHMARKS.md)."""
    return db.execute_sql(
        f"SELECT c2.company_id, c2.id FROM campaigns c2 {_CONNECTION} "
        f"WHERE c2.status = {sql(CampaignStatus.PROGRAMADA)} AND c2.scheduled_at <= now() "
        f"AND NOT ({_STARTABLE}) ORDER BY c2.scheduled_at LIMIT %s",
        (limit,),
    ).fetchall()


def due_count(limit: int) -> int:
    """PROGRAMADA campaigns whose time has come, counted up to ``limit`` (the
    ``campaigns_scheduled`` index: nothing due costs one index probe)."""
    return db.execute_sql(
        "SELECT count(*) FROM (SELECT 1 FROM campaigns "
        f"WHERE status = {sql(CampaignStatus.PROGRAMADA)} AND scheduled_at <= now() "
        "LIMIT %s) d",
        (limit,),
    ).fetchone()[0]


def running_companies() -> list[int]:
    """Companies with a campaign EM_ANDAMENTO (what a starting engine must pick up)."""
    rows = db.execute_sql(
        "SELECT DISTINCT company_id FROM campaigns "
        f"WHERE status = {sql(CampaignStatus.EM_ANDAMENTO)}"
    ).fetchall()
    return [r[0] for r in rows]


def running_campaigns() -> list[tuple[int, int, int]]:
    """(company id, campaign id, generation) of every campaign EM_ANDAMENTO (their run flags)."""
    rows = db.execute_sql(
        "SELECT company_id, id, generation FROM campaigns "
        f"WHERE status = {sql(CampaignStatus.EM_ANDAMENTO)}"
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


#: ``batches._PENDING_IN_ORDER`` for the alias ``s2``.
_PENDING_IN_ORDER_S2 = (
    f"s2.status >= {sql(RowStatus.PENDING)} AND s2.status <= {sql(RowStatus.PENDING)}"
)
_MESSAGES = " + ".join(f"(btrim(c.message{i}) <> '')::int" for i in range(1, 6))


def start_due(limit: int = 1000, first_rows: int = FIRST_BATCH_SIZE) -> list[tuple[int, int]]:
    """Start every due PROGRAMADA campaign (up to ``limit``) in one transaction: status, the
    head of the audience snapshot and totals for all of them in three statements, however many
    start at once.

    Only each campaign's first ``first_rows`` list items (by item id) are copied, what its first
    batch needs; a campaign whose list may hold more is marked ``audience_pending``, in the same
    transaction, and :func:`complete_audiences` copies the rest (docs/ENGINE.md, "The audience
    in two steps"). Copying 20 rows for each of 1,000 campaigns took 0.8-0.9 s of the start,
    one row 0.19-0.31 s, and every first message waited for it.

    Only campaigns that can start are taken: a connection (their own, else the company's
    default) that is CONNECTED, and a list with an item to send to. The others are left to the
    company actor, which pauses them with the reason (``zapx.campaigns.readiness``). Returns
    (company id, campaign id) of those started.
    """
    with db.atomic():
        # These statements' estimates (thousands of rows) pass PostgreSQL's JIT threshold, and
        # compiling them cost more than running them: 0.1 s of the 0.48 s of 1,000 starts.
        db.execute_sql("SET LOCAL jit = off")
        started = db.execute_sql(
            f"""
            UPDATE campaigns c SET status = {sql(CampaignStatus.EM_ANDAMENTO)}, started_at = now(),
                updated_at = now(), whatsapp_id = d.whatsapp_id
            FROM (
                SELECT c2.id, w.whatsapp_id
                FROM campaigns c2 {_CONNECTION}
                WHERE c2.status = {sql(CampaignStatus.PROGRAMADA)} AND c2.scheduled_at <= now()
                  AND {_STARTABLE}
                ORDER BY c2.scheduled_at LIMIT %s FOR UPDATE OF c2 SKIP LOCKED
            ) d
            WHERE c.id = d.id
            RETURNING c.company_id, c.id, c.contact_list_id, GREATEST({_MESSAGES}, 1)
            """,
            (limit,),
        ).fetchall()
        if not started:
            return []
        ids = [r[1] for r in started]
        _copy_audience(
            started,
            """CROSS JOIN LATERAL (
                SELECT * FROM contact_list_items i2
                WHERE i2.contact_list_id = s.list_id AND i2.company_id = s.company_id
                  AND i2.is_whatsapp_valid IS NOT FALSE
                ORDER BY i2.id LIMIT %s) i""",
            (first_rows,),
        )
        # Fewer rows than asked for: the list had no more, the audience is whole already.
        db.execute_sql(
            """
            UPDATE campaigns c SET total = t.n, audience_pending = t.n >= %s FROM (
                SELECT campaign_id, count(*) AS n FROM campaign_shipping
                WHERE campaign_id = ANY(%s) GROUP BY campaign_id) t
            WHERE c.id = t.campaign_id
            """,
            (first_rows, ids),
        )
    return [(r[0], r[1]) for r in started]


def audiences_pending() -> bool:
    """Whether a campaign's audience is still to complete (:func:`complete_audiences`): one
    index lookup (``campaigns_audience_pending``), what a tick costs when none is."""
    return db.execute_sql(
        "SELECT EXISTS (SELECT 1 FROM campaigns WHERE audience_pending)"
    ).fetchone()[0]


def complete_audiences(limit: int = 1000) -> list[tuple[int, int]]:
    """Copy the rest of the audience of up to ``limit`` campaigns that :func:`start_due` started
    with its head only (``audience_pending``), set their ``total`` to the full count and clear
    the flag, in one transaction; returns (company id, campaign id) of those completed.

    Three statements, however many campaigns: the lock (``FOR NO KEY UPDATE SKIP LOCKED``: a
    campaign being paused or cancelled right now is completed by the next call; ``NO KEY``
    because each batch planned meanwhile checks its foreign key to the campaign with a ``KEY
    SHARE`` lock, which a plain ``FOR UPDATE`` would make wait for this transaction), the
    insert (the rows, columns and message index :func:`start_due` gives; ``ON CONFLICT DO
    NOTHING`` keeps the rows already copied, maybe sent) and the totals.

    Whatever the campaign's status: a campaign paused or cancelled before its completion gets
    its remaining rows ``pending``, as a fully snapshotted campaign paused or cancelled keeps
    its unsent rows ``pending`` (a cancel releases its unclaimed batches' rows to pending):
    resume and restart send them, its report counts its whole audience. A deleted campaign has
    no row to complete. The list is read as it is now, normally a moment after the start (a
    cancelled campaign's list edited in that moment would give the new list's rest).
    """
    with db.atomic():
        db.execute_sql("SET LOCAL jit = off")  # as in start_due
        pending = db.execute_sql(
            f"""
            SELECT c.company_id, c.id, c.contact_list_id, GREATEST({_MESSAGES}, 1)
            FROM campaigns c WHERE c.audience_pending
            ORDER BY c.id LIMIT %s FOR NO KEY UPDATE SKIP LOCKED
            """,
            (limit,),
        ).fetchall()
        if not pending:
            return []
        ids = [r[1] for r in pending]
        _copy_audience(
            pending,
            """JOIN contact_list_items i ON i.contact_list_id = s.list_id
                AND i.company_id = s.company_id AND i.is_whatsapp_valid IS NOT FALSE""",
        )
        db.execute_sql(
            """
            UPDATE campaigns c SET audience_pending = false, total = (
                SELECT count(*) FROM campaign_shipping s WHERE s.campaign_id = c.id)
            WHERE c.id = ANY(%s)
            """,
            (ids,),
        )
    return [(r[0], r[1]) for r in pending]


def _copy_audience(campaigns: list[tuple], items: str, params: tuple = ()) -> None:
    """Copy list items into ``campaign_shipping`` for each (company id, campaign id, list id,
    messages) of ``campaigns``: ``items``, the join that picks each one's items ``i`` from
    ``s`` (its ``%s`` taking ``params``); rows already there are kept."""
    db.execute_sql(
        f"""
        INSERT INTO campaign_shipping (created_at, updated_at, campaign_id, company_id,
            contact_id, {column_list()}, search, message_index, status, attempts)
        SELECT now(), now(), s.campaign_id, s.company_id, i.id, {column_list("i.")}, i.search,
               abs(hashtext(s.campaign_id::text || ':' || i.id::text)) %% s.messages,
               {sql(RowStatus.PENDING)}, 0
        FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[])
            AS s(company_id, campaign_id, list_id, messages)
        {items}
        ON CONFLICT (campaign_id, contact_id) DO NOTHING
        """,
        (*(list(col) for col in zip(*campaigns, strict=True)), *params),
    )


def plan_first_batches(started: list[tuple[int, int]], size: int = 5) -> list[FirstBatch]:
    """Plan the first batch of every campaign in ``started`` ((company id, campaign id) pairs,
    as from :func:`start_due`) at once.

    The first message goes now: every batch's slots start at the current time. Unpaced
    campaigns get ``size`` rows spaced by the connection's cap; paced ones (``messageInterval``
    > 0) one row, with the minimum gap as its gap, and every send, this one too, waits for the
    connection's send gate (``zapx.schedule``) against its other sends. The company actor then
    counts the batch and its slots (it plans from the campaign's second batch on). Campaigns
    without a pending row get no batch. Three statements, however many campaigns start at once.

    A campaign whose connection is busy (another campaign already runs on it) gets no batch
    here: its company's lifecycle plans its first one through the connection's session
    throttle, at the next planning round, so it takes its turn in the connection's schedule
    (and its long pause) instead of a slot beside it.
    """
    if not started:
        return []
    # The connections busy with another running campaign, found once: as a NOT EXISTS per
    # started campaign, the planner (no statistics yet on the rows start_due just changed)
    # scanned every running campaign for each, comparing each id with the whole array: 0.6 s
    # for 1,000 campaigns beside 1,000 running (the tenants benchmark), 2 ms this way.
    heads = db.execute_sql(
        f"""
        WITH busy AS MATERIALIZED (
            SELECT DISTINCT o.whatsapp_id FROM campaigns o
            WHERE o.status = {sql(CampaignStatus.EM_ANDAMENTO)} AND o.whatsapp_id IS NOT NULL
              AND o.id <> ALL(%s))
        SELECT c.id, c.company_id, c.whatsapp_id, c.generation,
            COALESCE((SELECT (s.value #>> '{{}}')::float8 FROM campaign_settings s
                      WHERE s.company_id = c.company_id AND s.key = 'messageInterval'), %s),
            COALESCE((SELECT (s.value #>> '{{}}')::float8 FROM campaign_settings s
                      WHERE s.company_id = c.company_id AND s.key = 'jitter'), %s),
            COALESCE(NULLIF(w.settings ->> 'messagesPerSecond', '')::float8, %s)
        FROM campaigns c JOIN whatsapps w ON w.id = c.whatsapp_id
        WHERE c.id = ANY(%s) AND c.status = {sql(CampaignStatus.EM_ANDAMENTO)}
          AND c.whatsapp_id NOT IN (SELECT whatsapp_id FROM busy)
        """,
        (
            [campaign_id for _, campaign_id in started],
            SETTING_DEFAULTS["messageInterval"],
            SETTING_DEFAULTS["jitter"],
            CAP_DEFAULTS["messagesPerSecond"],
            [campaign_id for _, campaign_id in started],
        ),
    ).fetchall()
    if not heads:
        return []
    now = time.time()
    plans = []
    for campaign_id, company_id, whatsapp_id, generation, interval, jitter, cap in heads:
        gap = 1.0 / max(cap, 1e-6)
        count = size
        if interval > 0:
            gap, count = max(gap, interval * (1 - jitter)), 1
        slots = [[now + i * gap, gap] for i in range(count)]
        plans.append((campaign_id, company_id, whatsapp_id, generation, json.dumps(slots)))
    with db.atomic():
        db.execute_sql("SET LOCAL jit = off")  # as in start_due
        batches = db.execute_sql(
            f"""
            INSERT INTO campaign_batches (created_at, updated_at, campaign_id, company_id,
                whatsapp_id, generation, status, size, slots)
            SELECT now(), now(), p.campaign_id, p.company_id, p.whatsapp_id, p.generation,
                {sql(BatchStatus.PLANNED)}, 0, p.slots::jsonb
            FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[], %s::text[])
                AS p(campaign_id, company_id, whatsapp_id, generation, slots)
            RETURNING id, campaign_id
            """,
            tuple(list(col) for col in zip(*plans, strict=True)),
        ).fetchall()
        # Each batch takes its campaign's first pending rows through the (campaign_id, status,
        # id) index, whatever the statistics say: the rows were inserted moments ago by
        # start_due, before any ANALYZE, and a join with a window function over them took 5 s
        # for 1,000 campaigns in the tenants benchmark (0.05 s this way). The order is that
        # index's own, status as a range (batches._PENDING_IN_ORDER): with ``ORDER BY id`` and
        # statistics taken (a 200,000-row campaign analyzed), the planner walked the primary
        # key for each campaign instead, 35 s for 1,000 campaigns (0.1 s this way). The limit
        # is a constant (the longest batch; each then keeps its own count): with the batch's
        # own count as the limit the planner expected 10% of the table a batch, hashed the
        # whole table and compiled the statement (JIT): 0.64 s for 1,000 one-row batches.
        queued = db.execute_sql(
            f"""
            UPDATE campaign_shipping s SET status = {sql(RowStatus.QUEUED)}, batch_id = r.batch_id,
                updated_at = now()
            FROM (
                SELECT x.id, b.id AS batch_id
                FROM campaign_batches b CROSS JOIN LATERAL (
                    SELECT f.id, row_number() OVER () AS n FROM (
                        SELECT s2.id FROM campaign_shipping s2
                        WHERE s2.campaign_id = b.campaign_id AND {_PENDING_IN_ORDER_S2}
                          AND (s2.next_attempt_at IS NULL OR s2.next_attempt_at <= now())
                        ORDER BY s2.campaign_id, s2.status, s2.id LIMIT %s) f
                ) x
                WHERE b.id = ANY(%s) AND x.n <= jsonb_array_length(b.slots)
            ) r
            WHERE s.id = r.id AND s.status = {sql(RowStatus.PENDING)}
            RETURNING s.batch_id
            """,
            (max(len(json.loads(p[4])) for p in plans), [b[0] for b in batches]),
        ).fetchall()
        # Each batch's size from the rows it took (counting them again in the table, with the
        # slots rebuilt for every batch, took 0.2-0.3 s of 1,000 first batches under load);
        # only a batch that took fewer rows than its slots has them cut.
        took = collections.Counter(r[0] for r in queued)
        campaign_of = {b[0]: b[1] for b in batches}
        sized = sorted((b, campaign_of[b], n) for b, n in took.items())
        db.execute_sql(
            """
            UPDATE campaign_batches b SET size = t.n, slots = CASE
                WHEN t.n >= jsonb_array_length(b.slots) THEN b.slots
                ELSE (SELECT jsonb_agg(e ORDER BY o) FROM jsonb_array_elements(b.slots)
                      WITH ORDINALITY x(e, o) WHERE o <= t.n) END
            FROM unnest(%s::bigint[], %s::int[]) AS t(id, n)
            WHERE b.id = t.id
            """,
            ([s[0] for s in sized], [s[2] for s in sized]),
        )
        empty = sorted({b[0] for b in batches} - took.keys())
        if empty:
            db.execute_sql("DELETE FROM campaign_batches WHERE id = ANY(%s)", (empty,))
    by_campaign = {p[0]: p for p in plans}
    return [
        FirstBatch(by_campaign[c][1], c, by_campaign[c][3], batch_id, n)
        for batch_id, c, n in sorted(sized)
    ]
