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

- **A first batch waits for a free thread, not in a busy worker's prefetch** (:class:`FreeThreads`).
  A worker that consumes ``delivery_first`` (the main worker, whose threads a big campaign's
  batches keep busy for seconds, and each of ``worker_first``'s processes) fetches from it only
  as many messages as it has threads with nothing to do, so a chunk of first batches
  (``deliver_firsts``) stays in Redis for a free thread instead of waiting behind a running
  batch or in a sibling process's prefetch. Measured (the tenants
  benchmark, 500 companies at once): the main worker's consumer took all 4 chunks and sent them
  1.5 s later, when its threads' batches ended, while ``worker_first`` stood idle.

All rely on the internals of the pinned Dramatiq (2.2.1): its dispatch script's arguments, its
consumer's bookkeeping (``outstanding_message_count``, ``ack``/``nack``, ``prefetch``) and its
worker's ``worker_threads``, ``work_queue`` and ``consumers``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence

from dramatiq import Message, Middleware
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
        self._full_prefetch = prefetch

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
        room = self.broker.free_threads.get(self.queue_name)
        if room is not None and not self.message_cache:
            free = room()
            if free <= 0:  # every thread busy or given work: another worker may take these
                time.sleep(FREE_POLL_S)
                return None
            # Fetch no more than the free threads can start now (the rest stay in Redis).
            self.prefetch = min(self._full_prefetch, self.outstanding_message_count + free)
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


#: Seconds a consumer waiting for a free thread (:class:`FreeThreads`) sleeps between looks.
FREE_POLL_S = 0.02


class FreeThreads(Middleware):
    """Counts this process's threads busy with a message, and makes the consumer of ``queue``
    fetch only for free ones (module docstring). In a worker that consumes ``queue`` alone
    (``worker_first``, 2 processes) too: with a prefetch of 2 a thread, one process took every
    chunk of a burst and sent them on one core while the other stood idle."""

    def __init__(self, queue: str):
        self.queue = queue
        self._lock = threading.Lock()
        self._mine = threading.local()  # this thread's message was counted
        self.busy = 0

    def after_worker_boot(self, broker, worker) -> None:
        if self.queue not in worker.consumers:
            return

        def free() -> int:
            return worker.worker_threads - self.busy - worker.work_queue.qsize()

        broker.free_threads[self.queue] = free

    def before_process_message(self, broker, message) -> None:
        with self._lock:
            self.busy += 1
        self._mine.counted = True

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        self._done()

    def after_skip_message(self, broker, message) -> None:
        self._done()

    def _done(self) -> None:
        # Only what before_process_message counted: a middleware before it may skip a message.
        if getattr(self._mine, "counted", False):
            self._mine.counted = False
            with self._lock:
                self.busy -= 1


class Broker(RedisBroker):
    """:class:`RedisBroker` with :class:`Consumer` and :meth:`enqueue_many`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: Per queue, how many threads are free to take its messages (:class:`FreeThreads`).
        self.free_threads: dict[str, Callable[[], int]] = {}

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
