"""``deliver_alert(alert_id, kind)``: the Dramatiq actor that POSTs one alert event to its
company's webhook, signed per Standard Webhooks (``zapx.alerts.webhook``).

Retries: a transport error, a timeout, a 5xx, 408 or 429 is retried :data:`MAX_RETRIES` times
with exponential backoff between :data:`MIN_BACKOFF_MS` and :data:`MAX_BACKOFF_MS` (Dramatiq's
``Retries``, with jitter), then dead-lettered (which dead_letters_growing sees). Another 4xx or
an address the SSRF guard refuses is :class:`WebhookRefused`, in ``throws``: logged, never
retried.

Safe to run twice: ``webhook-id`` is the same for every run of one event (a receiver drops a
repeat), and a delivered event is marked in Redis for a week, so a second run (a redelivery
after a worker died between the POST and the ack) does not POST it again.
"""

from __future__ import annotations

import logging

import dramatiq

from actors.broker import broker  # noqa: F401 - configures the broker before the actors below
from zapx.alerts.webhook import WebhookFailed, WebhookRefused, post_event, webhook_id
from zapx.config import load_config
from zapx.outbound import Outbound
from zapx.redis import Keys, get_redis

log = logging.getLogger("zapx.alerts")
_config = load_config()
_keys = Keys(_config.redis_prefix)
_outbound = Outbound.from_config(_config)

QUEUE = "alerts"
MAX_RETRIES = 8
#: Backoff between tries, ms: about 0.5, 1, 2 ... s, at most 5 min (with jitter).
MIN_BACKOFF_MS = 500
MAX_BACKOFF_MS = 300_000
#: Longest one run may take, ms: the POST's connect and read timeouts and a margin.
TIME_LIMIT_MS = int(_config.alert_webhook_timeout_s * 2 * 1000) + 10_000
#: Seconds a delivered event's mark lives (longer than every retry's backoff together).
DELIVERED_TTL_S = 7 * 86_400


def delivered_key(alert_id: int, kind: str) -> str:
    return _keys.of("alerts", "posted", webhook_id(alert_id, kind))


@dramatiq.actor(
    queue_name=QUEUE,
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=TIME_LIMIT_MS,
    throws=(WebhookRefused,),
)
def deliver_alert(alert_id: int, kind: str) -> None:
    """POST alert ``alert_id``'s event ``kind`` (opened|resolved); see the module docstring."""
    client = get_redis(_config.redis_url)
    mark = delivered_key(alert_id, kind)
    if client.exists(mark):
        return
    extra = {"alert_id": alert_id, "kind": kind}
    try:
        status = post_event(alert_id, kind, _outbound, _config.alert_webhook_timeout_s)
    except WebhookFailed as exc:
        log.warning("alert webhook failed", extra={**extra, "error": str(exc)})
        raise
    except WebhookRefused as exc:
        log.warning("alert webhook refused", extra={**extra, "error": str(exc)})
        raise
    if status is not None:
        client.set(mark, status, ex=DELIVERED_TTL_S)
        log.info("alert webhook delivered", extra={**extra, "status": status})


def notify(alert_id: int, kind: str) -> None:
    """Enqueue an event's webhook (what the engine's outbox and alert thread call)."""
    deliver_alert.send(alert_id, kind)
