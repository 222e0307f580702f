"""What a batch keeps of each request's answer: the row's outcome, the batch's counts, the
breakers' counts, and the stop the answer calls for (shared by the serial and the concurrent
loops, :mod:`zapx.campaigns.sending` and :mod:`zapx.campaigns.window`)."""

from __future__ import annotations

import random

from zapx.campaigns import batches
from zapx.engine.messages import Outcome, Stop
from zapx.providers import AMBIGUOUS, AUTH, PERMANENT, SENT, THROTTLE, TRANSIENT
from zapx.providers.cloud import spam_rate_limited
from zapx.status import RowStatus


def retry_backoff_s(attempts: int) -> float:
    """Exponential with full jitter: about 2, 4, 8 ... seconds, at most 300."""
    return min(300.0, 2.0**attempts) * random.uniform(0.5, 1.5)


class Recorder:
    """Mixed into a batch's sender: needs ``claim``, ``ctx``, ``gate``, ``on_spam``, ``health``,
    ``outcomes`` and ``counts``."""

    def _count(self, result) -> None:
        """Count ``result`` for the breakers: the connection's failures are the transport's
        (timeouts, connection errors, 5xx), the campaign's the per-recipient ones (an invalid
        number, a rejected message). A throttle or a lost authorization is neither (the gate
        and the connection's pause handle those)."""
        health = self.health
        if result.outcome in (THROTTLE, AUTH):
            return
        health.calls += 1
        if result.outcome in (AMBIGUOUS, TRANSIENT):
            health.failures += 1
            health.error = result.error or ""
            return
        health.sends += 1
        if result.outcome == SENT:
            health.tail, health.succeeded = 0, True
            return
        health.failed += 1
        health.tail += 1
        health.campaign_error = result.error or ""

    def _record(self, row, result, text: str, confirming: bool) -> Stop | None:
        """Keep the outcome of ``row``'s request; the stop it calls for, if any."""
        out, counts = self.outcomes, self.counts
        self._count(result)
        if result.outcome == SENT:
            status = RowStatus.AWAITING if confirming else RowStatus.SENT
            out.append(Outcome(row.id, status, result.message_id, None, text))
            counts[RowStatus.SENT] += 1
        elif result.outcome == PERMANENT:
            out.append(Outcome(row.id, RowStatus.FAILED, None, result.error, text))
            counts[RowStatus.FAILED] += 1
        elif result.outcome == AMBIGUOUS:
            out.append(Outcome(row.id, RowStatus.UNKNOWN, None, result.error, text))
            counts[RowStatus.UNKNOWN] += 1
        elif result.outcome == THROTTLE:
            delay = result.retry_after_s or retry_backoff_s(1)
            out.append(Outcome(row.id, "throttled", None, result.error, None, delay))
            counts["retry"] += 1
            # Every sender of the connection slows, not only this batch's engine plan.
            self.gate.throttled(
                self.claim.whatsapp_id,
                self.claim.company_id,
                result.retry_after_s,
                max_per_s=self.ctx.pacing.max_per_s,
            )
            if spam_rate_limited(result):
                # Sending on risks the number: the campaign pauses now (its other batches stop
                # within their message on the wire), and the report tells the engine.
                if self.on_spam is not None:
                    self.on_spam(result.error or "")
                return Stop.SPAM
            return Stop.THROTTLE  # sending more now only collects more 429s
        elif row.attempts >= batches.MAX_ATTEMPTS:
            out.append(Outcome(row.id, RowStatus.FAILED, None, f"gave up: {result.error}", text))
            counts[RowStatus.FAILED] += 1
        else:
            delay = retry_backoff_s(row.attempts)
            out.append(Outcome(row.id, RowStatus.PENDING, None, result.error, None, delay))
            counts["retry"] += 1
            if result.outcome == AUTH:
                return Stop.AUTH  # the connection is gone: the engine pauses its campaigns
        return None
