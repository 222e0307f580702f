"""The ``engine`` queue: Dramatiq messages that the engine process consumes into its actors.

The API and the workers send commands here (fire-and-forget); the engine runs a Dramatiq worker
on this queue only, in-process, and hands each command to the Directory actor.
"""

from __future__ import annotations

import dramatiq
import pykka

from actors.broker import broker  # noqa: F401 - configures the broker before the actors below

#: Seconds the inbox waits for the Directory to accept a command before the message is retried.
ASK_TIMEOUT_S = 30.0


@dramatiq.actor(queue_name="engine", max_retries=20, time_limit=60_000, throws=())
def engine_command(command: dict) -> None:
    """Deliver ``command`` to the running engine's Directory actor."""
    from actors.engine.directory import DirectoryActor

    ref = pykka.ActorRegistry.get_by_class(DirectoryActor)
    if not ref:
        raise RuntimeError("no Directory actor in this process; is this the engine?")
    ref[0].proxy().handle(command).get(timeout=ASK_TIMEOUT_S)
