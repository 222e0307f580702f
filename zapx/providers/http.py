"""One keep-alive urllib3 pool per process, shared by every provider client."""

from __future__ import annotations

import threading

import urllib3

_lock = threading.Lock()
_pool: urllib3.PoolManager | None = None

#: Seconds to open a connection / to wait for the answer.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 15.0


def pool() -> urllib3.PoolManager:
    global _pool
    with _lock:
        if _pool is None:
            _pool = urllib3.PoolManager(
                num_pools=64,
                maxsize=32,
                block=False,
                retries=False,  # retrying is delivery's decision, with its own backoff
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
            )
        return _pool


def retry_after(headers) -> float | None:
    raw = headers.get("Retry-After") if headers else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def classify_exception(exc: Exception) -> tuple[str, str]:
    """(outcome, reason) of a transport error: did the request possibly reach the provider?"""
    from zapx.providers.base import AMBIGUOUS, TRANSIENT

    if isinstance(
        exc, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.NewConnectionError
    ):
        return TRANSIENT, f"connect failed: {type(exc).__name__}"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return AMBIGUOUS, "no answer before the read timeout"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return AMBIGUOUS, f"connection broken: {exc}"
    return TRANSIENT, f"{type(exc).__name__}: {exc}"
