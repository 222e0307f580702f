"""The Directory: the root actor of the engine, which routes commands to per-company actors."""

from __future__ import annotations

import logging
import time

import pykka

from zapx.config import Config
from zapx.redis import Keys, get_redis

log = logging.getLogger("zapx.engine")


class DirectoryActor(pykka.ThreadingActor):
    """Routes engine commands. Commands are plain dicts with a ``kind`` and ids, never rows."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.keys = Keys(config.redis_prefix)
        self.started_at = 0.0
        self.handled = 0

    def on_start(self) -> None:
        self.started_at = time.monotonic()
        log.info("directory started")

    def on_stop(self) -> None:
        log.info("directory stopped", extra={"commands_handled": self.handled})

    def handle(self, command: dict) -> dict:
        """Apply one command; returns a small status dict (for logs and tests)."""
        self.handled += 1
        kind = command.get("kind")
        if kind == "ping":
            # A liveness probe: the token, stored for 300 s, proves the engine consumed its queue.
            uptime_s = round(time.monotonic() - self.started_at, 3)
            token = str(command.get("token", ""))[:64]
            if token:
                key = self.keys.of("engine", "ping", token)
                get_redis(self.config.redis_url).set(key, uptime_s, ex=300)
            return {"ok": True, "uptime_s": uptime_s}
        log.warning("unknown engine command", extra={"kind": kind})
        return {"ok": False, "error": f"unknown command {kind!r}"}

    def stats(self) -> dict:
        return {"commands_handled": self.handled}
