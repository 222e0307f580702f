"""The send gate's Redis scripts. Every time is an integer of microseconds of Redis ``TIME``.

Integers up to 2**53 are exact in Lua's doubles (epoch µs is about 1.8e15), so every comparison
below is exact: a gap is never a rounding error short. Lua numbers returned to Redis become
integers; the AIMD factor (a fraction) is returned as a string.

The connection's hash (KEYS[1]) holds: ``g`` the previous grant, ``d`` the previous request's
completion (known when its holder reported it), ``h`` the send token's holder, ``l`` its lease
end, ``u`` the random fraction drawn for the gap after the previous grant, ``n`` sends since the
last long pause, ``f``/``fa`` the AIMD factor and when it was set, ``hu`` held until (a throttle
signal's retry-after), ``tc`` throttle signals seen.
"""

from __future__ import annotations

#: AIMD: the factor's floor and its recovery per second (the values of ``pacing.Pacer``).
MIN_FACTOR = 1 / 64
RECOVERY_PER_S = 0.02
#: The provider cap's window is this much longer than its second (µs): a grant is counted at
#: Redis, a request reaches the provider a wire's time later, and that time varies (a thread
#: waiting for a core, a slow hop), so two grants 1.0 s apart can arrive closer. Measured at the
#: sandbox with two test processes on 2 cores: 26 arrivals inside a second at a cap of 25
#: without it. Costs under 5% of the cap's rate.
CAP_MARGIN_US = 40_000
#: Meta's pair limit: one message per recipient per 6 s on a connection (µs).
PAIR_US = 6_000_000
DAY_US = 86_400_000_000

# Shared by the acquire and state scripts. ARGV[1] holder, ARGV[2] interval µs, ARGV[3] jitter,
# ARGV[4] longerIntervalAfter, ARGV[5] greaterInterval µs, ARGV[6] provider cap (msgs/s),
# ARGV[7] poll µs while another holder's request is on the wire, ARGV[8] how long ago (µs, the
# caller's monotonic clock) the holder's previous request completed.
# Sets: now, f (factor), rate, paced, n, g, base, gap, pausing, holder, h, lease, reported
# (this call is the holder's report of its previous request), cap_full, win_max, and
# until/reason through need().
_CONNECTION = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_at, reason = now, ''
local function need(at, why)
  if at > until_at then until_at, reason = at, why end
end
local st = redis.call('HMGET', KEYS[1], 'g', 'd', 'h', 'l', 'u', 'n', 'f', 'fa', 'hu', 'tc')
local g, d = tonumber(st[1]) or 0, tonumber(st[2]) or 0
local h, lease = st[3] or '', tonumber(st[4]) or 0
local u, n = tonumber(st[5]) or 0.5, tonumber(st[6]) or 0
local f = tonumber(st[7]) or 1
local fa, hold, tc = tonumber(st[8]) or 0, tonumber(st[9]) or 0, tonumber(st[10]) or 0
f = math.min(1, f + (now - fa) * @RECOVERY_PER_US@)
local holder = ARGV[1]
local interval, jitter = tonumber(ARGV[2]), tonumber(ARGV[3])
local long_after, greater = tonumber(ARGV[4]), tonumber(ARGV[5])
local paced = interval > 0
local reported = false
local base, gap, pausing = 0, 0, false
need(hold, 'throttled')
if paced then
  if h ~= '' then
    if h == holder then
      -- Its request completed between its grant and now: ARGV[8] says when.
      d, h, reported = math.max(d, g, now - math.max(0, tonumber(ARGV[8]))), '', true
    elseif now >= lease then
      d, h = math.max(d, lease), ''  -- counted as departed when its lease ended
    end
  end
  gap = math.ceil(interval * (1 - jitter + 2 * jitter * u))
  pausing = long_after > 0 and greater > 0 and n >= long_after
  if pausing then gap = math.max(gap, greater) end
  base = math.max(g, d)
  if h ~= '' then
    -- Another holder's request may still be on the wire: its completion is not known yet.
    need(math.max(g + gap, now + tonumber(ARGV[7])), 'connection busy')
  else
    need(base + gap, pausing and 'long pause' or 'interval')
  end
