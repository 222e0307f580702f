import json
import logging

from zapx.logs import JsonFormatter


def record(created: float, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("zapx.test", logging.INFO, __file__, 1, "event %s", ("x",), None)
    rec.created, rec.msecs = created, (created % 1) * 1000
    rec.__dict__.update(extra)
    return rec


def test_one_json_line_with_the_extras_as_fields():
    line = JsonFormatter("api").format(record(0.25, company_id=7, campaign_id=9))
    assert "\n" not in line
    data = json.loads(line)
    assert data == {
        "ts": "1970-01-01T00:00:00.250Z",
        "level": "info",
        "logger": "zapx.test",
        "process": "api",
        "event": "event x",
        "company_id": 7,
        "campaign_id": 9,
    }


def test_timestamp_follows_the_clock_across_seconds():
    fmt = JsonFormatter("worker")
    stamps = [json.loads(fmt.format(record(t)))["ts"] for t in (59.5, 59.75, 60.25, 3661.5)]
    assert stamps == [
        "1970-01-01T00:00:59.500Z",
        "1970-01-01T00:00:59.750Z",
        "1970-01-01T00:01:00.250Z",
        "1970-01-01T01:01:01.500Z",
    ]
