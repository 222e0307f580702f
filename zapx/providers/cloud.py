"""WhatsApp Cloud API client (also what talks to ``zapx sandbox``)."""

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

# Meta's error codes by what they mean for a send.
_THROTTLE_CODES = {4, 80007, 130429, 131048, 131056}
_AUTH_CODES = {0, 3, 10, 190, 200, 131005, 131031, 133010}
_TRANSIENT_CODES = {1, 2, 131000, 131016, 133004}
#: "Spam rate limit hit": too many of the number's messages were blocked or reported as spam.
#: A throttle, but sending on makes it worse (and risks the number): the engine pauses the
#: campaign at once (:func:`spam_rate_limited`, ``zapx.engine.lifecycle``).
SPAM_RATE_LIMIT = 131048
#: No sandbox, nothing allowed: public hosts only.
_STRICT = Outbound()


def classify(status: int, body: dict) -> tuple[str, str | None]:
    """(outcome, reason) of a non-2xx Cloud API answer."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    reason = f"{status} {code}: {message}" if code is not None else f"HTTP {status}"
    if status == 429 or code in _THROTTLE_CODES:
        return THROTTLE, reason
    if status in (401, 403) or code in _AUTH_CODES:
        return AUTH, reason
    if status >= 500 or code in _TRANSIENT_CODES:
        return TRANSIENT, reason
    return PERMANENT, reason


def error_code(status: int, body: dict) -> str:
    """The ``error_code`` of a non-2xx answer: Meta's code when it gave one, else the status."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code < 10**7:
        return str(code)
    return f"http_{status}"


def spam_rate_limited(result: SendResult) -> bool:
    """Whether a send's answer is Meta's spam rate limit (131048)."""
    return result.outcome == THROTTLE and result.error_code == str(SPAM_RATE_LIMIT)


class CloudProvider:
    """``POST {baseUrl}/{apiVersion}/{phoneNumberId}/messages`` with a Bearer token."""

    def __init__(self, settings: dict, outbound: Outbound = _STRICT):
        """``outbound``: where this install lets connections send (by default public hosts)."""
        self.outbound = outbound
        base = settings.get("baseUrl", "https://graph.facebook.com").rstrip("/")
        version = settings.get("apiVersion", "v21.0")
        phone_id = settings.get("phoneNumberId") or "sandbox"
        self.url = f"{base}/{version}/{phone_id}/messages"
        self.headers = (
            f"Authorization: Bearer {settings.get('accessToken', '')}",
            "Content-Type: application/json",
        )

    @staticmethod
    def payload(message: OutMessage) -> dict:
        body: dict = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to,
        }
        if message.media_url:
            kind = message.media_type or "document"
            media: dict = {"link": message.media_url}
            if kind != "audio" and message.text:
                media["caption"] = message.text
            if kind == "document" and message.media_name:
                media["filename"] = message.media_name
            body.update(type=kind, **{kind: media})
        else:
            body.update(type="text", text={"preview_url": False, "body": message.text})
        return body

    def request(self, message: OutMessage) -> HttpRequest:
        data = json.dumps(self.payload(message), separators=(",", ":")).encode()
        return HttpRequest(self.url, data, self.headers)

    def result(self, answer: HttpResponse | TransportError) -> SendResult:
        if isinstance(answer, TransportError):
            return answer.result()
        try:
            body = json.loads(answer.body) if answer.body else {}
        except ValueError:
            body = {}
        if 200 <= answer.status < 300:
            try:
                return SendResult(SENT, message_id=body["messages"][0]["id"], status=answer.status)
            except (KeyError, IndexError, TypeError):
                return SendResult(
                    TRANSIENT,
                    error="accepted without a message id",
                    status=answer.status,
                    error_code="no_message_id",
                )
        outcome, reason = classify(answer.status, body)
        return SendResult(
            outcome,
            error=reason,
            status=answer.status,
            retry_after_s=answer.retry_after_s,
            error_code=error_code(answer.status, body),
        )

    def send(self, message: OutMessage) -> SendResult:
        return self.result(curl.exchange(self.outbound, self.request(message)))

    def close(self) -> None:
        """Connections are the thread's (``zapx.providers.curl``); nothing of its own to close."""
