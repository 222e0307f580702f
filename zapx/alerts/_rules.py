"""The periodic rules: each check reads one signal and says which subjects its rule holds for.

A check returns :class:`Findings`: the conditions that hold now (opened or touched), and the keys
to ``keep`` open without touching them (a subject the check cannot judge this time, e.g. a
campaign with too few sends in the window). Every other open alert of the rule is resolved. A
check that raises changes nothing: an unreadable signal is not a cleared one.

Units: seconds, ratios 0..1, bytes, counts (docs/ALERTS.md lists each rule's).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Sequence

import redis

from zapx.alerts._store import Condition
from zapx.circuits import CAMPAIGN, WHATSAPP, Circuits
from zapx.config import Config
from zapx.db import db, utcnow
from zapx.db.alert_models import ALERT_OPEN, Alert
from zapx.queue_stats import QueueStat
from zapx.status import BatchStatus, CampaignStatus, ConnectionStatus, RowStatus, sql

Key = tuple[int | None, str, str]


@dataclasses.dataclass(frozen=True)
class Findings:
    holding: list[Condition] = dataclasses.field(default_factory=list)
    keep: set[Key] = dataclasses.field(default_factory=set)


@dataclasses.dataclass(frozen=True)
class Active:
    """A campaign that is running or paused: ``(id, company id, connection id, status)``."""

    campaign_id: int
    company_id: int
    whatsapp_id: int | None
    status: str


def active_campaigns() -> list[Active]:
    """Campaigns EM_ANDAMENTO, PROGRAMADA or PAUSADA (one query; the rules share it)."""
    rows = db.execute_sql(
        "SELECT id, company_id, whatsapp_id, status FROM campaigns WHERE status IN ("
        + sql(CampaignStatus.EM_ANDAMENTO, CampaignStatus.PROGRAMADA, CampaignStatus.PAUSADA)
        + ")"
    ).fetchall()
    return [Active(*row) for row in rows]


class BreakerCheck:
    """breaker_open: a connection's breaker not closed (open, or half-open waiting for its
    probe) for ``alert_breaker_open_s`` while a running campaign waits on it; a campaign's
    breaker open while the campaign is running or paused.

    The breaker's ``since`` restarts at each re-open (open -> half-open -> open again), so a
    flapping breaker is timed from the first evaluation that saw it not closed (kept here, in
    memory), or from its ``since`` when that is earlier.
    """

    def __init__(self, circuits: Circuits, threshold_s: float, now: Callable[[], float]):
        self.circuits, self.threshold_s, self.now = circuits, threshold_s, now
        self.first_seen: dict[tuple[int, str], float] = {}

    def __call__(self, active: list[Active]) -> Findings:
        running = {
            (a.company_id, a.whatsapp_id) for a in active if a.status == CampaignStatus.EM_ANDAMENTO
        }
        alive = {(a.company_id, a.campaign_id) for a in active}
        companies = sorted({a.company_id for a in active})
        now = self.now()
        seen: dict[tuple[int, str], float] = {}
        holding = []
        for b in self.circuits.listing(companies) if companies else []:
            if b["state"] == "closed":
                continue
            pair = (b["companyId"], b["id"])
            if (b["name"] == WHATSAPP and pair not in running) or (
                b["name"] == CAMPAIGN and pair not in alive
            ):
                continue
            subject = f"{b['name']}:{b['id']}"
            since = datetime.datetime.fromisoformat(b["since"]).timestamp() if b["since"] else now
            first = min(self.first_seen.get((b["companyId"], subject), now), since)
            seen[(b["companyId"], subject)] = first
            open_s = now - first
            if open_s >= self.threshold_s:
                why = b["reason"] or b["lastError"] or "failures"
                holding.append(
                    Condition(
                        "breaker_open",
                        subject,
                        b["companyId"],
                        "critical" if b["name"] == WHATSAPP else "warning",
                        f"{subject} breaker {b['state']} for {open_s:.0f} s: {why}"[:500],
                        round(open_s, 1),
                        self.threshold_s,
                    )
                )
        self.first_seen = seen  # a breaker seen closed (or gone) starts over
        return Findings(holding)


_ERROR_RATE_SQL = f"""
SELECT b.campaign_id, b.company_id,
       count(*) FILTER (WHERE s.status = {sql(RowStatus.FAILED)}) AS failed,
       count(*) AS attempted
FROM campaign_batches b
JOIN campaign_shipping s ON s.batch_id = b.id
JOIN campaigns c ON c.id = b.campaign_id AND c.status = {sql(CampaignStatus.EM_ANDAMENTO)}
WHERE b.status = {sql(BatchStatus.DONE)} AND b.done_at >= %s
  AND s.status NOT IN ({sql(*RowStatus.OPEN)})
