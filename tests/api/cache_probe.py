"""What the query-cache tests share: one company's counts of a namespace, and the check that a
cached read stays current across a write (read: miss, read: hit, write, read: a fresh miss)."""

from __future__ import annotations

from collections.abc import Callable

from zapx import cache
from zapx.redis import get_redis


def counts(config, company_id: int, namespace: str) -> dict:
    """``{hit, miss, invalidation}`` of one company's namespace (zeros before any)."""
    got = cache.stats(get_redis(config.redis_url), config.redis_prefix, company_id)
    return dict.fromkeys(cache.KINDS, 0) | got.get(namespace, {})


def delta(before: dict, after: dict) -> tuple[int, int, int]:
    """(hits, misses, invalidations) between two :func:`counts`."""
    return tuple(after[k] - before[k] for k in cache.KINDS)  # type: ignore[return-value]


def get(client, acct, path: str, params: dict | None = None):
    resp = client.simulate_get(path, params=params, headers=acct.headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    return resp


def fresh_after_write(
    client,
    config,
    acct,
    namespace: str,
    path: str,
    write: Callable[[], object],
    *,
    params: dict | None = None,
    bumps: bool = True,
) -> tuple[object, object]:
    """Read twice (a miss, then a hit with the same bytes), ``write()``, read again: the write
    bumped the namespace once or more (``bumps``; else the write changed the entry's key) and
    the third read is a miss (computed afresh). Returns the JSON of the first and the last
    read, for the caller to check the change."""
    start = counts(config, acct.company_id, namespace)
    first = get(client, acct, path, params)
    assert delta(start, counts(config, acct.company_id, namespace))[:2] == (0, 1)
    second = get(client, acct, path, params)
    warm = counts(config, acct.company_id, namespace)
    assert delta(start, warm)[:2] == (1, 1), "the second read is a hit"
    assert second.content == first.content
    write()
    written = counts(config, acct.company_id, namespace)
    if bumps:
        assert delta(warm, written)[2] >= 1, "the write bumped the namespace"
    third = get(client, acct, path, params)
    assert delta(written, counts(config, acct.company_id, namespace))[:2] == (0, 1)
    return first.json, third.json
