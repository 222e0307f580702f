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

from zapx.outbound import Outbound

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


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    """One POST: ``headers`` as ``"Name: value"`` lines (``"Content-Type: application/json"``)."""

    url: str
    body: bytes
    headers: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    """The provider's answer: any status (a 4xx or 5xx is an answer, not a TransportError)."""

    status: int
    body: bytes
    #: Seconds of the ``Retry-After`` header (delta-seconds only), when the answer had one.
    retry_after_s: float | None = None


class TransportError(Exception):
    """No HTTP answer came. ``outcome`` says whether the request may have reached the provider:

    - ``transient``: it cannot have (connect failed or refused, DNS, connect timeout)
    - ``ambiguous``: it may have left (read timeout, connection broken mid-response)
    - ``auth``: the guard refused the address connected to (``zapx.outbound``): nothing sent

    ``reason`` is the text recorded on the row; ``code`` the metric's ``error_code``:
    ``connect``, ``timeout``, ``broken``, ``refused`` or ``transport``.
    """

    def __init__(self, outcome: str, reason: str, code: str):
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.code = code

    def result(self) -> SendResult:
        """The send's result for this error."""
        return SendResult(self.outcome, error=self.reason, error_code=self.code)


class Provider(Protocol):
    """A connection's way out. Implementations are thread-safe and reuse connections.

    A send is two pure steps around the transport (``zapx.providers.curl``), so a caller may
    run many requests at once (``Concurrent``) and classify each answer as it comes:
    ``send(m) == result(answer)`` where ``answer`` is ``perform(outbound, request(m))`` or the
    ``TransportError`` it raised.
    """

    #: What this client's sockets may connect to (checked on every new connection).
    outbound: Outbound

    def request(self, message: OutMessage) -> HttpRequest:
        """The POST that sends ``message`` (no I/O)."""
        ...

    def result(self, answer: HttpResponse | TransportError) -> SendResult:
        """The classified outcome of the answer to :meth:`request`'s POST (no I/O)."""
        ...

    def send(self, message: OutMessage) -> SendResult:
        """``message`` sent on this thread's keep-alive connection, and its outcome."""
        ...

    def close(self) -> None: ...
