"""The ``engine`` queue: Dramatiq messages that the engine process consumes into its actors.

The API and the workers send commands here (fire-and-forget, :func:`send_command`); the engine
runs a Dramatiq worker on this queue only, in-process, and hands each command to the Directory
actor that its composition root bound here (:func:`bind`, in ``actors.engine.main``). The
commands travel as dicts (``zapx.engine.messages.to_dict``), and are typed again here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import dramatiq
import pykka

from actors.broker import broker  # noqa: F401 - configures the broker before the actors below
from zapx.engine.messages import Command, from_dict, to_dict

log = logging.getLogger("zapx.engine.inbox")

#: Seconds the inbox waits for the Directory to accept a command before the message is retried.
ASK_TIMEOUT_S = 30.0


class _Bound:
    """The Directory's proxy in the engine process (None elsewhere)."""

    directory: pykka.ActorProxy[Any] | None = None


def bind(directory: pykka.ActorProxy[Any] | None) -> None:
    """Hand the engine's commands to ``directory`` (a Directory actor's proxy; None unbinds)."""
    _Bound.directory = directory


def send_command(command: Command) -> None:
    """Send ``command`` to the engine through its queue (fire-and-forget)."""
    engine_command.send(to_dict(command))


def send_commands(commands: Sequence[Command]) -> None:
    """Send every one of ``commands`` to the engine in one message (a chunk of first batches'
    reports: one message id, one Redis call and one hand-over to the Directory instead of one
    each; 250 one by one cost the worker about 8% of a chunk's time)."""
    if len(commands) == 1:
        send_command(commands[0])
    elif commands:
        engine_commands.send([to_dict(c) for c in commands])


@dramatiq.actor(queue_name="engine", max_retries=20, time_limit=60_000, throws=(ValueError,))
def engine_command(command: dict) -> None:
    """Deliver ``command`` to the running engine's Directory actor; retried (by Dramatiq) when
    the Directory does not accept it within ASK_TIMEOUT_S, never when it is not a command."""
    directory = _Bound.directory
    if directory is None:
        raise RuntimeError("no Directory bound in this process; is this the engine?")
    message = from_dict(command)  # ValueError: not a command; retrying cannot help
    directory.handle(message).get(timeout=ASK_TIMEOUT_S)


@dramatiq.actor(queue_name="engine", max_retries=20, time_limit=60_000, throws=(ValueError,))
def engine_commands(commands: list[dict]) -> None:
    """:func:`engine_command` for many commands, handed to the Directory in one message, in
    their order. Retried whole (each command is safe to apply twice, as every command is:
    messages are delivered at least once)."""
    directory = _Bound.directory
    if directory is None:
        raise RuntimeError("no Directory bound in this process; is this the engine?")
    messages = [from_dict(c) for c in commands]  # ValueError: not commands
    directory.handle_all(messages).get(timeout=ASK_TIMEOUT_S)
