"""The engine's contracts: every command it takes, a batch's report and outcomes, first batches.

Frozen dataclasses, so a message cannot change in flight between threads (Pykka does not copy
messages). They cross a process only through the Dramatiq queues, as plain dicts: ``to_dict``
and ``from_dict`` are called there (``actors.inbox``) and nowhere else.
"""

from __future__ import annotations

import dataclasses
import enum


class Stop(enum.StrEnum):
    """Why a batch ended before its last row (its report's ``stop``; None: it ran to the end)."""

    #: The provider asked us to slow down (429, 130429, 131056...): the connection's rate drops.
    THROTTLE = "throttle"
    #: The provider refused the credentials: the connection is lost, its campaigns pause.
    AUTH = "auth"
    #: Cloud API 131048, spam rate limit: the campaign pauses at once (``error`` says why).
    SPAM = "spam"
    #: The campaign no longer runs in the batch's generation (paused, cancelled, restarted).
    STOPPED = "stopped"
    #: The batch's lease was about to end: the engine may finish it from its progress.
    LEASE = "lease"
    #: The send gate said wait longer than a batch should (a daily limit, a long rate-limit
    #: wait, past the batch's deadline): the rows not sent are pending again, due when the gate
    #: allows (``retry_after_s`` from now; ``error`` the gate's reason).
    WAIT = "wait"


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one shipping row in a batch (``batches.finish_batch``).

    ``status`` is the row's next status (``sent``, ``awaiting``, ``failed``, ``unknown``,
    ``pending``) or ``throttled`` (pending again without using an attempt); ``delay_s`` is the
    retry delay of a row going back to pending, seconds.
    """

    row_id: int
    status: str
    message_id: str | None = None
    error: str | None = None
    text: str | None = None
    delay_s: float = 0.0

    def as_list(self) -> list:
        """The fields in order (the batch's progress in Redis keeps outcomes as JSON arrays)."""
        return [self.row_id, self.status, self.message_id, self.error, self.text, self.delay_s]


@dataclasses.dataclass(frozen=True, slots=True)
class CampaignChanged:
    """A campaign's row changed (a command, an edit, a reply, a lease expiry): act on it."""

    company_id: int
    campaign_id: int


@dataclasses.dataclass(frozen=True, slots=True)
class BatchReport:
    """A worker finished a batch (``batch_done``): its counts, and why it stopped early."""

    company_id: int
    campaign_id: int
    whatsapp_id: int
    batch_id: int
    generation: int
    stop: Stop | None = None
    #: Seconds the provider asked us to wait (a throttle), when it said.
    retry_after_s: float | None = None
    #: The last outcome's error (what an ``auth`` stop pauses the campaigns with).
    error: str | None = None
    #: The campaign breaker tripped on this batch (``zapx.circuits``): the reason to pause.
    breaker: str | None = None
    sent: int = 0
    retry: int = 0
    failed: int = 0
    unknown: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Tick:
    """The clock: scheduled starts, due wake-ups, the sweeps (told every ``Clock.TICK_S``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Ping:
    """A liveness probe; the engine stores ``token`` in Redis for 300 s (``zapx check``)."""

    token: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class FirstBatch:
    """A campaign's first batch, planned in bulk at its start (``starts.plan_first_batches``)."""

    company_id: int
    campaign_id: int
    generation: int
    batch_id: int
    rows: int


#: What the engine's queue carries.
Command = CampaignChanged | BatchReport | Tick | Ping

_KINDS: dict[str, type] = {
    "campaign_changed": CampaignChanged,
    "batch_done": BatchReport,
    "tick": Tick,
    "ping": Ping,
}
_NAMES = {cls: kind for kind, cls in _KINDS.items()}


def to_dict(message: Command) -> dict:
    """The message as the queue carries it: its fields and its ``kind``."""
    out = {"kind": _NAMES[type(message)]}
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        out[field.name] = str(value) if isinstance(value, Stop) else value
    return out


def from_dict(data: dict) -> Command:
    """The message a queue dict carries; ValueError for an unknown kind or bad fields (a
    message of another version of zapx, or not zapx's: retrying it cannot help)."""
    cls = _KINDS.get(data.get("kind")) if isinstance(data, dict) else None
    if cls is None:
        raise ValueError(f"unknown engine command {data!r:.200}")
    names = {f.name for f in dataclasses.fields(cls)}
    fields = {k: v for k, v in data.items() if k in names}
    if cls is BatchReport and fields.get("stop") is not None:
        fields["stop"] = Stop(fields["stop"])
    try:
        return cls(**fields)
    except TypeError as exc:
        raise ValueError(f"bad engine command {data!r:.200}: {exc}") from None
