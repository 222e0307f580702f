"""The last provider errors by code, read from the errors the workers recorded on shipping rows.

A row keeps the error of its latest attempt (``campaign_shipping.error``, written with the
batch's outcomes by ``zapx.campaigns.batches.finish_batch``): a failed row's reason, an unknown
row's, or a row waiting for its retry (pending again after a 5xx or a throttle). A row sent on a
later attempt has its error cleared, so these are the errors that still stand, counted by code
over the rows changed in the last ``window_s`` seconds. The text's code is the provider's:
Meta's Cloud API error code (``"131026"``), else the HTTP status (``"HTTP 503"``), else what the
transport said (``timeout``, ``connect failed``...).

Only the campaigns that may have changed rows lately are read (running or paused, or finished
within the window), each through its ``(campaign, status, id)`` index: never a scan of every
company's rows.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

from zapx.campaigns.batches import LOST_MID_SEND
from zapx.db import db
from zapx.status import RowStatus

#: Seconds of recent row changes the errors are counted over.
WINDOW_S = 900
#: Distinct error texts read per call (the most frequent first): the codes of a burst of
#: varied texts are still counted, only their rarest texts left out.
MAX_TEXTS = 500

_CLOUD = re.compile(r"^(?:gave up: )?\d{3} (\d+):")
_HTTP = re.compile(r"^(?:gave up: )?HTTP (\d{3})")
#: Transport errors (``zapx.providers.curl``) and zapx's own, by prefix.
_PREFIXES = (
    ("no answer before the read timeout", "timeout"),
    ("connect failed", "connect failed"),
    ("connection broken", "connection broken"),
    ("redis unavailable", "redis unavailable"),
    (LOST_MID_SEND, "lost mid-send"),
    ("accepted without a message id", "no message id"),
)
#: Statuses whose rows may carry an error (a sent row's is cleared).
_WITH_ERRORS = (RowStatus.PENDING, RowStatus.FAILED, RowStatus.UNKNOWN)


def error_code(text: str) -> str:
    """The code of a recorded error text: Meta's code, ``HTTP <status>``, a transport error's
    name, or ``other``."""
    text = text.removeprefix("gave up: ")
    match = _CLOUD.match(text)
    if match:
        return match.group(1)
    match = _HTTP.match(text)
    if match:
        return f"HTTP {match.group(1)}"
    for prefix, code in _PREFIXES:
        if text.startswith(prefix):
            return code
    return "other"


def recent_errors(
    campaign_ids: Sequence[int], now: datetime.datetime, window_s: int = WINDOW_S
) -> list[dict]:
    """``[{code, count, lastAt, example}]`` of the rows of ``campaign_ids`` changed in the last
    ``window_s`` seconds before ``now`` whose latest attempt recorded an error, most frequent
    first; ``example`` is the code's latest text (200 characters at most)."""
    if not campaign_ids:
        return []
    since = now - datetime.timedelta(seconds=window_s)
    rows = db.execute_sql(
        """
        SELECT error, count(*), max(updated_at) FROM campaign_shipping
        WHERE campaign_id = ANY(%(ids)s) AND status = ANY(%(st)s)
          AND error IS NOT NULL AND updated_at > %(since)s
        GROUP BY error ORDER BY count(*) DESC LIMIT %(n)s
        """,
        {"ids": list(campaign_ids), "st": list(_WITH_ERRORS), "since": since, "n": MAX_TEXTS},
    ).fetchall()
    by_code: dict[str, dict] = {}
    for text, count, last in rows:
        code = error_code(text)
        entry = by_code.setdefault(code, {"code": code, "count": 0, "lastAt": last, "example": ""})
        entry["count"] += count
        if last >= entry["lastAt"] or not entry["example"]:
            entry["lastAt"], entry["example"] = last, text[:200]
    out = sorted(by_code.values(), key=lambda e: (-e["count"], e["code"]))
    return [e | {"lastAt": e["lastAt"].isoformat()} for e in out]
