"""The one writer of the campaigns' Redis run flags (DESIGN rule 4; read by the send gate).

A worker sends a batch's next row only while its campaign's flag holds the batch's generation: a
pause or cancel stops sending within one message. The flags are a cache of PostgreSQL: the engine
sets the flag of every campaign it runs whenever it (re)builds a company (``CompanyLifecycle``),
and again when Redis lost its data (``Duties.redis_lost``: a mark key gone), so a Redis
restarted empty stops a running campaign for no longer than a tick. Only the
lifecycle (``zapx.engine.lifecycle``) and the commands it shares with the API
(``zapx.engine.commands``; the delivery worker applies their pause on Cloud API 131048) hold a
:class:`RunFlags`.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from zapx.campaigns.flags import run_key
from zapx.redis import Keys


class RunFlags:
    """The run flags under ``keys`` in ``client`` (one pooled client per process)."""

    def __init__(self, client: redis.Redis, keys: Keys):
        self.client = client
        self.keys = keys

    def set(self, company_id: int, campaign_id: int, generation: int) -> None:
        """Mark the campaign running in ``generation`` (batches of other generations stop)."""
        self.client.set(run_key(self.keys, company_id, campaign_id), generation)

    def set_many(self, running: Iterable[tuple[int, int, int]]) -> None:
        """Mark each (company id, campaign id, generation) running, in one pipeline (mass
        starts)."""
        pipe = self.client.pipeline(transaction=False)
        for company_id, campaign_id, generation in running:
            pipe.set(run_key(self.keys, company_id, campaign_id), generation)
        pipe.execute()

    def clear(self, company_id: int, campaign_id: int) -> None:
        """The campaign does not run: its workers stop before their next message."""
        self.client.delete(run_key(self.keys, company_id, campaign_id))
