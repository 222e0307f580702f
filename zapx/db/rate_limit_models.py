"""A company's rate limits (``/rate-limits``), one row per kind: at most ``max_sends`` sends per
``period_s`` seconds. ``zapx.rate_limits`` validates, caches and reads them; the delivery's Redis
gate enforces them. A kind without a row has no limit.

The CHECK constraints repeat the API's validation, so no other writer can store a limit the
gate cannot use (zero sends, a period outside 1 s .. 1 day, an unknown kind).
"""

from __future__ import annotations

from peewee import CharField, Check, DoubleField, ForeignKeyField, IntegerField

from zapx.db.models import BaseModel, Company

#: ``whatsapp``: each connection of the company; ``contact``: each recipient; ``campaign``: each
#: campaign; ``global``: the whole company.
KINDS = ("whatsapp", "contact", "campaign", "global")
#: The range of ``period_s`` (seconds).
MIN_PERIOD_S = 1.0
MAX_PERIOD_S = 86_400.0
#: The most sends one limit may allow per period.
MAX_SENDS = 1_000_000

_KIND_SQL = ", ".join(f"'{k}'" for k in KINDS)


class CompanyRateLimit(BaseModel):
    company = ForeignKeyField(
        Company, backref="company_rate_limits", on_delete="CASCADE", index=False
    )
    kind = CharField(max_length=16, constraints=[Check(f"kind IN ({_KIND_SQL})")])
    max_sends = IntegerField(constraints=[Check(f"max_sends BETWEEN 1 AND {MAX_SENDS}")])
    period_s = DoubleField(
        constraints=[Check(f"period_s BETWEEN {MIN_PERIOD_S:g} AND {MAX_PERIOD_S:g}")]
    )

    class Meta:
        table_name = "company_rate_limits"
        indexes = ((("company", "kind"), True),)


RATE_LIMIT_MODELS = (CompanyRateLimit,)

__all__ = [
    "KINDS",
    "MAX_PERIOD_S",
    "MAX_SENDS",
    "MIN_PERIOD_S",
    "RATE_LIMIT_MODELS",
    "CompanyRateLimit",
]
