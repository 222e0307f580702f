"""The bulk lane yields to a burst of first batches (docs/ENGINE.md, "First batches first").

When thousands of campaigns start in the same second, their first messages and a big
campaign's batches share two cores: measured, the big campaign took about half of them
(1,000-1,200 msgs/s meanwhile) and the last first message left 9-11 s after the start. So a mass
start counts its first batches in one Redis counter (:func:`firsts_enqueued`), each
``deliver_firsts`` message takes its batches off when it ends (:func:`firsts_done`), and every
other unpaced batch starts no request while the counter is above zero (:func:`yielding`,
read by ``WindowSender`` at most every :data:`CHECK_S`); requests already on the wire finish.

Bounded both ways: only a start of at least :data:`BURST_MIN` first batches counts (a steady
trickle of starts never holds the bulk lane), and the counter expires :data:`HOLD_MAX_S` after
the last burst counted it, so a worker killed mid-chunk, which never takes its batches off,
holds the others that long at most. The counter has no company's hash tag: it is the
process-wide lane, read with its own ``GET``, in no script with a company's keys.
"""

from __future__ import annotations

import redis

from zapx.redis import Keys, run_script

#: First batches a start must enqueue at once to hold the bulk lane.
BURST_MIN = 100
#: Seconds the bulk lane is held at most after the last burst was counted.
HOLD_MAX_S = 5.0
#: Seconds between two reads of the counter by a batch that is sending (a read costs one round
#: trip: 16 sending threads make 64 a second, against about 1,000 messages).
CHECK_S = 0.25
#: Seconds a held batch waits before it reads the counter again.
POLL_S = 0.1

KEY = ("engine", "firsts-pending")

# KEYS[1] the counter; ARGV[1] batches; ARGV[2] its lifetime ms. Counting and the expiry together.
_ENQUEUED = """
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
"""
# KEYS[1] the counter; ARGV[1] batches done. Gone at zero: never a negative count without a TTL
# (the key had expired, or a message ran twice).
_DONE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local v = redis.call('DECRBY', KEYS[1], ARGV[1])
if v <= 0 then redis.call('DEL', KEYS[1]) return 0 end
return v
"""


def key(keys: Keys) -> str:
    return keys.of(*KEY)


def counts(batches: int) -> bool:
    """Whether a start of ``batches`` first batches holds the bulk lane."""
    return batches >= BURST_MIN


def firsts_enqueued(client: redis.Redis, keys: Keys, batches: int) -> int:
    """``batches`` first batches are about to be enqueued, counted (call only when
    :func:`counts`); the counter's life is HOLD_MAX_S again. Returns the new count."""
    return int(run_script(client, _ENQUEUED, [key(keys)], [batches, int(HOLD_MAX_S * 1000)]))


def firsts_done(client: redis.Redis, keys: Keys, batches: int) -> int:
    """A counted message of ``batches`` first batches ended (sent or not). Returns the count
    left."""
    return int(run_script(client, _DONE, [key(keys)], [batches]))


def pending(client: redis.Redis, keys: Keys) -> int:
    """First batches counted and not done (0: the bulk lane runs)."""
    return int(client.get(key(keys)) or 0)


def yielding(client: redis.Redis, keys: Keys, flag_key: str, generation: int) -> tuple[bool, bool]:
    """(hold, still running): whether first batches are pending, and whether the campaign's run
    flag still holds ``generation``, in one round trip, so a held batch stops as soon as its
    campaign is paused, as a gate call would have said."""
    pipe = client.pipeline(transaction=False)
    pipe.get(key(keys))
    pipe.get(flag_key)
    count, flag = pipe.execute()
    running = flag is not None and int(flag) == generation
    return int(count or 0) > 0, running
