"""Field types shared by the models."""

from __future__ import annotations

import datetime

from peewee import DateTimeField


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TimestampTZField(DateTimeField):
    """``timestamptz``: every instant zapx stores is absolute (UTC in, aware datetimes out)."""

    field_type = "TIMESTAMPTZ"
