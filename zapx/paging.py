"""Pages as the Whaticket frontend expects them: ``{records, count, hasMore}``."""

from __future__ import annotations

from collections.abc import Callable

from zapx.errors import ValidationError

PAGE_SIZE = 20
MAX_PAGE = 100_000


def page_number(raw: object) -> int:
    """``pageNumber`` from a query string: 1 when absent, a 400 when not a positive integer."""
    if raw in (None, ""):
        return 1
    if isinstance(raw, str) and raw.isdigit() and 0 < int(raw) <= MAX_PAGE:
        return int(raw)
    raise ValidationError(
        f"pageNumber must be an integer between 1 and {MAX_PAGE}", field="pageNumber"
    )


def paginate(query, number: int, serialize: Callable, *, size: int = PAGE_SIZE) -> dict:
    """One page of ``query`` (already ordered) plus the total count of its rows."""
    offset = (number - 1) * size
    rows = list(query.limit(size).offset(offset))
    # A short page is the last one, so its total needs no COUNT(*).
    short = 0 < len(rows) < size or (number == 1 and not rows)
    count = offset + len(rows) if short else query.order_by().count()
    return {
        "records": [serialize(r) for r in rows],
        "count": count,
        "hasMore": count > number * size,
    }