end
local cap_full = tonumber(ARGV[6])
local rate = cap_full * f
local cap = math.max(1, math.floor(rate))
local win = math.max(1000000, math.ceil(1000000 / rate)) + @CAP_MARGIN_US@
local win_max = math.max(1000000, math.ceil(1000000 / (cap_full * @MIN_FACTOR@))) + @CAP_MARGIN_US@
local prev = redis.call('LINDEX', KEYS[2], cap - 1)
if prev then need(tonumber(prev) + win, 'provider cap') end
"""

# Shared by ACQUIRE and ACQUIRE_MANY, after _CONNECTION: one recipient's rules and one grant's
# writes. ``checks`` raises until_at (through need()) for the pair rule, the daily cap (``daily``
# recipients a day, 0: none; ``since`` the window's start) and the rate limits' GCRA keys
# ``KEYS[first + 1 .. first + nl]`` (their kinds at ARGV[lim + 2 i]); ``departs`` writes the
# departure log (KEYS[2]), the pair key, the daily set and each GCRA key's next time (emission
# interval µs at ARGV[lim - 1 + 2 i]).
_RECIPIENT = """
local function checks(pair, daily_key, recipient, daily, since, first, nl, lim)
  local last_pair = tonumber(redis.call('GET', pair) or false)
  if last_pair then need(last_pair + @PAIR_US@, 'recipient pair') end
  if daily > 0 then
    local seen = tonumber(redis.call('ZSCORE', daily_key, recipient) or false)
    if not (seen and seen > since) then
      local count = redis.call('ZCOUNT', daily_key, '(' .. since, '+inf')
      if count >= daily then
        local z = redis.call('ZRANGEBYSCORE', daily_key, '(' .. since, '+inf', 'WITHSCORES',
          'LIMIT', count - daily, 1)
        need(tonumber(z[2]) + @DAY_US@, 'daily limit')
      end
    end
  end
  for i = 1, nl do
    local tat = tonumber(redis.call('GET', KEYS[first + i]) or false)
    if tat then need(tat, 'rate limit ' .. ARGV[lim + 2 * i]) end
  end
