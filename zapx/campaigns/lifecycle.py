"""Which campaign statuses allow which command (the original's rules, plus pause and resume)."""

from __future__ import annotations

from zapx.errors import Conflict
from zapx.status import CampaignStatus

# The names live in zapx.status; these aliases keep ``lifecycle.PAUSADA`` and its imports working.
INATIVA = CampaignStatus.INATIVA
PROGRAMADA = CampaignStatus.PROGRAMADA
EM_ANDAMENTO = CampaignStatus.EM_ANDAMENTO
PAUSADA = CampaignStatus.PAUSADA
CANCELADA = CampaignStatus.CANCELADA
FINALIZADA = CampaignStatus.FINALIZADA

#: Statuses in which a campaign's fields may be edited.
EDITABLE = frozenset({INATIVA, PROGRAMADA, CANCELADA})
#: Statuses in which a campaign may be deleted (never while it is sending).
DELETABLE = frozenset({INATIVA, PROGRAMADA, PAUSADA, CANCELADA, FINALIZADA})

#: command -> (statuses it is allowed from, status it leads to)
COMMANDS = {
    "pause": (frozenset({EM_ANDAMENTO}), PAUSADA),
    "resume": (frozenset({PAUSADA}), EM_ANDAMENTO),
    "cancel": (frozenset({PROGRAMADA, EM_ANDAMENTO, PAUSADA}), CANCELADA),
    "restart": (frozenset({CANCELADA}), EM_ANDAMENTO),
}


def check_command(command: str, status: str) -> str:
    """The status ``command`` leads to from ``status``, or a 409 that says why not."""
    allowed, target = COMMANDS[command]
    if status not in allowed:
        raise Conflict(
            f"cannot {command} a campaign that is {status}; "
            f"allowed when {' or '.join(sorted(allowed))}"
        )
    return target


def check_editable(status: str) -> None:
    if status not in EDITABLE:
        raise Conflict(
            f"a campaign that is {status} cannot be edited; "
            f"allowed when {' or '.join(sorted(EDITABLE))}"
        )


def check_deletable(status: str) -> None:
    if status not in DELETABLE:
        raise Conflict(f"a campaign that is {status} cannot be deleted; pause or cancel it first")
