"""Dramatiq's Redis broker with two changes for bursts of small messages (a mass start's first
batches, docs/ENGINE.md "First messages"):

- **A full consumer waits for an ack, not an idle backoff.** Dramatiq's consumer stops fetching
  once it holds ``prefetch`` messages (2 per worker thread) and then sleeps as if its queue were
  empty, backing off up to the worker's idle poll (250 ms, 50 ms for ``worker_first``) while
  its threads finish and sit idle. With one-row first batches of about 40 ms, that capped a
  worker process at about ``prefetch`` messages per poll interval (the tenants benchmark: 125-150
  first batches a second over 20 threads). Here a full consumer waits until a quarter of its
  prefetch is acked (at most the poll interval), then fetches again.
- **Many messages due now go in one round trip** (:meth:`Broker.enqueue_many`): the enqueue
  script of each in one pipeline, instead of one call (0.3-0.5 ms on a busy host) each.

Both rely on the internals of the pinned Dramatiq (2.2.1): its dispatch script's arguments and
its consumer's bookkeeping (``outstanding_message_count``, ``ack``/``nack``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis


class Consumer(_RedisConsumer):
    """A consumer that refills as its prefetched messages are acked (see the module)."""

    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        self._acked = threading.Event()
        #: Outstanding messages above which a full consumer waits (a quarter of the prefetch
        #: free before it fetches again: fetches stay batched under load).
        self._refill_at = max(0, prefetch - max(1, prefetch // 4))

    def ack(self, message):
        try:
            super().ack(message)
        finally:
            self._acked.set()

    def nack(self, message):
        try:
            super().nack(message)
        finally:
            self._acked.set()

    def __next__(self):
        if not self.message_cache and self.outstanding_message_count > self._refill_at:
            self._acked.clear()
            # Checked again after the clear: an ack in between would otherwise be missed.
            while self.outstanding_message_count > self._refill_at:
                if not self._acked.wait(self.timeout / 1000):
                    break
                self._acked.clear()
            # None lets the consumer thread move delayed messages and see a shutdown; it calls
            # again at once.
            return None
        return super().__next__()


class Broker(RedisBroker):
    """:class:`RedisBroker` with :class:`Consumer` and :meth:`enqueue_many`."""

    @property
    def consumer_class(self):
        return Consumer

    def enqueue_many(self, messages: Sequence[Message]) -> None:
        """Enqueue ``messages`` (due now, no delay) in one pipeline: what :meth:`enqueue` does
        for each, middleware hooks included, in one round trip."""
        if not messages:
            return
        dispatch = self.scripts["dispatch"]
        keys = [self.namespace]
        sent = []
        with self.client.pipeline(transaction=False) as pipe:
            for message in messages:
                message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
                self.emit_before("enqueue", message, None)
                args = [
                    "enqueue",
                    current_millis(),
                    message.queue_name,
                    self.broker_id,
                    self.heartbeat_timeout,
                    self.dead_message_ttl,
                    self._should_do_maintenance("enqueue"),
                    self._max_unpack_size(),
                    message.options["redis_message_id"],
                    message.encode(),
                ]
                dispatch(keys=keys, args=args, client=pipe)
                sent.append(message)
            pipe.execute()
        for message in sent:
            self.emit_after("enqueue", message, None)