GROUP BY b.campaign_id, b.company_id
"""


def error_rate_check(config: Config) -> Callable[[list[Active]], Findings]:
    """campaign_error_rate: of a running campaign's rows attempted in batches done within
    ``alert_error_window_s`` seconds, the share that failed reaches ``alert_error_rate``, over
    at least ``alert_error_min_sample`` rows. Rows given back (throttled, retried) are not
    attempts: their batch id is cleared. Below the sample the alert stays as it is while the
    campaign runs; it resolves when the campaign stops running.

    One query over the window's batches (``campaign_batches (campaign_id, status)`` and the
    shipping rows' ``batch_id`` index): its cost follows the window's sends, not the campaigns'
    sizes.
    """

    def check(active: list[Active]) -> Findings:
        since = utcnow() - datetime.timedelta(seconds=config.alert_error_window_s)
        holding, keep, judged = [], set(), set()
        for campaign_id, company_id, failed, attempted in db.execute_sql(
            _ERROR_RATE_SQL, (since,)
        ).fetchall():
            subject = f"campaign:{campaign_id}"
            judged.add(campaign_id)
            if attempted < config.alert_error_min_sample:
                keep.add((company_id, "campaign_error_rate", subject))
                continue
            rate = failed / attempted
            if rate >= config.alert_error_rate:
                holding.append(
                    Condition(
                        "campaign_error_rate",
                        subject,
                        company_id,
                        "warning",
                        f"{failed} of {attempted} sends failed in the last "
                        f"{config.alert_error_window_s} s",
                        round(rate, 4),
                        config.alert_error_rate,
                    )
                )
        running = {
            (a.company_id, a.campaign_id) for a in active if a.status == CampaignStatus.EM_ANDAMENTO
        }
        # A running campaign with no batch done in the window: nothing to judge, kept as is.
        keep |= {(c, "campaign_error_rate", f"campaign:{i}") for c, i in running if i not in judged}
        return Findings(holding, keep)

    return check


_CONNECTION_DOWN_SQL = f"""
SELECT id, company_id, status, extract(epoch FROM now() - updated_at) AS down_s
FROM whatsapps
WHERE status <> {sql(ConnectionStatus.CONNECTED)} AND id = ANY(%s)
"""


def connection_down_check(config: Config) -> Callable[[list[Active]], Findings]:
    """connection_down: a connection not CONNECTED for ``alert_connection_down_s`` seconds (by
    its ``updated_at``, the time of its last change) while a campaign running, scheduled or
    paused uses it. A connection nobody sends through is not an alert."""

    def check(active: list[Active]) -> Findings:
        ids = sorted({a.whatsapp_id for a in active if a.whatsapp_id is not None})
        holding = []
        if ids:
            for whatsapp_id, company_id, status, down_s in db.execute_sql(
                _CONNECTION_DOWN_SQL, (ids,)
            ).fetchall():
                if float(down_s) >= config.alert_connection_down_s:
                    holding.append(
                        Condition(
                            "connection_down",
                            f"whatsapp:{whatsapp_id}",
                            company_id,
                            "critical",
                            f"connection {whatsapp_id} is {status} for {float(down_s):.0f} s",
                            round(float(down_s), 1),
                            config.alert_connection_down_s,
                        )
                    )
        return Findings(holding)

    return check


def spam_check(active: list[Active]) -> Findings:
    """spam_rate_limit is opened by the engine when a send answers 131048 (it pauses the
    campaign at once); here it only resolves: when its campaign is no longer PAUSADA (resumed,
    cancelled, finished, deleted)."""
    paused = {
        (a.company_id, f"campaign:{a.campaign_id}")
        for a in active
        if a.status == CampaignStatus.PAUSADA
    }
    keep = {
        (a.company_id, a.rule, a.subject)
        for a in Alert.select(Alert.company, Alert.rule, Alert.subject).where(
            Alert.rule == "spam_rate_limit", Alert.status == ALERT_OPEN
        )
        if (a.company_id, a.subject) in paused
    }
    return Findings(keep=keep)


def queue_stale(stats: Sequence[QueueStat], threshold_s: float) -> Findings:
    """queue_stale (system): a queue's oldest waiting message waited ``alert_queue_age_s``."""
    return Findings(
        [
            Condition(
                "queue_stale",
                f"queue:{s.name}",
                None,
                "warning",
                f"queue {s.name}: the oldest of {s.depth} waiting messages waited "
                f"{s.oldest_age_s:.0f} s",
                round(s.oldest_age_s, 1),
                threshold_s,
            )
            for s in stats
            if s.oldest_age_s >= threshold_s
        ]
    )


def dead_letters(
    client: redis.Redis, namespace: str, queues: Sequence[str], config: Config, now: float
) -> Findings:
    """dead_letters_growing (system): at least ``alert_dead_letters_min`` messages of a queue
    dead-lettered within the last ``alert_dead_letters_window_s`` seconds. Read from the
    dead-letter set's scores (the time each died, ms: ``zapx.queue_stats``' key layout), so an
    engine restart loses no history and Dramatiq's expiry of old dead letters is no drop."""
    since_ms = (now - config.alert_dead_letters_window_s) * 1000
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.zcount(f"{namespace}:{queue}.XQ", since_ms, "+inf")
    holding = []
    for queue, count in zip(queues, pipe.execute(), strict=True):
        if int(count) >= config.alert_dead_letters_min:
            holding.append(
                Condition(
                    "dead_letters_growing",
                    f"queue:{queue}",
                    None,
                    "warning",
                    f"queue {queue}: {count} messages dead-lettered in the last "
                    f"{config.alert_dead_letters_window_s} s",
                    float(count),
                    float(config.alert_dead_letters_min),
                )
            )
    return Findings(holding)


def redis_memory(client: redis.Redis, ratio: float) -> Findings:
    """redis_memory_high (system): ``used_memory / maxmemory`` reaches ``ratio``. zapx runs
    Redis with ``noeviction``: at maxmemory every write fails, the queues' included."""
    info = client.info("memory")
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    if limit <= 0 or used / limit < ratio:
        return Findings()
    return Findings(
        [
            Condition(
                "redis_memory_high",
                "redis",
                None,
                "critical",
                f"redis uses {used} of {limit} bytes ({used / limit:.0%})",
                round(used / limit, 4),
                ratio,
            )
        ]
    )
