"""The per-campaign "running" flag in Redis that workers check before every send (DESIGN rule 4).

A Redis ``GET`` costs about 50 µs, a query several times that; the flag lets a pause or a cancel
stop sending within one message. PostgreSQL stays the truth: the engine re-sets the flags of every
running campaign when it starts, so a flushed Redis cannot leave a running campaign stopped for
longer than an engine restart.
"""

from __future__ import annotations

import redis

from zapx.redis import Keys

# Atomically: the send time of a connection's next message, at least its planned slot and at
# least ``gap`` after the previous one on the connection (whatever worker sent it).
_RESERVE = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = math.max(tonumber(ARGV[1]), last + tonumber(ARGV[2]), tonumber(ARGV[3]))
redis.call('SET', KEYS[1], tostring(t), 'EX', 86400)
return tostring(t)
"""


def reserve(
    client: redis.Redis, keys: Keys, whatsapp_id: int, slot: float, gap: float, now: float
) -> float:
    """When (epoch s) to send a message planned at ``slot``, ``gap`` s after the previous one."""
    key = keys.of("whatsapp", whatsapp_id, "last_send")
    return float(client.eval(_RESERVE, 1, key, repr(slot), repr(gap), repr(now)))


_SENT = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > last then redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400) end
return 1
"""


def sent(client: redis.Redis, keys: Keys, whatsapp_id: int, completed: float) -> None:
    """A paced send completed at ``completed`` (epoch s): the next gap counts from here, since
    the provider saw the message at the latest by then."""
    key = keys.of("whatsapp", whatsapp_id, "last_send")
    client.eval(_SENT, 1, key, repr(completed))


def run_key(keys: Keys, campaign_id: int) -> str:
    return keys.of("campaign", campaign_id, "run")


def set_running(client: redis.Redis, keys: Keys, campaign_id: int, generation: int) -> None:
    """Mark the campaign running in ``generation`` (batches of other generations stop)."""
    client.set(run_key(keys, campaign_id), generation)


def clear_running(client: redis.Redis, keys: Keys, campaign_id: int) -> None:
    client.delete(run_key(keys, campaign_id))


def running_generation(client: redis.Redis, keys: Keys, campaign_id: int) -> int | None:
    raw = client.get(run_key(keys, campaign_id))
    return int(raw) if raw is not None else None
