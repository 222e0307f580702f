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
#: The Directory's ref and proxy, found once: the registry lookup walks every actor (thousands of
#: company actors) and building a proxy inspects the actor's attributes, on every command.
_directory: list = [None, None]


@dramatiq.actor(queue_name="engine", max_retries=20, time_limit=60_000, throws=())
def engine_command(command: dict) -> None:
    """Deliver ``command`` to the running engine's Directory actor."""
    ref, proxy = _directory
    if ref is None or not ref.is_alive():
        from actors.engine.directory import DirectoryActor

        refs = pykka.ActorRegistry.get_by_class(DirectoryActor)
        if not refs:
            raise RuntimeError("no Directory actor in this process; is this the engine?")
        _directory[:] = [refs[0], refs[0].proxy()]
        ref, proxy = _directory
    proxy.handle(command).get(timeout=ASK_TIMEOUT_S)