end
local function departs(pair, daily_key, recipient, daily, since, first, nl, lim)
  redis.call('LPUSH', KEYS[2], now)
  redis.call('LTRIM', KEYS[2], 0, math.ceil(cap_full) - 1)
  if cap_full > 1000 then
    -- A high cap (a sandbox's) would keep up to a second of sends: drop the stale ones, at most
    -- two a grant (one is added a grant). Below that, LTRIM alone bounds the log.
    for _ = 1, 2 do
      local oldest = redis.call('LINDEX', KEYS[2], -1)
      if not (oldest and tonumber(oldest) <= now - win_max) then break end
      redis.call('RPOP', KEYS[2])
    end
  end
  redis.call('PEXPIRE', KEYS[2], math.ceil(win_max / 1000) + 1000)
  redis.call('SET', pair, now, 'PX', @PAIR_MS@ + 1000)
  if daily > 0 then
    redis.call('ZADD', daily_key, now, recipient)
    redis.call('ZREMRANGEBYSCORE', daily_key, '-inf', since)
    redis.call('EXPIRE', daily_key, 90000)
  end
  for i = 1, nl do
    local e = tonumber(ARGV[lim - 1 + 2 * i])
    redis.call('SET', KEYS[first + i], now + e, 'PX', math.ceil(e / 1000) + 1000)
  end
end
"""

# KEYS[1] connection hash, KEYS[2] departure log, KEYS[3] the recipient's pair key, KEYS[4] the
# daily recipients (sorted set), KEYS[5] the campaign's run flag, KEYS[6] the batch's rows
# started, KEYS[7] its outcomes list (5-7: any key of the call when ARGV[13] is ''), KEYS[8...]
# one GCRA key per rate limit. After _CONNECTION's ARGV: ARGV[9] the fraction for the next gap's
# jitter, ARGV[10] lease µs, ARGV[11] daily cap, ARGV[12] recipient, ARGV[13] the batch's
# generation ('' : no batch progress), ARGV[14] rows started on a grant, ARGV[15] the progress
# TTL (s), ARGV[16] the number k of outcomes that follow, ARGV[17 .. 16+k] those outcomes, then
# per GCRA key: its emission interval µs and its kind.
# Returns {1, now, sends since the pause, the gap the next send needs}, {0, now, until, reason}
# or {2, now}: the campaign no longer runs in the batch's generation (the token given back).
ACQUIRE = (
    """
local gen, k = ARGV[13], tonumber(ARGV[16])
if gen ~= '' and k > 0 then
  -- The outcomes since the holder's last call, whatever this call answers.
  redis.call('RPUSH', KEYS[7], unpack(ARGV, 17, 16 + k))
  redis.call('EXPIRE', KEYS[7], ARGV[15])
end
local lim = 16 + k
"""
    + _CONNECTION
    + _RECIPIENT
    + """
if gen ~= '' and redis.call('GET', KEYS[5]) ~= gen then
  -- Paused, cancelled or restarted: no grant, and the holder's token goes back now.
  if reported then redis.call('HSET', KEYS[1], 'd', d, 'h', '') end
  return {2, now}
end
local recipient, daily, since = ARGV[12], tonumber(ARGV[11]), now - @DAY_US@
checks(KEYS[3], KEYS[4], recipient, daily, since, 7, #KEYS - 7, lim)
if until_at > now then
  -- Refused: nothing is consumed. Only the caller's report of its own finished request is kept.
  if reported then redis.call('HSET', KEYS[1], 'd', d, 'h', '') end
  return {0, now, until_at, reason}
end
if paced then
  if greater > 0 and now - base >= greater then n = 0 end  -- a pause that long just happened
  n = n + 1
  -- 'd' is left: every reader takes max(g, d), and the new g is later than any d.
  redis.call('HSET', KEYS[1], 'g', now, 'h', holder, 'l', now + tonumber(ARGV[10]),
    'u', ARGV[9], 'n', n)
  gap = math.ceil(interval * (1 - jitter + 2 * jitter * tonumber(ARGV[9])))
  if long_after > 0 and greater > 0 and n >= long_after then gap = math.max(gap, greater) end
  redis.call('EXPIRE', KEYS[1], 86400)
end
departs(KEYS[3], KEYS[4], recipient, daily, since, 7, #KEYS - 7, lim)
if gen ~= '' then redis.call('SET', KEYS[6], ARGV[14], 'EX', ARGV[15]) end
return {1, now, n, gap}
"""
)

# Unpaced batches only (ARGV[2] interval 0, holder ''): the grants of m successive ACQUIREs at
# one instant, in one call. KEYS[1] connection hash, KEYS[2] departure log, KEYS[3] the daily
# recipients, KEYS[4] the run flag, KEYS[5] rows started, KEYS[6] outcomes list, KEYS[7 .. 6+r]
# the recipients' pair keys, then per recipient one GCRA key per rate limit (the same key for
# every recipient but of a ``contact`` rule). After _CONNECTION's ARGV: ARGV[9] daily cap, ARGV[10]
# the batch's generation, ARGV[11] rows started before this call, ARGV[12] the progress TTL (s),
# ARGV[13] r, ARGV[14] k, ARGV[15 .. 14+r] the recipients, ARGV[15+r .. 14+r+k] the outcomes,
# then per rate limit its emission interval µs and its kind.
# Each recipient in turn is checked against the state the previous grants of this call left
# and granted with the writes an ACQUIRE makes, until one is refused: the longest grantable
# prefix, with every key as m single calls would leave it (a duplicate recipient is refused by
# the pair rule, a second send on a shared GCRA key by its tat: burst 1, one send an instant).
# Returns {1, now, m} (m >= 1 rows started), {0, now, until, reason} or {2, now}.
ACQUIRE_MANY = (
    """
local r, k = tonumber(ARGV[13]), tonumber(ARGV[14])
if k > 0 then
  redis.call('RPUSH', KEYS[6], unpack(ARGV, 15 + r, 14 + r + k))
  redis.call('EXPIRE', KEYS[6], ARGV[12])
end
local lim = 14 + r + k
local nl = (#KEYS - 6 - r) / r  -- rate limits
"""
    + _CONNECTION
    + _RECIPIENT
    + """
if redis.call('GET', KEYS[4]) ~= ARGV[10] then return {2, now} end
local daily = tonumber(ARGV[9])
local since = now - @DAY_US@
local granted = 0
for j = 1, r do
  if j > 1 then
    -- The connection's rules again, after this call's own departures (the hold cannot change).
    until_at, reason = now, ''
    prev = redis.call('LINDEX', KEYS[2], cap - 1)
    if prev then need(tonumber(prev) + win, 'provider cap') end
  end
  local recipient, pair = ARGV[14 + j], KEYS[6 + j]
  local first = 6 + r + (j - 1) * nl
  checks(pair, KEYS[3], recipient, daily, since, first, nl, lim)
  if until_at > now then break end
  departs(pair, KEYS[3], recipient, daily, since, first, nl, lim)
  granted = j
end
if granted == 0 then return {0, now, until_at, reason} end
redis.call('SET', KEYS[5], tonumber(ARGV[11]) + granted, 'EX', ARGV[12])
return {1, now, granted}
"""
)

# KEYS and ARGV[1..8] as _CONNECTION (holder ''), KEYS[3] unused, KEYS[4] the daily set.
# Read only. Returns {now, next departure, reason, factor, sends since the pause, holder,
# lease end, previous grant, daily recipients in the window, held until, throttle signals}.
STATE = (
    _CONNECTION
    + """
local daily = redis.call('ZCOUNT', KEYS[4], '(' .. (now - @DAY_US@), '+inf')
return {now, until_at, reason, tostring(f), n, h, lease, g, daily, hold, tc}
"""
)

# KEYS[1] the connection hash; ARGV[1] holder, ARGV[2] how long ago (µs) its request completed:
# the next gap counts from then. Returns 1 when the holder had the token.
RELEASE = """
local st = redis.call('HMGET', KEYS[1], 'h', 'g')
if st[1] ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local d = math.max(tonumber(st[2]) or 0, now - math.max(0, tonumber(ARGV[2])))
redis.call('HSET', KEYS[1], 'd', d, 'h', '')
return 1
"""

# KEYS[1] the connection hash; ARGV[1] retry-after µs (0: one message at the new rate),
# ARGV[2] the provider cap (msgs/s). Halves the factor. Returns {factor, held until}.
THROTTLED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local st = redis.call('HMGET', KEYS[1], 'f', 'fa', 'hu', 'tc')
local f = tonumber(st[1]) or 1
f = math.min(1, f + (now - (tonumber(st[2]) or 0)) * @RECOVERY_PER_US@)
f = math.max(@MIN_FACTOR@, f / 2)
local pause = tonumber(ARGV[1])
if pause <= 0 then pause = math.ceil(1000000 / (tonumber(ARGV[2]) * f)) end
local hold = math.max(tonumber(st[3]) or 0, now + pause)
local tc = (tonumber(st[4]) or 0) + 1
redis.call('HSET', KEYS[1], 'f', tostring(f), 'fa', now, 'hu', hold, 'tc', tc)
redis.call('EXPIRE', KEYS[1], 86400)
return {tostring(f), hold}
"""


def _fill(lua: str) -> str:
    return (
        lua.replace("@RECOVERY_PER_US@", repr(RECOVERY_PER_S / 1e6))
        .replace("@MIN_FACTOR@", repr(MIN_FACTOR))
        .replace("@PAIR_US@", str(PAIR_US))
        .replace("@PAIR_MS@", str(PAIR_US // 1000))
        .replace("@DAY_US@", str(DAY_US))
        .replace("@CAP_MARGIN_US@", str(CAP_MARGIN_US))
    )


ACQUIRE, ACQUIRE_MANY, STATE, RELEASE, THROTTLED = (
    _fill(s) for s in (ACQUIRE, ACQUIRE_MANY, STATE, RELEASE, THROTTLED)
)
