"""Cheap recording helpers for the hot path (one provider call, one gate answer).

Each helper keeps the labelled children it made in a dict: ``Counter.labels()`` takes a lock
and builds a key on every call, a dict lookup does not. A child is a few bytes of memory-mapped
file per label set, and the label sets are bounded (providers x outcomes x error codes).
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager

from zapx.metrics import _definitions as d
from zapx.status import RowStatus

#: A provider error code as a label: short, lower-case letters, digits and ``_``. Anything else
#: (a server answering with odd codes) is ``other``, so a label's values stay a small set.
_CODE = re.compile(r"[a-z0-9_]{1,24}")
#: Distinct error codes a process labels before it calls every new one ``other``: a tenant may
#: point a connection at a server of its own, whose answers must not grow the label's values.
MAX_CODES = 200
_codes: set[str] = set()

_messages: dict[tuple[str, str, str], object] = {}
_latency: dict[str, object] = {}
_steps: dict[str, object] = {}
_delays: dict[str, object] = {}
_limited: dict[str, object] = {}
_batches: dict[str, object] = {}


def code_label(code: str | None) -> str:
    """The ``error_code`` label of a provider's code: ``""`` for none, ``other`` when odd."""
    if not code:
        return ""
    if code in _codes:
        return code
    if len(_codes) >= MAX_CODES or not _CODE.fullmatch(code):
        return "other"
    _codes.add(code)
    return code


def _child(cache: dict, metric, *labels: str):
    key = labels if len(labels) > 1 else labels[0]
    child = cache.get(key)
    if child is None:
        child = cache[key] = metric.labels(*labels)
    return child


#: A recorded row's status -> the ``outcome`` label (any other status: ``retried``, the row
#: goes back to pending: throttled, transient, lost authorization).
OUTCOMES = {
    RowStatus.SENT: "sent",
    RowStatus.AWAITING: "sent",  # a confirmation message, accepted
    RowStatus.FAILED: "failed",
    RowStatus.UNKNOWN: "unknown",
}


def message(provider: str, status: str, error_code: str | None, seconds: float) -> None:
    """One provider call: the status its row was recorded with (``sent``, ``failed``,
    ``unknown``; pending or throttled count as ``retried``), its error code and its latency
    (seconds)."""
    outcome = OUTCOMES.get(status, "retried")
    _child(_messages, d.messages, provider, outcome, code_label(error_code)).inc()
    _child(_latency, d.send_latency, provider).observe(seconds)


def step(name: str, seconds: float) -> None:
    """One ``render``, ``claim`` or ``record`` step, in seconds."""
    _child(_steps, d.batch_step, name).observe(seconds)


@contextmanager
def timed_step(name: str):
    """Times the block as step ``name`` (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        step(name, time.perf_counter() - started)


def batch(queue: str, seconds: float) -> None:
    """One claimed batch of ``queue``, claim to record, in seconds."""
    _child(_batches, d.batch_duration, queue).observe(seconds)


#: Send gate Wait reasons (``zapx.schedule.Wait.reason``) by pacing kind.
_REASONS = {
    "interval": "interval",
    "long pause": "interval",
    "connection busy": "interval",
    "slot": "interval",
    "throttled": "backoff",
    "provider cap": "whatsapp",
    "daily limit": "whatsapp",
    "recipient pair": "contact",
}
#: The company rate-limit kinds (``zapx.schedule.KINDS``).
_LIMIT_KINDS = ("whatsapp", "contact", "campaign", "global")


def delay_kind(reason: str) -> str:
    """The ``kind`` label of a gate's Wait reason (``rate limit <kind>`` -> that kind)."""
    if reason.startswith("rate limit "):
        kind = reason[len("rate limit ") :]
        return kind if kind in _LIMIT_KINDS else "global"
    return _REASONS.get(reason, "interval")


def delay(reason: str, seconds: float) -> None:
    """A wait of ``seconds`` before a send, for the gate's ``reason`` (or ``slot``: the
    batch's planned slot). A rate limit's Wait also counts as a hit of its kind."""
    kind = delay_kind(reason)
    _child(_delays, d.pacing_delay, kind).observe(max(0.0, seconds))
    if reason.startswith("rate limit "):
        _child(_limited, d.rate_limited, kind).inc()
