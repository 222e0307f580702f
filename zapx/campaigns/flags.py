"""The per-campaign "running" flag in Redis that workers check before every send (DESIGN rule 4).

A Redis ``GET`` costs about 50 µs, a query several times that; the flag lets a pause or a cancel
stop sending within one message. PostgreSQL stays the truth: the engine re-sets the flags of every
running campaign when it starts, so a flushed Redis cannot leave a running campaign stopped for
longer than an engine restart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import redis

from zapx import cache
from zapx.engine.messages import Outcome
from zapx.redis import Keys, run_script, send_nowait
from zapx.schedule import Progress


def run_key(keys: Keys, company_id: int, campaign_id: int) -> str:
    """The campaign's run flag: its generation while it runs (written by
    ``zapx.engine.runflags`` alone). It carries the company's hash tag, as the send gate's keys
    do: the gate's script reads it (``zapx.schedule``), and on Redis Cluster every key of one
    script call must hash to one slot."""
    return keys.of(f"{{c{company_id}}}", "campaign", campaign_id, "run")


def waiting_key(keys: Keys, campaign_id: int) -> str:
    """Why the campaign's sends last waited on the send gate (``daily limit``, ``rate limit
    whatsapp`` ...), kept while the wait lasts (a TTL), for the campaign report."""
    return keys.of("campaign", campaign_id, "waiting")


def note_waiting(
    client: redis.Redis, keys: Keys, campaign_id: int, reason: str, ttl_s: float
) -> None:
    """The campaign's sends wait for ``reason``, for about ``ttl_s`` seconds (at least 1)."""
    client.set(waiting_key(keys, campaign_id), reason, ex=max(1, min(int(ttl_s) + 1, 86_400)))


def waiting_because(client: redis.Redis, keys: Keys, campaign_id: int) -> str | None:
    """The reason of the campaign's last long wait, while it lasts; None otherwise."""
    value = client.get(waiting_key(keys, campaign_id))
    return value.decode() if isinstance(value, bytes) else value


def progress_keys(keys: Keys, company_id: int, batch_id: int) -> tuple[str, str]:
    """A batch's progress: rows started (a count) and the outcomes of the rows done (a list),
    under the company's hash tag (written by the send gate's script, with the run flag)."""
    tag = f"{{c{company_id}}}"
    return keys.of(tag, "batch", batch_id, "started"), keys.of(tag, "batch", batch_id, "outcomes")


def gate_progress(
    keys: Keys, company_id: int, campaign_id: int, batch_id: int, generation: int, ttl_s: int
) -> Progress:
    """What the send gate's script checks and records for the batch on each of its calls (its
    run flag, its progress): so a grant is only ever given to a batch whose campaign still runs,
    and the rows started and the outcomes since the last call are written by the same call."""
    started_key, outcomes_key = progress_keys(keys, company_id, batch_id)
    return Progress(
        run_key(keys, company_id, campaign_id), generation, started_key, outcomes_key, ttl_s
    )


# KEYS[1] the campaign's run flag, KEYS[2] rows started, KEYS[3] the outcomes list; ARGV[1] the
# batch's generation, ARGV[2] rows started, ARGV[3] the TTL (s), ARGV[4...] outcomes (JSON).
_BEFORE_SEND = """
if #ARGV > 3 then
  redis.call('RPUSH', KEYS[3], unpack(ARGV, 4))
  redis.call('EXPIRE', KEYS[3], ARGV[3])
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
"""


def before_send(
    client: redis.Redis,
    keys: Keys,
    company_id: int,
    campaign_id: int,
    generation: int,
    batch_id: int,
    started: int,
    outcomes: list[Outcome],
    ttl_s: int,
) -> bool:
    """Whether a batch's next row may go: the campaign still runs in ``generation``. Then the
    batch's first ``started`` rows (by id) may have left; ``outcomes`` (the rows done since the
    last call) are what became of them, kept either way. One script call on the thread's own
    connection (it runs before every send). If the worker dies, the engine records those
    outcomes, marks the row that was on the wire ``unknown`` and gives the rest back to
    pending."""
    started_key, outcomes_key = progress_keys(keys, company_id, batch_id)
    return bool(
        run_script(
            client,
            _BEFORE_SEND,
            [run_key(keys, company_id, campaign_id), started_key, outcomes_key],
            [generation, started, ttl_s, *(encode(o) for o in outcomes)],
        )
    )


def record_outcomes(
    client: redis.Redis,
    keys: Keys,
    company_id: int,
    batch_id: int,
    outcomes: list[Outcome],
    ttl_s: int,
) -> None:
    """Add ``outcomes`` to the batch's progress (its end: the rows after the last gate call)."""
    if not outcomes:
        return
    outcomes_key = progress_keys(keys, company_id, batch_id)[1]
    pipe = client.pipeline(transaction=False)
    pipe.rpush(outcomes_key, *(encode(o) for o in outcomes))
    pipe.expire(outcomes_key, ttl_s)
    pipe.execute()


