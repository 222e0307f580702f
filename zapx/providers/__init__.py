"""How a message leaves: ``cloud`` (Meta Cloud API), ``evolution`` (Evolution API), ``sandbox``."""

from zapx.outbound import Outbound
from zapx.providers.base import (
    AMBIGUOUS,
    AUTH,
    PERMANENT,
    SENT,
    THROTTLE,
    TRANSIENT,
    HttpRequest,
    HttpResponse,
    OutMessage,
    Provider,
    SendResult,
    TransportError,
)
from zapx.providers.cloud import CloudProvider
from zapx.providers.curl import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    Concurrent,
    concurrent,
    exchange,
    perform,
)
from zapx.providers.evolution import EvolutionProvider


def make_provider(provider: str, settings: dict, outbound: Outbound) -> Provider:
    """The client for a connection; ``sandbox`` is the Cloud API client pointed at the sandbox.
    ``outbound`` is checked on every socket the client opens (``Outbound.from_config``)."""
    if provider in ("cloud", "sandbox"):
        return CloudProvider(settings, outbound)
    if provider == "evolution":
        return EvolutionProvider(settings, outbound)
    raise ValueError(f"unknown provider {provider!r}")


__all__ = [
    "AMBIGUOUS",
    "AUTH",
    "CONNECT_TIMEOUT_S",
    "READ_TIMEOUT_S",
    "PERMANENT",
    "SENT",
    "THROTTLE",
    "TRANSIENT",
    "CloudProvider",
    "Concurrent",
    "EvolutionProvider",
    "HttpRequest",
    "HttpResponse",
    "OutMessage",
    "Provider",
    "SendResult",
    "TransportError",
    "concurrent",
    "exchange",
    "make_provider",
    "perform",
]
