"""A local WhatsApp Cloud API stand-in (``zapx sandbox``) that records every message it accepts."""

from zapx.sandbox.server import SandboxServer, serve

__all__ = ["SandboxServer", "serve"]
