"""Evolution API (Baileys gateway) client: ``sendText`` / ``sendMedia`` with an ``apikey``."""

from __future__ import annotations

import json

from zapx.outbound import Outbound
from zapx.providers import curl
from zapx.providers.base import (
    AUTH,
    PERMANENT,
    SENT,
    THROTTLE,
    TRANSIENT,
    HttpRequest,
    HttpResponse,
    OutMessage,
    SendResult,
    TransportError,
)

#: No sandbox, nothing allowed: public hosts only.
_STRICT = Outbound()


class EvolutionProvider:
    def __init__(self, settings: dict, outbound: Outbound = _STRICT):
        """``outbound``: where this install lets connections send (by default public hosts)."""
        self.outbound = outbound
        base = settings["baseUrl"].rstrip("/")
        instance = settings["instance"]
        self.text_url = f"{base}/message/sendText/{instance}"
        self.media_url = f"{base}/message/sendMedia/{instance}"
        self.headers = (f"apikey: {settings.get('apiKey', '')}", "Content-Type: application/json")

    def request(self, message: OutMessage) -> HttpRequest:
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
        return HttpRequest(url, json.dumps(body).encode(), self.headers)

    def result(self, answer: HttpResponse | TransportError) -> SendResult:
        if isinstance(answer, TransportError):
            return answer.result()
        try:
            data = json.loads(answer.body) if answer.body else {}
        except ValueError:
            data = {}
        status = answer.status
        if 200 <= status < 300:
            key = data.get("key") if isinstance(data, dict) else None
            message_id = key.get("id") if isinstance(key, dict) else None
            if message_id:
                return SendResult(SENT, message_id=message_id, status=status)
            return SendResult(
                TRANSIENT,
                error="accepted without a message id",
                status=status,
                error_code="no_message_id",
            )
        reason = f"HTTP {status}: {str(data)[:200]}"
        if status == 429:
            outcome = THROTTLE
        elif status in (401, 403):
            outcome = AUTH
        elif status >= 500:
            outcome = TRANSIENT
        else:
            outcome = PERMANENT
        return SendResult(
            outcome,
            error=reason,
            status=status,
            retry_after_s=answer.retry_after_s,
            error_code=f"http_{status}",
        )

    def send(self, message: OutMessage) -> SendResult:
        return self.result(curl.exchange(self.outbound, self.request(message)))

    def close(self) -> None:
        """Connections are the thread's (``zapx.providers.curl``); nothing of its own to close."""