def push_outcomes(
    client: redis.Redis,
    keys: Keys,
    company_id: int,
    batch_id: int,
    outcomes: list[Outcome],
    ttl_s: int,
    *,
    expire: bool = True,
) -> None:
    """Add ``outcomes`` to the batch's progress *now*, without waiting for the reply: the write
    leaves right after the provider's answer and the thread's next gate call reads its reply
    (``zapx.redis.send_nowait``), so recording an outcome costs no round trip of its own.
    ``expire=False`` when the list already has its TTL (an RPUSH keeps it): one command."""
    if not outcomes:
        return
    outcomes_key = progress_keys(keys, company_id, batch_id)[1]
    push = ("RPUSH", outcomes_key, *(encode(o) for o in outcomes))
    if expire:
        send_nowait(client, push, ("EXPIRE", outcomes_key, ttl_s))
    else:
        send_nowait(client, push)


def encode(outcome: Outcome) -> str:
    """An outcome as the progress list holds it (JSON)."""
    return json.dumps(outcome.as_list())


def mark_claiming(
    client: redis.Redis, keys: Keys, company_id: int, batch_id: int, ttl_s: int
) -> bool:
    """Nothing of the batch has left yet: written *before* its claim commits, so a worker that
    dies at any point after the claim leaves a progress mark, and its rows not yet started go
    back to pending (without a mark every row becomes ``unknown``). A mark already there (the
    batch run twice) is kept. True when this call wrote the mark."""
    return bool(client.set(progress_keys(keys, company_id, batch_id)[0], 0, ex=ttl_s, nx=True))


def mark_claiming_many(
    client: redis.Redis, keys: Keys, batches: Sequence[tuple[int, int]], ttl_s: int
) -> set[int]:
    """:func:`mark_claiming` for every ``(batch id, company id)`` of ``batches`` (a chunk of
    first batches), in one pipeline: every mark is written before the chunk's claim. Returns
    the batch ids whose mark this call wrote."""
    pipe = client.pipeline(transaction=False)
    for batch_id, company_id in batches:
        pipe.set(progress_keys(keys, company_id, batch_id)[0], 0, ex=ttl_s, nx=True)
    replies = pipe.execute()
    return {b for (b, _), wrote in zip(batches, replies, strict=True) if wrote}


def clear_progress_many(client: redis.Redis, keys: Keys, batches: Sequence[tuple[int, int]]):
    """:func:`clear_progress` of every ``(batch id, company id)`` of ``batches``: one call."""
    if batches:
        client.delete(*(k for b, c in batches for k in progress_keys(keys, c, b)))


def batches_recorded(client: redis.Redis, keys: Keys, batches: Sequence[tuple[int, int]]) -> None:
    """:func:`batch_recorded` of every ``(batch id, company id)`` of ``batches`` (committed in
    PostgreSQL): their progress goes and each company's cached reports are invalidated once,
    in one pipeline."""
    if not batches:
        return
    pipe = client.pipeline(transaction=False)
    pipe.delete(*(k for b, c in batches for k in progress_keys(keys, c, b)))
    companies = sorted({c for _, c in batches})
    for company_id in companies:
        cache.queue_bump(pipe, keys.prefix, company_id, cache.REPORTS)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        for company_id in companies:
            cache.bump_failed(client, company_id, (cache.REPORTS,), exc, 0)
        raise


def clear_progress(client: redis.Redis, keys: Keys, company_id: int, batch_id: int) -> None:
    """The batch is recorded in PostgreSQL: its progress is no longer needed."""
    client.delete(*progress_keys(keys, company_id, batch_id))


def batch_recorded(client: redis.Redis, keys: Keys, company_id: int, batch_id: int) -> None:
    """The batch's outcomes are committed in PostgreSQL: its progress goes, and the company's
    cached campaign reports are invalidated (``zapx.cache``, namespace ``reports``), in one
    pipeline: one round trip, the same as clearing the progress alone."""
    pipe = client.pipeline(transaction=False)
    pipe.delete(*progress_keys(keys, company_id, batch_id))
    cache.queue_bump(pipe, keys.prefix, company_id, cache.REPORTS)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        cache.bump_failed(client, company_id, (cache.REPORTS,), exc, 0)
        raise


def batch_progress(
    client: redis.Redis, keys: Keys, batches: list[tuple[int, int]]
) -> dict[int, tuple[int, list[Outcome]]]:
    """``{batch id: (rows started, [outcome, ...])}`` for the (batch id, company id) pairs that
    left a progress mark (the others: nothing is known of them)."""
    if not batches:
        return {}
    batch_ids = [b for b, _ in batches]
    pipe = client.pipeline(transaction=False)
    for batch_id, company_id in batches:
        started_key, outcomes_key = progress_keys(keys, company_id, batch_id)
        pipe.get(started_key)
        pipe.lrange(outcomes_key, 0, -1)
    replies = pipe.execute()
    out = {}
    for i, batch_id in enumerate(batch_ids):
        started, outcomes = replies[2 * i], replies[2 * i + 1]
        if started is not None:
            out[batch_id] = (int(started), [Outcome(*json.loads(o)) for o in outcomes])
    return out
