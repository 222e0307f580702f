"""Breakers whose state every process shares: ``whatsapp`` (one per connection), ``campaign``.

One Redis hash per breaker, under the company's hash tag (``{c<id>}``, as the send gate's keys),
written once per batch, never per message: the worker that finishes a batch reports its counts in
one script call (:meth:`Circuits.report`), which updates the connection's and the campaign's
breakers together. Time is Redis ``TIME``, so every process agrees on the window and on when an
open breaker may probe.

``whatsapp``: the failures are transport errors, timeouts (AMBIGUOUS) and 5xx (TRANSIENT); a
per-recipient error (PERMANENT: an invalid number) never counts, nor a 429 (THROTTLE: the
gate's AIMD slows the connection for that). Over a sliding window (``window_s`` in
:data:`BUCKETS` time buckets), at least ``min_calls`` sends and a failure share of at least
``failure_rate`` open it for ``open_s`` seconds: the engine plans nothing for the connection
(:meth:`Circuits.check`, before each planning round) and its campaigns' reports say
``connection failing: <last error>``. Then it is half-open: exactly one planner takes the probe
lease (holder and expiry in the same hash, so two processes never probe at once) and plans one
batch; that batch's report closes the breaker (no failure) or opens it again. A probe whose
holder died lets another go once its lease expires.

``campaign``: the per-recipient failures count (PERMANENT: an invalid number, a rejected
message: a list of dead numbers or a refused text is a campaign to stop), never a transport
failure (that is the connection's breaker's: an outage of the provider holds the connection,
it does not pause every campaign on it) nor a throttle. ``consecutive`` failures in a row, or
``failure_rate`` of failed/(sent + failed) over the run once ``min_calls`` answers are counted,
open it: the engine pauses the campaign (PAUSADA) with the reason in ``pause_reason``, logged.
Its counts belong to one generation of the campaign: a resume or restart starts them over.

Why not pybreaker: its Redis storage resets the failure count on any success in any process and
serializes every call under a lock, one call at a time; here a batch of 50 sends reports once,
and the rate over a window shared by every worker is what decides.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import uuid

import redis

from zapx.campaigns import flags
from zapx.config import Config
from zapx.redis import Keys, run_script, run_scripts

#: Time buckets of the connection breaker's sliding window.
BUCKETS = 6
#: Seconds a breaker's hash outlives its last report (a deleted connection's goes away).
TTL_S = 7 * 86_400
#: Seconds a planner trusts a ``closed`` answer before asking Redis again.
CACHE_S = 1.0

WHATSAPP, CAMPAIGN = "whatsapp", "campaign"


@dataclasses.dataclass(frozen=True, slots=True)
class Thresholds:
    """The breakers' rules (``zapx/config.py``: ``WHATSAPP_BREAKER_*``, ``CAMPAIGN_BREAKER_*``);
    seconds."""

    failure_rate: float = 0.5
    min_calls: int = 20
    window_s: int = 60
    open_s: int = 30
    probe_lease_s: int = 120
    campaign_consecutive: int = 50
    campaign_failure_rate: float = 0.8
    campaign_min_calls: int = 100

    @classmethod
    def from_config(cls, config: Config) -> Thresholds:
        return cls(
            config.whatsapp_breaker_failure_rate,
            config.whatsapp_breaker_min_calls,
            config.whatsapp_breaker_window_s,
            config.whatsapp_breaker_open_s,
            config.batch_lease_s,
            config.campaign_breaker_consecutive,
            config.campaign_breaker_failure_rate,
            config.campaign_breaker_min_calls,
        )


@dataclasses.dataclass(slots=True)
class Health:
    """One batch's counts for the breakers (kept by the worker's sender as it goes)."""

    #: Requests to the provider (every answer but a throttle) and the transport failures.
    calls: int = 0
    failures: int = 0
    error: str = ""
    #: For the campaign: sends and failures (any but a throttle), failures since the last
    #: success in this batch, whether it had one.
    sends: int = 0
    failed: int = 0
    tail: int = 0
    succeeded: bool = False
    campaign_error: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """May the planner plan for a connection: ``allowed``; ``probe``: one batch only, bind it
    with :meth:`Circuits.bind_probe` (``token``); else recheck at ``retry_at`` (epoch s)."""

    allowed: bool
    probe: bool = False
    token: str = ""
    retry_at: float = 0.0
    error: str = ""


def tag(company_id: int) -> str:
    return f"{{c{company_id}}}"


def breaker_key(keys: Keys, company_id: int, name: str, object_id: int) -> str:
    """The breaker's hash (``name``: whatsapp or campaign)."""
    return keys.of(tag(company_id), "breaker", name, object_id)


