"""Circuit breakers: closed, open, half-open, over a failure rate with a minimum of calls.

A breaker counts the outcomes of the calls to one dependency. **Closed**, every call goes; it
opens when, over the last ``window_s`` seconds, at least ``min_calls`` calls were counted and
``failure_rate`` of them failed, or when ``consecutive`` calls in a row failed (0: that rule off).
**Open**, every call is refused at once (:class:`BreakerOpen`, with the seconds until the next
probe) for ``open_s`` seconds, doubled at each failed probe up to ``max_open_s``: a dependency
that stays down is tried less and less often. **Half-open**, exactly one call, the probe, may go
(a lease of ``probe_lease_s``: a probe that never reports does not hold the breaker forever); its
success closes the breaker, its failure opens it again.

Outcomes are counted in bulk (``record(successes, failures)``), so one record can stand for a
batch of 50 sends as well as for one query. The window is a sliding-window counter: the counts of
the current fixed window plus the previous window's weighted by how much of it still overlaps
the last ``window_s`` seconds. Its whole state is a handful of numbers (:class:`BreakerState`,
``to_fields``/``from_fields``), so a breaker shared by every process can keep it in one Redis
hash and apply the same rules; :class:`Breaker` keeps it in this process, under a lock.

Why not pybreaker: its Redis storage resets the failure count on any success in any process
(a count of consecutive failures, no rate: one process's success hides another's outage), it
has no minimum of calls nor window, and it runs each call under a lock the breaker holds, so
threads would queue behind one another's calls; neither fits outcomes counted a batch at a time.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import threading
import time
from collections.abc import Callable

from zapx.errors import Unavailable


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclasses.dataclass(frozen=True)
class Policy:
    """When a breaker opens and for how long. Durations in seconds."""

    #: Seconds of outcomes the failure rate is computed over.
    window_s: float = 10.0
    #: Calls the window must hold before its failure rate can open the breaker.
    min_calls: int = 3
    #: Fraction (0-1] of the window's calls that, failed, opens the breaker.
    failure_rate: float = 0.5
    #: Failures in a row that open the breaker whatever the window holds (0: off).
    consecutive: int = 3
    #: Seconds the breaker stays open the first time; doubled at each failed probe...
    open_s: float = 2.0
    #: ...up to this many seconds.
    max_open_s: float = 15.0
    #: Seconds a half-open probe may take before another call may probe instead.
    probe_lease_s: float = 30.0

    def open_for(self, opens: int) -> float:
        """Seconds of the ``opens``-th opening in a row (0 the first)."""
        return min(self.open_s * 2 ** min(opens, 32), max(self.max_open_s, self.open_s))


class BreakerOpen(Unavailable):
    """The breaker refuses calls for now; ``retry_after_s`` until it lets a probe through."""

    def __init__(self, breaker: str, retry_after_s: float):
        super().__init__(
            f"{breaker} is unavailable (circuit breaker open); try again in "
            f"{max(1, math.ceil(retry_after_s))} s"
        )
        self.breaker = breaker
        self.retry_after_s = retry_after_s


#: What :meth:`BreakerState.admit` says of a call.
ALLOW, PROBE, DENY = "allow", "probe", "deny"


@dataclasses.dataclass
class BreakerState:
    """A breaker's whole state, and the rules that change it (``now`` in epoch seconds)."""

    state: State = State.CLOSED
    #: When the breaker entered ``state``.
    since: float = 0.0
    #: Open: when a probe may go.
    open_until: float = 0.0
    #: Openings since it was last closed (the next open lasts ``Policy.open_for(opens)``).
    opens: int = 0
    window_start: float = 0.0
    successes: int = 0
    failures: int = 0
    prev_successes: int = 0
    prev_failures: int = 0
    consecutive: int = 0
    #: Half-open: until when the probe that went holds its lease (0: none out).
    probe_until: float = 0.0
    last_error: str = ""

    def admit(self, policy: Policy, now: float) -> str:
        """ALLOW (closed), PROBE (this call is the half-open probe) or DENY."""
        if self.state is State.CLOSED:
            return ALLOW
        if self.state is State.OPEN:
            if now < self.open_until:
                return DENY
            self.state, self.since = State.HALF_OPEN, now
        if self.probe_until > now:
            return DENY
        self.probe_until = now + policy.probe_lease_s
        return PROBE

    def refuses(self, now: float) -> bool:
        """Whether a call would be refused now (without taking a probe's lease)."""
        if self.state is State.CLOSED:
            return False
        if self.state is State.OPEN:
            return now < self.open_until
        return self.probe_until > now

    def record(
        self,
        policy: Policy,
        now: float,
        successes: int = 0,
        failures: int = 0,
        *,
        probe: bool = False,
        error: str = "",
    ) -> None:
        """Count outcomes. Only the probe's counts while half-open; late outcomes of calls
        made before the breaker opened are dropped."""
        if failures and error:
            self.last_error = error[:300]
        if self.state is not State.CLOSED:
            if probe and self.state is State.HALF_OPEN:
                if failures:
                    self._open(policy, now)
                else:
                    self._close(now)
            return
        self._roll(policy.window_s, now)
        self.successes += successes
        self.failures += failures
        # A batch with any success ends the run of failures (their order is not known).
        self.consecutive = failures if successes else self.consecutive + failures
        if failures and self._trips(policy, now):
            self._open(policy, now)

    def window(self, policy: Policy, now: float) -> tuple[float, float]:
        """(calls, failures) over the last ``window_s`` seconds, the previous window weighted."""
        elapsed = now - self.window_start
        if elapsed >= 2 * policy.window_s:
            return 0.0, 0.0
        if elapsed >= policy.window_s:
            weight = max(0.0, 2 - elapsed / policy.window_s)
            return (self.successes + self.failures) * weight, self.failures * weight
        weight = max(0.0, 1 - elapsed / policy.window_s)
        calls = self.successes + self.failures + weight * (self.prev_successes + self.prev_failures)
        return calls, self.failures + weight * self.prev_failures

    def retry_after_s(self, now: float) -> float:
        if self.state is State.OPEN:
            return max(0.0, self.open_until - now)
        if self.state is State.HALF_OPEN:
            return max(0.0, self.probe_until - now)
        return 0.0

    def to_fields(self) -> dict[str, str]:
        """The state as text fields (a Redis hash)."""
        return {f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_fields(cls, fields: dict) -> BreakerState:
        """The inverse of :meth:`to_fields` (bytes or text; missing fields take defaults)."""
        out = cls()
        for f in dataclasses.fields(cls):
            raw = fields.get(f.name, fields.get(f.name.encode()))
            if raw is None:
                continue
            raw = raw.decode() if isinstance(raw, bytes) else str(raw)
            default = getattr(out, f.name)
            if isinstance(default, State):
                value = State(raw)
            elif isinstance(default, str):
                value = raw
            else:
                value = int(float(raw)) if isinstance(default, int) else float(raw)
            setattr(out, f.name, value)
        return out

    # --- internals ------------------------------------------------------------------------

    def _roll(self, window_s: float, now: float) -> None:
        elapsed = now - self.window_start
        if elapsed < window_s:
            return
        if elapsed < 2 * window_s:
            self.prev_successes, self.prev_failures = self.successes, self.failures
            self.window_start += window_s
        else:
            self.prev_successes = self.prev_failures = 0
            self.window_start = now
        self.successes = self.failures = 0

    def _trips(self, policy: Policy, now: float) -> bool:
        if policy.consecutive and self.consecutive >= policy.consecutive:
            return True
        calls, failed = self.window(policy, now)
        return calls >= policy.min_calls and failed >= policy.failure_rate * calls

    def _open(self, policy: Policy, now: float) -> None:
        self.state, self.since = State.OPEN, now
        self.open_until = now + policy.open_for(self.opens)
        self.opens += 1
        self.probe_until = 0.0
        self._forget_counts(now)

    def _close(self, now: float) -> None:
        self.state, self.since = State.CLOSED, now
        self.opens, self.open_until, self.probe_until = 0, 0.0, 0.0
        self._forget_counts(now)

    def _forget_counts(self, now: float) -> None:
        self.window_start = now
        self.successes = self.failures = self.prev_successes = self.prev_failures = 0
        self.consecutive = 0


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What a breaker shows (logs, metrics, the API): counts over its window."""

    name: str
    state: State
    since: float
    calls: int
    failures: int
    consecutive: int
    retry_after_s: float
    last_error: str


#: ``on_change(breaker, old state, new state)``, called outside the breaker's lock.
OnChange = Callable[["Breaker", State, State], None]


class Breaker:
    """A breaker whose state lives in this process, shared by its threads.

    ``before()`` is asked before a call (it raises ``refuse`` when the breaker is open, and
    says whether the call is the half-open probe), ``record()`` is told its outcome. Closed, the
    question costs an attribute read; a record takes the lock for a few additions.
    """

    def __init__(
        self,
        name: str,
        policy: Policy | None = None,
        *,
        refuse: type[BreakerOpen] = BreakerOpen,
        on_change: OnChange | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.name = name
        self.policy = policy or Policy()
        self.refuse = refuse
        self.on_change = on_change
        self.clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState(since=clock(), window_start=clock())

    @property
    def state(self) -> State:
        """The state now (an open breaker whose time is up shows half-open)."""
        with self._lock:
            s = self._state
            if s.state is State.OPEN and self.clock() >= s.open_until:
                return State.HALF_OPEN
            return s.state

    def before(self) -> bool:
        """Let a call go, or raise ``refuse``; True when the call is the half-open probe
        (then its outcome must be recorded with ``probe=True``)."""
        if self._state.state is State.CLOSED:  # the common case, without the lock
            return False
        with self._lock:
            old = self._state.state
            now = self.clock()
            verdict = self._state.admit(self.policy, now)
            new = self._state.state
            retry_after = self._state.retry_after_s(now)
        self._changed(old, new)
        if verdict == DENY:
            raise self.refuse(self.name, retry_after)
        return verdict == PROBE

    def refuses(self) -> bool:
        """Whether a call would be refused now (takes no probe lease)."""
        if self._state.state is State.CLOSED:
            return False
        with self._lock:
            return self._state.refuses(self.clock())

    def record(
        self,
        successes: int = 0,
        failures: int = 0,
        *,
        probe: bool = False,
        error: BaseException | str | None = None,
    ) -> None:
        text = error if isinstance(error, str) else ""
        if isinstance(error, BaseException):
            text = f"{type(error).__name__}: {error}".strip()
        with self._lock:
            old = self._state.state
            self._state.record(
                self.policy, self.clock(), successes, failures, probe=probe, error=text
            )
            new = self._state.state
        self._changed(old, new)

    def success(self, *, probe: bool = False) -> None:
        self.record(successes=1, probe=probe)

    def failure(self, error: BaseException | str | None = None, *, probe: bool = False) -> None:
        self.record(failures=1, probe=probe, error=error)

    def retry_after_s(self) -> float:
        """Seconds until the breaker lets a probe through (0 when closed)."""
        with self._lock:
            return self._state.retry_after_s(self.clock())

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self.clock()
            s = self._state
            calls, failed = s.window(self.policy, now)
            state = s.state
            if state is State.OPEN and now >= s.open_until:
                state = State.HALF_OPEN
            return Snapshot(
                self.name,
                state,
                s.since,
                math.ceil(calls),
                math.ceil(failed),
                s.consecutive,
                s.retry_after_s(now),
                s.last_error,
            )

    def reset(self) -> None:
        """Closed with nothing counted (tests; and a forked child starting afresh)."""
        self._lock = threading.Lock()
        now = self.clock()
        self._state = BreakerState(since=now, window_start=now)

    def _changed(self, old: State, new: State) -> None:
        if old is not new and self.on_change is not None:
            self.on_change(self, old, new)
