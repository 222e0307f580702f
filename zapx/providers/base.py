"""The provider interface: one message out, one classified outcome back.

Outcomes drive what delivery does with a row (DESIGN rule 5):

- ``sent`` — accepted; ``message_id`` is the provider's id (status webhooks refer to it)
- ``throttle`` — HTTP 429, Cloud API 130429/131056/80007: back to pending, slow the connection
- ``transient`` — 5xx, connection refused, connect timeout: back to pending with backoff
- ``ambiguous`` — the request left but no answer came (read timeout, reset mid-response): the
  provider may have accepted it, so the row becomes ``unknown`` instead of being resent
- ``permanent`` — invalid number, rejected content: the row fails with ``error``
- ``auth`` — token expired or revoked, number disconnected: pause the connection's campaigns
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

SENT, THROTTLE, TRANSIENT, AMBIGUOUS, PERMANENT, AUTH = (
    "sent",
    "throttle",
    "transient",
    "ambiguous",
    "permanent",
    "auth",
)


@dataclasses.dataclass(frozen=True)
class OutMessage:
    """What to send: ``to`` in digits with country code; media as a public URL with a caption."""

    to: str
    text: str
    media_url: str | None = None
    media_type: str | None = None  # image | video | audio | document
    media_name: str | None = None


@dataclasses.dataclass(frozen=True)
class SendResult:
    outcome: str
    message_id: str | None = None
    error: str | None = None
    #: Seconds the provider asked us to wait (Retry-After), when it said.
    retry_after_s: float | None = None
    status: int | None = None
    #: A short code for metrics (``zapx_messages_total{error_code}``): the Cloud API's error
    #: code (``131026``), ``http_<status>``, or the transport's failure (``timeout``,
    #: ``connect``, ``broken``, ``refused``, ``no_message_id``); None when sent.
    error_code: str | None = None


class Provider(Protocol):
    """A connection's way out. Implementations are thread-safe and reuse connections."""

    def send(self, message: OutMessage) -> SendResult: ...

    def close(self) -> None: ...
