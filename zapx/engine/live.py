"""What a company's lifecycle is given and what it tracks: the outbox port, the share of the
in-flight budget, and each running campaign's state (times in the lifecycle clock's epoch
seconds)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Protocol


class Outbox(Protocol):
    """Where planned batches go (the Dramatiq delivery queues, wired by the engine's root), and
    the alerts' webhooks (the Dramatiq ``alerts`` queue)."""

    def send_batch(self, batch_id: int, company_id: int, first: bool, delay_s: float) -> None:
        """Enqueue ``batch_id`` (of company ``company_id``) to start in ``delay_s`` seconds;
        ``first``: a campaign's first batch (its own queue, so it is not stuck behind other
        companies' big campaigns)."""

    def send_first_batches(self, batches: Sequence[tuple[int, int]], counted: bool = False) -> None:
        """Enqueue every ``(batch id, company id)`` of ``batches``, campaigns' first batches,
        to start now: a mass start's, in as few round trips as the outbox can. ``counted``:
        they are a burst counted to hold the bulk lane (``zapx.campaigns.priority``), and the
        workers take them off that count."""

    def send_alert(self, alert_id: int, kind: str) -> None:
        """Enqueue the webhook of alert ``alert_id``'s event ``kind`` (opened|resolved)."""


class Budget:
    """In-flight batches each company may have: ``total`` shared equally among the ``active``
    companies with live work, at least one each (``per_company``).

    The Directory updates ``active`` (:meth:`share`) and the governor ``total``
    (:meth:`set_total`, from its own thread): a lock keeps the two writes from crossing.
    ``per_company`` is read without it by the company actors (one int): telling thousands of
    actors about every change would cost more than the work it shares out.
    """

    def __init__(self, total: int):
        self.total = total
        self.active = 0
        self.per_company = total
        self._lock = threading.Lock()

    def share(self, active: int) -> None:
        """``active`` companies have live work now."""
        with self._lock:
            self.active = active
            self._reshare()

    def set_total(self, total: int) -> None:
        """Batches in flight across all companies from now on (at least 1), shared again."""
        if total < 1:
            raise ValueError(f"a budget is at least 1 batch, got {total}")
        with self._lock:
            self.total = total
            self._reshare()

    def _reshare(self) -> None:
        self.per_company = max(1, self.total // max(self.active, 1))


@dataclasses.dataclass
class Live:
    """A running campaign as the lifecycle tracks it (times in the clock's epoch seconds)."""

    campaign_id: int
    generation: int
    whatsapp_id: int
    in_flight: set = dataclasses.field(default_factory=set)
    wake_at: float = 0.0
    planned: int = 0  # batches planned or adopted here (0: the next is the first)
    first_batch: int | None = None  # the first batch, while the second waits for it
    first_until: float = 0.0  # the second batch waits no longer
    progress_at: float = 0.0  # the next progress event may go then
    progress_pending: bool = False  # a batch reported since the last progress event