def index_key(keys: Keys, company_id: int) -> str:
    """The set of the company's breakers (``whatsapp:7``, ``campaign:12``), for the API."""
    return keys.of(tag(company_id), "breakers")


# KEYS: connection hash, campaign hash, company index. ARGV: see Circuits.report.
_REPORT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local calls, fails = tonumber(ARGV[1]), tonumber(ARGV[2])
local nb = tonumber(ARGV[6])
local b = math.floor(now / (tonumber(ARGV[5]) / nb))
redis.call('SADD', KEYS[3], ARGV[18], ARGV[19])
redis.call('EXPIRE', KEYS[3], ARGV[20])
if calls > 0 then
  redis.call('HINCRBY', KEYS[1], 'c' .. b, calls)
  redis.call('HINCRBY', KEYS[1], 'f' .. b, fails)
end
if fails > 0 and ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'last_error', ARGV[3]) end
local h = redis.call('HGETALL', KEYS[1])
local f, wc, wf = {}, 0, 0
for i = 1, #h, 2 do
  local k, v = h[i], h[i + 1]
  f[k] = v
  local kind, n = string.match(k, '^([cf])(%d+)$')
  if kind then
    if tonumber(n) <= b - nb then redis.call('HDEL', KEYS[1], k)
    elseif kind == 'c' then wc = wc + tonumber(v) else wf = wf + tonumber(v) end
  end
end
local function open()
  redis.call('HSET', KEYS[1], 'state', 'open', 'since', now, 'open_until', now + ARGV[9])
  redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
end
local state = f['state'] or 'closed'
if state == 'closed' then
  if wc >= tonumber(ARGV[8]) and wf >= tonumber(ARGV[7]) * wc then open(); state = 'open' end
elseif state == 'half_open' and f['probe'] == ARGV[4] then
  if fails > 0 then open(); state = 'open'
  elseif calls > 0 then
    for k, _ in pairs(f) do
      if string.match(k, '^[cf]%d+$') then redis.call('HDEL', KEYS[1], k) end
    end
    redis.call('HDEL', KEYS[1], 'probe', 'probe_until', 'open_until')
    redis.call('HSET', KEYS[1], 'state', 'closed', 'since', now)
    state = 'closed'
  else
    redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[20])
-- the campaign's breaker: its counts belong to one generation
if redis.call('HGET', KEYS[2], 'gen') ~= ARGV[10] then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'gen', ARGV[10], 'state', 'closed', 'since', now)
end
local sends = redis.call('HINCRBY', KEYS[2], 'calls', ARGV[11])
local failed = redis.call('HINCRBY', KEYS[2], 'failures', ARGV[12])
local run = tonumber(ARGV[13])
if ARGV[14] ~= '1' then run = run + tonumber(redis.call('HGET', KEYS[2], 'consecutive') or '0') end
redis.call('HSET', KEYS[2], 'consecutive', run)
if tonumber(ARGV[12]) > 0 and ARGV[21] ~= '' then
  redis.call('HSET', KEYS[2], 'last_error', ARGV[21])
end
local trip = ''
if redis.call('HGET', KEYS[2], 'state') == 'closed' then
  if run >= tonumber(ARGV[15]) then
    trip = 'campaign breaker: ' .. run .. ' consecutive failures'
  elseif sends >= tonumber(ARGV[17]) and failed >= tonumber(ARGV[16]) * sends then
    trip = 'campaign breaker: ' .. failed .. ' of ' .. sends .. ' sends failed'
  end
  if trip ~= '' then
    redis.call('HSET', KEYS[2], 'state', 'open', 'since', now, 'reason', trip)
  end
