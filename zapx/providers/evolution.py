"""Evolution API (Baileys gateway) client: ``sendText`` / ``sendMedia`` with an ``apikey``."""

from __future__ import annotations

import json

import urllib3

from zapx.outbound import Outbound
from zapx.providers import http
from zapx.providers.base import AUTH, PERMANENT, SENT, THROTTLE, TRANSIENT, OutMessage, SendResult

#: No sandbox, nothing allowed: public hosts only.
_STRICT = Outbound()


class EvolutionProvider:
    def __init__(self, settings: dict, outbound: Outbound = _STRICT):
        """``outbound``: where this install lets connections send (by default public hosts)."""
        self.pool = http.pool(outbound)
        base = settings["baseUrl"].rstrip("/")
        instance = settings["instance"]
        self.text_url = f"{base}/message/sendText/{instance}"
        self.media_url = f"{base}/message/sendMedia/{instance}"
        self.headers = {"apikey": settings.get("apiKey", ""), "Content-Type": "application/json"}

    def send(self, message: OutMessage) -> SendResult:
        if message.media_url:
            url = self.media_url
            body = {
                "number": message.to,
                "mediatype": message.media_type or "document",
                "media": message.media_url,
                "caption": message.text,
                "fileName": message.media_name or "",
            }
        else:
            url, body = self.text_url, {"number": message.to, "text": message.text}
        try:
            resp = self.pool.request(
                "POST", url, body=json.dumps(body).encode(), headers=self.headers
            )
        except urllib3.exceptions.HTTPError as exc:
            outcome, reason = http.classify_exception(exc)
            return SendResult(outcome, error=reason, error_code=http.exception_code(exc))
        try:
            data = json.loads(resp.data) if resp.data else {}
        except ValueError:
            data = {}
        if 200 <= resp.status < 300:
            key = data.get("key") if isinstance(data, dict) else None
            message_id = key.get("id") if isinstance(key, dict) else None
            if message_id:
                return SendResult(SENT, message_id=message_id, status=resp.status)
            return SendResult(
                TRANSIENT,
                error="accepted without a message id",
                status=resp.status,
                error_code="no_message_id",
            )
        reason = f"HTTP {resp.status}: {str(data)[:200]}"
        if resp.status == 429:
            outcome = THROTTLE
        elif resp.status in (401, 403):
            outcome = AUTH
        elif resp.status >= 500:
            outcome = TRANSIENT
        else:
            outcome = PERMANENT
        return SendResult(
            outcome,
            error=reason,
            status=resp.status,
            retry_after_s=http.retry_after(resp.headers),
            error_code=f"http_{resp.status}",
        )

    def close(self) -> None:
        """The pool is shared by the process; nothing of its own to close."""
