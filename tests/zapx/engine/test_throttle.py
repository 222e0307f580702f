"""SessionThrottle alone (no Pykka, no I/O): how campaigns share one connection's slots, the long
pause across them, rewind, and seeding from what the connection already did."""

from __future__ import annotations

import random

from zapx.campaigns.pacing import PacingSettings
from zapx.engine.throttle import SessionThrottle, Want, seed

HORIZON_S = 2.0


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def throttle(clock, **settings) -> SessionThrottle:
    s = PacingSettings(**({"jitter": 0.0, "longer_interval_after": 0} | settings))
    return SessionThrottle(1, 1, s, clock, rng=random.Random(7))


def run(t: SessionThrottle, clock: Clock, wants, seconds: float) -> list[tuple[int, float, float]]:
    """Plan every 0.25 s for ``seconds`` (each grant's slots counted as sent): (campaign, time,
    gap before) in slot order."""
    out = []
    end = clock.now + seconds
    while clock.now < end:
        for campaign_id, slots in t.plan(wants(), HORIZON_S).grants:
            out += [(campaign_id, at, gap) for at, gap in slots]
        clock.now += 0.25
    return sorted(out, key=lambda s: s[1])


def test_a_campaign_joining_a_busy_connection_is_served_at_the_next_round():
    clock = Clock()
    t = throttle(clock, message_interval_s=0.2)
    a = run(t, clock, lambda: [Want(1, 50, 4)], 3.0)
    assert {c for c, _, _ in a} == {1}
    promised = t.pacer.next_at
    grants = []
    while not grants:  # the next planning round with a slot within the horizon
        grants = t.plan([Want(1, 50, 4), Want(2, 50, 4)], HORIZON_S).grants
        clock.now += 0.25
    assert grants[0][0] == 2, "the newcomer goes first"
    assert grants[0][1][0][0] == promised, "after the slots already promised, not before"


def test_two_campaigns_alternate_batches_and_share_within_one_batch():
    clock = Clock()
    t = throttle(clock, message_interval_s=0.1)
    slots = run(t, clock, lambda: [Want(1, 10, 4), Want(2, 10, 4)], 20.0)
    counts = {c: sum(1 for s in slots if s[0] == c) for c in (1, 2)}
    assert abs(counts[1] - counts[2]) <= 10, counts
    runs = [slots[0][0]]
    for c, _, _ in slots[1:]:
        if c != runs[-1]:
            runs.append(c)
    assert len(runs) >= 10, "they take turns"
    gaps = [b[1] - a[1] for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) >= 0.1 - 1e-9


def test_the_long_pause_counts_every_campaigns_sends():
    clock = Clock()
    t = throttle(clock, message_interval_s=0.1, longer_interval_after=7, greater_interval_s=1.0)
    slots = run(t, clock, lambda: [Want(1, 3, 4), Want(2, 3, 4)], 30.0)
    assert {c for c, _, _ in slots} == {1, 2}
    since = 0
    for (_, a, _), (_, b, _) in zip(slots, slots[1:], strict=False):
        since += 1
        if b - a >= 1.0 - 1e-9:
            since = 0
        assert since < 7, "seven sends without the pause"


def test_a_new_campaign_does_not_rewind_the_connection():
    clock = Clock()
    t = throttle(clock, message_interval_s=0.5, longer_interval_after=2, greater_interval_s=5.0)
    t.plan([Want(1, 50)], HORIZON_S)  # 2 slots, then a long pause is promised
    promised = t.pacer.next_at
    assert promised >= clock.now + 5.0
    assert t.rewind(2) is False and t.pacer.next_at == promised
    # A campaign owning the schedule's tail, resumed, forgets its released slots.
    clock.now += 0.1
    assert t.rewind(1) is True and t.pacer.next_at < promised
    # ... but never those promised to another campaign.
    t2 = throttle(clock, message_interval_s=0.5)
    t2.plan([Want(1, 2)], HORIZON_S)
    t2.plan([Want(2, 2)], HORIZON_S + 2)
    before = t2.pacer.next_at
    assert t2.rewind(1) is False and t2.pacer.next_at == before


def test_a_fresh_throttle_spaces_its_first_slot():
    clock = Clock()
    t = throttle(clock, message_interval_s=0.3, jitter=0.2)
    [(_, slots)] = t.plan([Want(1, 1, 1, first=True)], HORIZON_S).grants
    assert slots[0][1] >= 0.3 * 0.8 - 1e-9


def test_seeding_from_the_gate_keeps_the_next_departure_and_the_long_pause_count():
    clock = Clock()
    t = throttle(clock, message_interval_s=0.2, longer_interval_after=5, greater_interval_s=3.0)
    seed(t, next_at=clock.now + 0.1, last_at=clock.now - 0.05, sends_since_pause=5, factor=0.5)
    [(_, slots)] = t.plan([Want(1, 5)], 10.0).grants
    # The pause was due: the first slot comes greater_interval after the last departure.
    assert slots[0][0] >= clock.now - 0.05 + 3.0 - 1e-9 and slots[0][1] >= 3.0
    assert t.pacer.factor < 1.0  # (recovering since)
    t2 = throttle(clock, message_interval_s=0.2, longer_interval_after=5, greater_interval_s=3.0)
    seed(t2, next_at=clock.now + 0.15, last_at=clock.now - 0.01, sends_since_pause=3)
    [(_, slots)] = t2.plan([Want(1, 5)], 10.0).grants
    assert slots[0][0] >= clock.now + 0.19 - 1e-9
    gaps = [b[0] - a[0] for a, b in zip(slots, slots[1:], strict=False)]
    assert gaps[1] >= 3.0 and max(gaps[:1] + gaps[2:]) < 3.0, "the pause after 2 more, not 5"