end
redis.call('EXPIRE', KEYS[2], ARGV[20])
return {state, trip}
"""

# KEYS[1] the connection's hash; ARGV[1] the would-be probe holder, ARGV[2] its lease (s).
_CHECK = """
local s = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'probe', 'probe_until', 'last_error')
local err = s[5] or ''
if not s[1] or s[1] == 'closed' then return {1, '0', err} end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
if s[1] == 'open' then
  if now < tonumber(s[2]) then return {0, s[2], err} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'since', now)
elseif s[3] and tonumber(s[4]) > now then
  return {0, s[4], err}
end
redis.call('HSET', KEYS[1], 'probe', ARGV[1], 'probe_until', now + ARGV[2])
return {2, tostring(now + ARGV[2]), err}
"""

# KEYS[1] the connection's hash; ARGV[1] the planner's token, ARGV[2] the probe's new holder
# ('' gives the lease back).
_BIND = """
if redis.call('HGET', KEYS[1], 'probe') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
else redis.call('HSET', KEYS[1], 'probe', ARGV[2]) end
return 1
"""


def probe_holder(batch_id: int) -> str:
    """The probe lease's holder once its batch is planned (what the batch's report names)."""
    return f"batch:{batch_id}"


class Circuits:
    """The breakers of every connection and campaign (thread-safe; one per process)."""

    def __init__(self, client: redis.Redis, keys: Keys, thresholds: Thresholds):
        self.redis, self.keys, self.thresholds = client, keys, thresholds
        self._closed_until: dict[tuple[int, int], float] = {}  # monotonic

    def report(
        self,
        company_id: int,
        whatsapp_id: int,
        campaign_id: int,
        generation: int,
        batch_id: int,
        health: Health,
    ) -> tuple[str, str]:
        """A batch's counts, in one script call: the connection breaker's state after it and
        the campaign breaker's reason to pause ('' when it stays closed)."""
        keys, args = self._report_call(
            company_id, whatsapp_id, campaign_id, generation, batch_id, health
        )
        state, trip = run_script(self.redis, _REPORT, keys, args)
        return _text(state), _text(trip)

    def report_many(self, reports: list[tuple[int, int, int, int, int, Health]]) -> list[str]:
        """:meth:`report` of many batches (tuples of its arguments), in one pipeline: each
        campaign breaker's reason to pause ('' when it stays closed), in order."""
        replies = run_scripts(self.redis, _REPORT, [self._report_call(*call) for call in reports])
        return [_text(trip) for _, trip in replies]

    def _report_call(
        self,
        company_id: int,
        whatsapp_id: int,
        campaign_id: int,
        generation: int,
        batch_id: int,
        health: Health,
    ) -> tuple[list, list]:
        t = self.thresholds
        return (
            [
                breaker_key(self.keys, company_id, WHATSAPP, whatsapp_id),
                breaker_key(self.keys, company_id, CAMPAIGN, campaign_id),
                index_key(self.keys, company_id),
            ],
            [
                health.calls,
                health.failures,
                health.error[:500],
                probe_holder(batch_id),
                t.window_s,
                BUCKETS,
                t.failure_rate,
                t.min_calls,
                t.open_s,
                generation,
                health.sends,
                health.failed,
                health.tail,
                "1" if health.succeeded else "0",
                t.campaign_consecutive,
                t.campaign_failure_rate,
                t.campaign_min_calls,
                f"{WHATSAPP}:{whatsapp_id}",
                f"{CAMPAIGN}:{campaign_id}",
                TTL_S,
                health.campaign_error[:500],
            ],
        )

    def check(self, company_id: int, whatsapp_id: int) -> Verdict:
        """Whether a batch may be planned for the connection now (one script call, a closed
        answer trusted for :data:`CACHE_S`). Half-open, the first caller gets the probe."""
        key = (company_id, whatsapp_id)
        if self._closed_until.get(key, 0.0) > time.monotonic():
            return Verdict(True)
        token = f"plan:{uuid.uuid4().hex}"
        allowed, at, error = run_script(
            self.redis,
            _CHECK,
            [breaker_key(self.keys, company_id, WHATSAPP, whatsapp_id)],
            [token, self.thresholds.probe_lease_s],
        )
        allowed = int(allowed)
        if allowed == 1:
            self._closed_until[key] = time.monotonic() + CACHE_S
            return Verdict(True)
        self._closed_until.pop(key, None)
        if allowed == 2:
            return Verdict(True, probe=True, token=token, retry_at=float(_text(at)))
        return Verdict(False, retry_at=float(_text(at)), error=_text(error))

    def hold(
        self, company_id: int, whatsapp_id: int, campaign_ids: list[int], now: float
    ) -> Verdict:
        """:meth:`check`, and when the connection is held its campaigns' reports say
        ``connection failing: <last error>`` until it may probe (``now``: epoch s)."""
        verdict = self.check(company_id, whatsapp_id)
        if not verdict.allowed:
            reason = "connection failing" + (f": {verdict.error}" if verdict.error else "")
            for campaign_id in campaign_ids:
                flags.note_waiting(
                    self.redis, self.keys, campaign_id, reason, max(1.0, verdict.retry_at - now)
                )
        return verdict

    def bind_probe(self, company_id: int, whatsapp_id: int, token: str, batch_id: int | None):
        """The probe lease taken with ``token`` now belongs to ``batch_id`` (its report closes
        or re-opens the breaker); None gives the lease back (nothing was planned)."""
        run_script(
            self.redis,
            _BIND,
            [breaker_key(self.keys, company_id, WHATSAPP, whatsapp_id)],
            [token, probe_holder(batch_id) if batch_id is not None else ""],
        )

    def listing(self, company_ids: list[int]) -> list[dict]:
        """``GET /breakers``: every breaker of those companies, as the API shows it."""
        now = float(self.redis.time()[0])
        pipe = self.redis.pipeline(transaction=False)
        for company_id in company_ids:
            pipe.smembers(index_key(self.keys, company_id))
        names = [
            (company_id, _text(m))
            for company_id, members in zip(company_ids, pipe.execute(), strict=True)
            for m in members
        ]
        names.sort(key=lambda n: (n[0], n[1].split(":")[0], int(n[1].split(":")[1])))
        for company_id, member in names:
            name, object_id = member.split(":")
            pipe.hgetall(breaker_key(self.keys, company_id, name, int(object_id)))
        out = []
        for (company_id, member), raw in zip(names, pipe.execute(), strict=True):
            if raw:
                name, object_id = member.split(":")
                out.append(_shown(name, int(object_id), company_id, _decoded(raw), now, self))
        return out


def _shown(name: str, object_id: int, company_id: int, h: dict, now: float, c: Circuits) -> dict:
    state = h.get("state", "closed")
    if name == WHATSAPP:
        oldest = int(now // (c.thresholds.window_s / BUCKETS)) - BUCKETS
        calls = failures = 0
        for k, v in h.items():
            if k[:1] in "cf" and k[1:].isdigit() and int(k[1:]) > oldest:
                if k[0] == "c":
                    calls += int(v)
                else:
                    failures += int(v)
        if state == "open" and float(h.get("open_until", 0)) <= now:
            state = "half_open"  # the next planner takes the probe
    else:
        calls, failures = int(h.get("calls", 0)), int(h.get("failures", 0))
    since = float(h["since"]) if "since" in h else None
    return {
        "name": name,
        "id": object_id,
        "companyId": company_id,
        "state": state,
        "calls": calls,
        "failures": failures,
        "failureRate": round(failures / calls, 4) if calls else 0.0,
        "since": (
            datetime.datetime.fromtimestamp(since, datetime.UTC).isoformat() if since else None
        ),
        "lastError": h.get("last_error"),
        "reason": h.get("reason"),
    }


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decoded(raw: dict) -> dict:
    return {_text(k): _text(v) for k, v in raw.items()}
