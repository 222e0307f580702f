"""The send gate: one Redis script call, made right before a request leaves, says *now* or *wait*.

Every rule of a connection's schedule is checked and, on a grant, recorded atomically in one
script call (``EVALSHA`` on the thread's own connection), with time from Redis ``TIME`` only:
whatever worker, process or host sends, there is one clock and one truth per connection.

The rules (times in seconds; in Redis they are integer microseconds, so comparisons are exact):

1. **Gap.** Paced connections (``message_interval_s > 0``): a send is granted only when
   ``now >= max(g_prev, d_prev) + gap``, where ``g_prev`` is the previous grant, ``d_prev`` the
   previous request's completion, and ``gap = interval * (1 - jitter + 2 * jitter * u)``
   rounded up to the microsecond, ``u`` in [0, 1) the random fraction *passed in by the caller
   that was granted the previous send* (drawn at that grant, stored, so polling does not redraw
   it; Lua's ``math.random`` is not used because older Redis seeds it the same on every call).
   So ``gap >= interval * (1 - jitter)`` always.

   A grant hands the connection's send token to ``holder`` (one sending thread: a batch). The
   token is given back by the holder's next :meth:`SendGate.acquire` (its previous request has
   completed), by :meth:`SendGate.release` at the end of a batch, or by its lease running out
   (``lease_s``, 30 s, counted as completed then; the worker's send timeouts must be shorter).
   Both calls say how long ago the request completed (``completed_ago_s``, a duration on the
   caller's monotonic clock, so no clock of the caller's is read): ``d_prev = max(g_prev,
   now - completed_ago_s)`` with ``now`` taken in Redis after the caller measured, hence never
   before the real completion. So a holder that sleeps ``Grant.next_gap_s`` after its answer
   and then acquires is granted in that one call. While another holder has the token, an acquire
   waits ("connection busy"). Why this holds *at the receiving server*: request ``k`` reaches
   the server at ``a_k`` with ``g_k <= a_k <= d_k`` (it leaves after its grant and arrives
   before its answer completes), and ``g_{k+1} >= d_k + gap_k``, so
   ``a_{k+1} - a_k >= g_{k+1} - d_k >= gap_k``, whatever each request's delay in the client.
   Calls: one per send, plus one release per batch.

2. **Long pause.** ``n`` counts paced grants since the last pause (in Redis). Once
   ``n >= longer_interval_after``, the next gap is ``max(gap, greater_interval_s)``. A grant
   whose gap from ``max(g_prev, d_prev)`` was already ``>= greater_interval_s`` (forced or idle)
   restarts the count at 1. Unpaced connections take no pause (as ``pacing.Pacer``).

3. **Provider cap.** With the AIMD factor ``f`` (:meth:`SendGate.throttled` halves it, at
   least 1/64; it recovers by 0.02 a second), ``rate = max_per_s * f``, ``c = max(1,
   floor(rate))`` and ``W = max(1, 1 / rate) + 0.04`` s: a send is granted only when the
   ``c``-th most recent previous departure is at least ``W`` old (a log of departures, newest
   first). So every window of ``W`` seconds holds at most ``c`` sends: at most ``max_per_s`` in
   *every* one-second window, not on average, at the provider too while the grant-to-arrival
   time varies by under 40 ms (``_lua.CAP_MARGIN_US``). A throttle's retry-after holds every
   sender of the connection.

4. **Pair.** One message per recipient per 6 s on the connection (Meta's pair rate limit).

5. **Daily.** ``daily_cap > 0``: at most that many distinct recipients have a message in any
   rolling 24 h (a recipient already in the window costs nothing). Past it: Wait, reason
   ``"daily limit"``, until the oldest recipient needed leaves the window.

6. **Rate limits.** Each rule (``kind``, ``limit``, ``period_s``) is a GCRA with burst 1 (the
   design of go-redis/redis_rate with ``tau = 0``): emission interval ``e = ceil(period_s /
   limit)`` µs, a send granted only when ``now >= tat``, then ``tat = now + e``. So any
   half-open window of ``period_s`` holds at most ``limit`` sends (a burst ``b`` would let
   ``b - 1`` more in). ``whatsapp`` keys per connection, ``contact`` per recipient,
   ``campaign`` per campaign, ``global`` per company. A hit is a Wait with the exact time.

7. **A Wait consumes nothing**: no rule's state changes. The only write a refused call makes is
   the caller's own report that its previous request finished (which a release would write).
   ``Wait.until_s`` is the latest time any refusing rule gives, so it is when all of them pass if
   nothing else is sent meanwhile. :func:`backoff_s` spreads repeated rate-limit hits. (A
   batch's call also appends its outcomes to the batch's progress, whatever it answers.)

8. **Only a running batch is granted.** A call with a batch's :class:`Progress` is
   :class:`Stopped` unless the campaign's run flag holds the batch's generation, and gives the
   holder's token back; a grant records the batch's rows started. The check and the grant are
   one step, so a pause or cancel stops a batch within the message on the wire, and no grant is
   spent on a message that never leaves.

9. **Many at once (unpaced).** :meth:`SendGate.acquire_many` grants the longest prefix of a
   batch's next recipients that may all leave now: its one call makes exactly the checks and
   writes of that many successive :meth:`SendGate.acquire` calls at one Redis instant (each
   recipient checked against the departures, pair keys and daily recipients the ones before it
   left), so every rule above holds as it does for single calls. A rate-limit key shared by
   the recipients (``whatsapp``, ``campaign``, ``global``) lets one of them through: its GCRA
   has burst 1, one send an instant; ``contact`` keys are each recipient's own.

Every key of one call carries the company's hash tag (``<prefix>{c<company_id>}:...``), so the
script also runs on Redis Cluster.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

import redis

from zapx.redis import Keys, run_script, run_scripts
from zapx.schedule import _lua
from zapx.schedule._types import (
    KINDS,
    GateState,
    Grant,
    GrantMany,
    Progress,
    Rule,
    Settings,
    Stopped,
    Wait,
)


def _us(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)


def _floor_us(seconds: float) -> int:
    """A duration rounded down: a completion is never counted earlier than it was."""
    return max(0, math.floor(seconds * 1_000_000))


def _s(us) -> float:
    return int(us) / 1e6


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SendGate:
    """The schedule of every connection, in Redis. Thread-safe; one per process is enough.

    Parameters: ``lease_s`` how long a send token is held at most (longer than a request's send
    timeouts); ``busy_poll_s`` how soon to look again while another holder's request is on the
    wire; ``rng`` draws the jitter fractions.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        lease_s: float = 30.0,
        busy_poll_s: float = 0.01,
        rng: random.Random | None = None,
    ):
        self.client = client
        self.keys = keys
        self.lease_us = _us(lease_s)
        self.busy_poll_us = _us(busy_poll_s)
        self.rng = rng or random.Random()
        self._key_cache: dict[tuple[int, int], tuple[str, str, str, str]] = {}

    def _conn_keys(self, company_id: int, whatsapp_id: int) -> tuple[str, str, str, str]:
        """(hash, departure log, daily recipients, pair key prefix) of a connection."""
        found = self._key_cache.get((company_id, whatsapp_id))
        if found is None:
            if len(self._key_cache) > 10_000:
                self._key_cache.clear()
            tag = f"{{c{company_id}}}"
            found = self._key_cache[(company_id, whatsapp_id)] = (
                self.keys.of(tag, "wa", whatsapp_id, "gate"),
                self.keys.of(tag, "wa", whatsapp_id, "log"),
                self.keys.of(tag, "wa", whatsapp_id, "daily"),
                self.keys.of(tag, "wa", whatsapp_id, "pair", ""),
            )
        return found

    def _conn_args(self, holder: str, s: Settings, poll_us: int, ago_s: float) -> list:
        return [
            holder,
            _us(s.message_interval_s),
            repr(float(s.jitter)),
            int(s.longer_interval_after or 0),
            _us(s.greater_interval_s or 0),
            repr(float(s.max_per_s)),
            poll_us,
            _floor_us(ago_s),
        ]

    def acquire(
        self,
        whatsapp_id: int,
        company_id: int,
        campaign_id: int,
        recipient: str,
        settings: Settings,
        limits: Iterable[Rule] = (),
        holder: str = "",
        completed_ago_s: float = 0.0,
        progress: Progress | None = None,
        started: int = 0,
        outcomes: Sequence[str] = (),
    ) -> Grant | Wait | Stopped:
        """Whether a message to ``recipient`` may leave on the connection now (module docstring).

        ``holder`` names the sending thread (e.g. ``"batch:42"``); paced connections need it, and
        one holder must never send two requests at once. ``completed_ago_s``: seconds since the
        holder's previous request completed (0, the default, is always safe). After a Grant,
        send at once.

        With ``progress`` (a batch's), the same call first appends ``outcomes`` (encoded, the
        rows done since the batch's last call) to the batch's progress, whatever it answers; it
        is :class:`Stopped` when the run flag no longer holds the batch's generation; and a Grant
        records ``started`` as the batch's rows started. So the check that the campaign runs and
        the grant are one atomic step: a pause can never leave a grant spent on a message that
        does not leave (its recipient then held 6 s by the pair rule, its slot by the gap).
        """
        s = settings
        if s.message_interval_s > 0 and not holder:
            raise ValueError("a paced send needs a holder")
        if s.max_per_s <= 0:
            raise ValueError("max_per_s must be positive")
        gate, log, daily, pair = self._conn_keys(company_id, whatsapp_id)
        keys = [gate, log, pair + recipient, daily]
        args = self._conn_args(holder, s, self.busy_poll_us, completed_ago_s)
        args += [repr(self.rng.random()), self.lease_us, int(s.daily_cap or 0), recipient]
        if progress is None:
            keys += [gate, gate, gate]
            args += ["", 0, 0, 0]
        else:
            keys += [progress.flag_key, progress.started_key, progress.outcomes_key]
            args += [progress.generation, started, progress.ttl_s, len(outcomes), *outcomes]
        for rule in limits:
            keys.append(self._limit_key(company_id, rule, whatsapp_id, campaign_id, recipient))
            args += [math.ceil(rule.period_s * 1_000_000 / rule.limit), rule.kind]
        reply = run_script(self.client, _lua.ACQUIRE, keys, args)
        if reply[0] == 1:
            return Grant(_s(reply[1]), int(reply[2]), _s(reply[3]))
        if reply[0] == 2:
            return Stopped(_s(reply[1]))
        now, until = int(reply[1]), int(reply[2])
        return Wait(until / 1e6, (until - now) / 1e6, _str(reply[3]))

    def acquire_many(
        self,
        whatsapp_id: int,
        company_id: int,
        campaign_id: int,
        recipients: Sequence[str],
        settings: Settings,
        limits: Iterable[Rule],
        progress: Progress,
        started_before: int,
        outcomes: Sequence[str] = (),
    ) -> GrantMany | Wait | Stopped:
        """How many of ``recipients`` (the batch's next rows, in order) may leave now, in one
        script call: unpaced connections only (``message_interval_s == 0``, no send token).

        As :meth:`acquire` with ``progress``: ``outcomes`` are appended to the batch's progress
        whatever it answers, :class:`Stopped` when the run flag no longer holds the batch's
        generation; a :class:`GrantMany` of ``count`` rows records ``started_before + count``
        rows started and leaves every rule's state as ``count`` successive grants would. A
        :class:`Wait` (the first recipient refused) consumes nothing."""
        keys, args = self._many_call(
            whatsapp_id,
            company_id,
            campaign_id,
            recipients,
            settings,
            limits,
            progress,
            started_before,
            outcomes,
        )
        return self._many_answer(run_script(self.client, _lua.ACQUIRE_MANY, keys, args))

    def acquire_many_each(self, calls: Sequence[tuple]) -> list[GrantMany | Wait | Stopped]:
        """:meth:`acquire_many` for each of ``calls`` (tuples of its arguments, in its order),
        in one pipeline: one round trip for many batches (a chunk of first batches, each its
        own call, so each its own grant, run flag check and progress). The answers in order.
        A Redis failure raises (some calls may have run: their rows count as started, which
        costs nothing when the caller sends none of them and records the batches itself)."""
        replies = run_scripts(
            self.client, _lua.ACQUIRE_MANY, [self._many_call(*call) for call in calls]
        )
        return [self._many_answer(reply) for reply in replies]

    def _many_call(
        self,
        whatsapp_id: int,
        company_id: int,
        campaign_id: int,
        recipients: Sequence[str],
        settings: Settings,
        limits: Iterable[Rule],
        progress: Progress,
        started_before: int,
        outcomes: Sequence[str] = (),
    ) -> tuple[list, list]:
        """The keys and arguments of one ``ACQUIRE_MANY`` call."""
        s = settings
        if s.message_interval_s > 0:
            raise ValueError("acquire_many is for unpaced connections")
        if s.max_per_s <= 0:
            raise ValueError("max_per_s must be positive")
        if not recipients:
            raise ValueError("no recipients")
        limits = list(limits)
        gate, log, daily, pair = self._conn_keys(company_id, whatsapp_id)
        keys = [gate, log, daily, progress.flag_key, progress.started_key, progress.outcomes_key]
        keys += [pair + r for r in recipients]
        args = self._conn_args("", s, 0, 0.0)
        args += [int(s.daily_cap or 0), progress.generation, started_before, progress.ttl_s]
        args += [len(recipients), len(outcomes), *recipients, *outcomes]
        for r in recipients:
            keys += [self._limit_key(company_id, x, whatsapp_id, campaign_id, r) for x in limits]
        for rule in limits:
            args += [math.ceil(rule.period_s * 1_000_000 / rule.limit), rule.kind]
        return keys, args

    @staticmethod
    def _many_answer(reply) -> GrantMany | Wait | Stopped:
        if reply[0] == 1:
            return GrantMany(_s(reply[1]), int(reply[2]))
        if reply[0] == 2:
            return Stopped(_s(reply[1]))
        now, until = int(reply[1]), int(reply[2])
        return Wait(until / 1e6, (until - now) / 1e6, _str(reply[3]))

    def _limit_key(self, company_id, rule: Rule, whatsapp_id, campaign_id, recipient) -> str:
        if rule.limit <= 0 or rule.period_s <= 0:
            raise ValueError(f"rate limit {rule.kind}: limit and period_s must be positive")
        scope = {
            "whatsapp": whatsapp_id,
            "contact": recipient,
            "campaign": campaign_id,
            "global": "all",
        }.get(rule.kind)
        if scope is None:
            raise ValueError(f"unknown rate limit kind {rule.kind!r} (one of {KINDS})")
        # The rule's numbers are in the key: a changed rule starts from a fresh state.
        return self.keys.of(
            f"{{c{company_id}}}", "rl", rule.kind, scope, f"{rule.limit}/{rule.period_s!r}"
        )

    def release(
        self, whatsapp_id: int, company_id: int, holder: str, completed_ago_s: float = 0.0
    ) -> bool:
        """``holder``'s last request completed ``completed_ago_s`` seconds ago (the end of a
        batch): the connection's next gap counts from then. True when it held the token (a no-op
        otherwise, so always safe)."""
        gate = self._conn_keys(company_id, whatsapp_id)[0]
        ago = _floor_us(completed_ago_s)
        return bool(run_script(self.client, _lua.RELEASE, [gate], [holder, ago]))

    def throttled(
        self,
        whatsapp_id: int,
        company_id: int,
        retry_after_s: float | None = None,
        *,
        max_per_s: float = 80.0,
    ) -> float:
        """A throttle signal (HTTP 429, Cloud API 130429/131056): halve the connection's rate
        for every sender, and hold them all for ``retry_after_s`` (default: one message at the
        new rate). Returns the new factor."""
        gate = self._conn_keys(company_id, whatsapp_id)[0]
        reply = run_script(
            self.client, _lua.THROTTLED, [gate], [_us(retry_after_s or 0), repr(float(max_per_s))]
        )
        return float(_str(reply[0]))

    def state(self, whatsapp_id: int, company_id: int, settings: Settings) -> GateState:
        """The connection's schedule as the gate sees it now (read only)."""
        gate, log, daily, _ = self._conn_keys(company_id, whatsapp_id)
        args = self._conn_args("", settings, 0, 0.0)
        r = run_script(self.client, _lua.STATE, [gate, log, gate, daily], args)
        factor = float(_str(r[3]))
        lease, last, hold = int(r[6]), int(r[7]), int(r[9])
        return GateState(
            now_s=_s(r[0]),
            rate_per_s=settings.max_per_s * factor,
            throttle_factor=factor,
            next_departure_s=_s(r[1]),
            waiting_because=_str(r[2]),
            last_departure_s=_s(last) if last else None,
            daily_sent=int(r[8]),
            daily_cap=int(settings.daily_cap or 0),
            sends_since_pause=int(r[4]),
            longer_interval_after=int(settings.longer_interval_after or 0),
            holder=_str(r[5]),
            lease_until_s=_s(lease) if lease and _str(r[5]) else None,
            throttled_until_s=_s(hold) if hold > int(r[0]) else None,
            throttle_signals=int(r[10]),
        )
