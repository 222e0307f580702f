"""Pages as the Whaticket frontend expects them: ``{records, count, hasMore}``, or the key the
original names for the route instead of ``records`` (``contacts`` for contacts and list items)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from peewee import Field

from zapx.errors import ValidationError

PAGE_SIZE = 20
MAX_PAGE = 100_000


def page_number(raw: object) -> int:
    """``pageNumber`` from a query string: 1 when absent, a 400 when not a positive integer."""
    if raw in (None, ""):
        return 1
    # ASCII digits only ('²'.isdigit() is true), and few: int() refuses over 4300 digits.
    ok = isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 10
    if ok and 0 < int(raw) <= MAX_PAGE:
        return int(raw)
    raise ValidationError(
        f"pageNumber must be an integer between 1 and {MAX_PAGE}", field="pageNumber"
    )


def _page(
    rows: list, count: int, number: int, size: int, serialize: Callable, key: str = "records"
) -> dict:
    return {
        key: [serialize(r) for r in rows],
        "count": count,
        "hasMore": count > number * size,
    }


def paginate(
    query,
    number: int,
    serialize: Callable,
    *,
    size: int = PAGE_SIZE,
    count: int | None = None,
    key: str = "records",
) -> dict:
    """One page of ``query`` (already ordered) under ``key``, plus the total count of its rows
    (``count`` when the caller knows it, e.g. a stored total)."""
    offset = (number - 1) * size
    rows = list(query.limit(size).offset(offset))
    if count is None:
        # A short page is the last one, so its total needs no COUNT(*).
        short = 0 < len(rows) < size or (number == 1 and not rows)
        count = offset + len(rows) if short else query.order_by().count()
    return _page(rows, count, number, size, serialize, key)


def paginate_matches(
    query, number: int, serialize: Callable, *, size: int = PAGE_SIZE, key: str = "records"
) -> dict:
    """:func:`paginate` for a search: the page and the exact count from one pass over the matches.

    ``query`` is ordered by plain columns of its model (``ORDER BY name, id``) and filtered by a
    condition an unordered index answers (``search LIKE '%term%'`` and the trigram GIN index).
    Left to itself the planner often walks the sort-order index instead and filters every row
    until it has a page, which reads most of the table when the matches sort late (first names:
    ``maria`` sits behind every name from A to L), and the ``COUNT(*)`` then reads every match a
    second time. Here the matches' ids and sort keys are read once, through the search index,
    into a materialised CTE; the page is the ``size`` first of them in order (a top-N sort) and
    the count is their number. Cost: proportional to the number of matches, whatever their order.

    ``serialize`` receives plain objects with the table's columns as attributes (``company_id``,
    ``extra_info``...), not model instances.
    """
    sql, params = matches_page_sql(query, number, size=size)
    cursor = query.model._meta.database.execute_sql(sql, params)
    names = [column.name for column in cursor.description]
    # Plain rows with the columns as attributes: the driver already returns what the fields would
    # (aware datetimes, decoded JSON, booleans), and building model instances costs more than the
    # rest of the page's Python work.
    rows = [SimpleNamespace(**dict(zip(names, values, strict=True))) for values in cursor]
    if rows:
        count = rows[0].matches_count
    elif number == 1:
        count = 0
    else:  # a page past the last one: the rows say nothing about the total
        count = query.order_by().count()
    return _page(rows, count, number, size, serialize, key)


def matches_page_sql(query, number: int, *, size: int = PAGE_SIZE) -> tuple[str, tuple]:
    """The SQL and parameters :func:`paginate_matches` runs for page ``number`` of ``query``."""
    model = query.model
    meta = model._meta
    keys = []
    for node in query._order_by or ():
        if not isinstance(node, Field) or node.model is not model:
            raise ValueError(f"paginate_matches orders by columns of {model.__name__} only")
        keys.append(node)
    if meta.primary_key not in keys:
        keys.append(meta.primary_key)  # a total order, so pages never overlap
    matches_sql, params = query.order_by().select(*keys).sql()
    inner_order = ", ".join(f'"m"."{k.column_name}"' for k in keys)
    outer_order = ", ".join(f'"t"."{k.column_name}"' for k in keys)
    columns = ", ".join(f'"t"."{f.column_name}"' for f in meta.sorted_fields)
    pk = meta.primary_key.column_name
    sql = (
        f"WITH matches AS MATERIALIZED ({matches_sql}) "
        f"SELECT {columns}, (SELECT COUNT(*) FROM matches) AS matches_count "
        f'FROM "{meta.table_name}" AS "t" '
        f'WHERE "t"."{pk}" IN '
        f'(SELECT "m"."{pk}" FROM matches AS "m" ORDER BY {inner_order} LIMIT %s OFFSET %s) '
        f"ORDER BY {outer_order}"
    )
    return sql, (*params, size, (number - 1) * size)
