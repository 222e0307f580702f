"""Status names, one class per family: the only place a status is spelled.

The values are what PostgreSQL stores and the API answers (the original's campaign statuses are
Portuguese and upper case, row and batch states lower case), so they are plain ``str``: a
constant compares equal to a row's column and goes into JSON and SQL parameters unchanged.
SQL text that names a status builds it with :func:`sql`, never by spelling it.
``tests/test_status_names.py`` fails on a status spelled anywhere else in zapx/, actors/, api/.
"""

from __future__ import annotations

from typing import Final


class CampaignStatus:
    """A campaign's ``status`` (which command each allows: ``zapx.campaigns.lifecycle``)."""

    INATIVA: Final = "INATIVA"
    PROGRAMADA: Final = "PROGRAMADA"
    EM_ANDAMENTO: Final = "EM_ANDAMENTO"
    PAUSADA: Final = "PAUSADA"
    CANCELADA: Final = "CANCELADA"
    FINALIZADA: Final = "FINALIZADA"
    ALL: Final = (INATIVA, PROGRAMADA, EM_ANDAMENTO, PAUSADA, CANCELADA, FINALIZADA)


class RowStatus:
    """A campaign shipping row's ``status``: one recipient's message."""

    PENDING: Final = "pending"
    QUEUED: Final = "queued"
    SENDING: Final = "sending"
    #: Sent the confirmation question; waits for the recipient's reply.
    AWAITING: Final = "awaiting"
    SENT: Final = "sent"
    DELIVERED: Final = "delivered"
    READ: Final = "read"
    FAILED: Final = "failed"
    #: It may have left (the worker died or the provider's answer was lost): never sent again.
    UNKNOWN: Final = "unknown"
    ALL: Final = (PENDING, QUEUED, SENDING, AWAITING, SENT, DELIVERED, READ, FAILED, UNKNOWN)
    #: Rows that still have a send ahead of them.
    OPEN: Final = (PENDING, QUEUED, SENDING)
    #: Rows whose message left: sent, and delivered or read since.
    SENT_OR_LATER: Final = (SENT, DELIVERED, READ)


class BatchStatus:
    """A campaign batch's ``status``."""

    PLANNED: Final = "planned"
    CLAIMED: Final = "claimed"
    DONE: Final = "done"
    ALL: Final = (PLANNED, CLAIMED, DONE)


class ConnectionStatus:
    """A WhatsApp connection's ``status`` (``qrcode`` is the original's, lower case)."""

    OPENING: Final = "OPENING"
    QRCODE: Final = "qrcode"
    CONNECTED: Final = "CONNECTED"
    DISCONNECTED: Final = "DISCONNECTED"
    ALL: Final = (OPENING, QRCODE, CONNECTED, DISCONNECTED)


class ImportState:
    """A contact import's ``state``."""

    QUEUED: Final = "queued"
    RUNNING: Final = "running"
    DONE: Final = "done"
    FAILED: Final = "failed"
    ALL: Final = (QUEUED, RUNNING, DONE, FAILED)


#: Every status name of every family.
NAMES: Final = frozenset(
    CampaignStatus.ALL + RowStatus.ALL + BatchStatus.ALL + ConnectionStatus.ALL + ImportState.ALL
)


def sql(*names: str) -> str:
    """Status names as SQL literals for a query's text: ``'sent'``, or ``'sent', 'unknown'``
    for an ``IN (...)``. Only names of this module: anything else raises ``ValueError``."""
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        raise ValueError(f"not status names: {unknown or names!r}")
    return ", ".join(f"'{n}'" for n in names)
