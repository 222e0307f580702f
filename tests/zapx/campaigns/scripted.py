"""Scripted stand-ins for the sender tests (test_sending, test_window_script): a gate that
answers from a script, and a batch's claim and campaign context built without a database."""

from __future__ import annotations

import json
import time

from zapx.campaigns import batches
from zapx.campaigns.context import CampaignContext
from zapx.campaigns.pacing import PacingSettings
from zapx.campaigns.templates import Template
from zapx.schedule import Grant


class Gate:
    """Answers acquire from a script; records every call."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.acquired, self.released, self.throttles = [], [], []
        self.calls = []

    def acquire(
        self,
        wa,
        company,
        campaign,
        recipient,
        settings,
        limits,
        holder,
        ago,
        progress=None,
        started=0,
        outcomes=(),
    ):
        assert progress is not None and progress.generation == 1
        self.acquired.append((recipient, holder, ago))
        # What the script writes: the outcomes first, whatever it answers.
        self.calls.append(("gate", started, [json.loads(o)[0] for o in outcomes]))
        return self.answers.pop(0) if self.answers else Grant(time.time(), 1, 0.0)

    def release(self, wa, company, holder, ago):
        self.released.append(holder)
        return True

    def throttled(self, wa, company, retry_after_s=None, *, max_per_s=80.0):
        self.throttles.append((retry_after_s, max_per_s))
        return 0.5


def row(i: int) -> batches.Row:
    """Row ``i`` (id and contact id ``i``) of a batch, never tried before."""
    return batches.Row(i, i, f"55119{i:08d}", "n", "", "", "", "", [], 0, 0, False)


def claim(rows: int) -> batches.Claim:
    """Batch 7 of campaign 3 (company 1, connection 2, generation 1) claimed with ``rows``
    rows, ids 1 to ``rows``."""
    return batches.Claim(7, 3, 1, 2, 1, [], [row(i) for i in range(1, rows + 1)])


def context(provider, interval_s: float = 0.0) -> CampaignContext:
    """Campaign 3's context: one text message, ``provider``, an interval of ``interval_s``
    (seconds) and no jitter."""
    return CampaignContext(
        campaign_id=3,
        company_id=1,
        messages=(Template("oi"),),
        confirmations=(Template("oi"),),
        confirmation=False,
        variables={},
        provider=provider,
        media_url=None,
        media_type=None,
        media_name=None,
        pacing=PacingSettings(message_interval_s=interval_s, jitter=0.0),
    )
