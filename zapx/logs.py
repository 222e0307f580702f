"""Structured logging: one JSON object per line, one line per event.

Call sites pass context through ``extra`` (``company_id``, ``campaign_id``, ``request_id``...);
every such key lands in the line as a top-level field, so logs can be filtered by tenant.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from zapx.dependencies import QuietWhileDown

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: ts, level, logger, process kind, event, extras.

    The API writes one line per request, so this is on every request's path: the encoder is
    built once and the timestamp's seconds part is formatted once a second.
    """

    def __init__(self, process: str):
        super().__init__()
        self.process = process
        self._encode = json.JSONEncoder(default=str, ensure_ascii=False).encode
        self._second = (-1, "")  # (whole second, its formatted text)

    def _timestamp(self, record: logging.LogRecord) -> str:
        whole = int(record.created)
        second = self._second  # one tuple, read and replaced whole: safe across threads
        if second[0] != whole:
            second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
            self._second = second
        return f"{second[1]}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": self.process,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return self._encode(line)


class TextFormatter(logging.Formatter):
    """Human-readable variant for a developer's terminal; extras appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = " ".join(
            f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"
        )
        return f"{base} {extras}".rstrip()


def setup_logging(process: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route the root logger to stderr in the chosen format. Safe to call twice."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(QuietWhileDown())
    # No line shows the caller's file and line, nor thread or process names: skip finding them
    # for every record (the logging HOWTO's "Optimization" section).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log every connection or message at INFO drown the events that matter.
    # Pykka logs every exception an ask returns to its caller, who handles it (the clock's
    # tick while PostgreSQL is down: one line a probe).
    for noisy in ("urllib3", "peewee", "dramatiq.worker.ConsumerThread", "pykka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
