"""The Directory stops an idle company actor only when no message it sent is still unhandled."""

import time

import pytest

from actors.engine import directory as directory_module
from actors.engine.directory import BIRTHS_AFTER_BURST, BIRTHS_PER_TICK, DirectoryActor
from zapx import dependencies
from zapx.breakers import Breaker, Policy
from zapx.campaigns import flags
from zapx.config import load_config
from zapx.engine.messages import BatchReport, CampaignChanged, FirstBatch, Outcome
from zapx.engine.planning import FIRST_WAIT_S
from zapx.redis import get_redis


class FakeRef:
    actor_urn = "urn:fake"

    def __init__(self, proxy=None):
        self.stopped = False
        self._proxy = proxy

    def proxy(self):
        return self._proxy

    def is_alive(self):
        return not self.stopped

    def stop(self, block=True, timeout=None):
        self.stopped = True


class FakeMethod:
    def __init__(self, calls, name):
        self.calls, self.name = calls, name

    def defer(self, *args):
        self.calls.append((self.name, args))


class FakeProxy:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return FakeMethod(self.calls, name)


class FakeOutbox:
    def __init__(self):
        self.sent = []

    def send_batch(self, batch_id, company_id, first, delay_s):
        self.sent.append((batch_id, first, delay_s))

    def send_first_batches(self, batches, counted=False):
        for batch_id, company_id in batches:
            self.send_batch(batch_id, company_id, True, 0.0)

    def send_alert(self, alert_id, kind):
        self.sent.append(("alert", alert_id, kind))


def directory_with(company_id: int):
    d = DirectoryActor(load_config(), FakeOutbox())  # not started: methods called directly
    ref, proxy = FakeRef(), FakeProxy()
    d.companies[company_id], d.proxies[company_id], d.routed[company_id] = ref, proxy, 0
    return d, ref, proxy


def test_idle_after_the_last_message_stops_the_actor():
    d, ref, proxy = directory_with(7)
    d.handle(CampaignChanged(7, 70))
    d.handle(BatchReport(company_id=7, campaign_id=70, whatsapp_id=1, batch_id=1, generation=0))
    assert [name for name, _ in proxy.calls] == ["refresh", "batch_done"]
    assert d.routed[7] == 2
    d.company_idle(7, 2)
    assert ref.stopped
    assert 7 not in d.companies and 7 not in d.proxies and 7 not in d.routed


def test_idle_reported_before_a_later_message_keeps_the_actor():
    d, ref, _ = directory_with(7)
    d.handle(CampaignChanged(7, 70))
    d.handle(CampaignChanged(7, 71))
    d.company_idle(7, 1)  # idle after the first: the second may give it work
    assert not ref.stopped and d.companies[7] is ref
    d.company_idle(7, 2)
    assert ref.stopped


def test_idle_of_an_unknown_or_replaced_company_is_ignored():
    d, ref, _ = directory_with(7)
    d.company_idle(8, 0)
    assert not ref.stopped and set(d.companies) == {7}


def test_unreadable_batch_progress_counts_as_none():
    d = DirectoryActor(load_config(), FakeOutbox())
    client = get_redis(d.config.redis_url)
    started_key, outcomes_key = flags.progress_keys(d.keys, 4321, 987654)
    try:
        client.set(started_key, "not a count")
        assert d.duties.progress([(987654, 4321)]) == {}
        client.set(started_key, 2)
        client.rpush(outcomes_key, '[1, "sent", "wamid.A", null, "Oi", 0.0]')
        found = d.duties.progress([(987654, 4321)])
        assert found == {987654: (2, [Outcome(1, "sent", "wamid.A", None, "Oi", 0.0)])}
    finally:
        client.delete(started_key, outcomes_key)


class NoDuties:
    """Duties that must not run (the tick is skipped), and say so if they do."""

    def redis_lost(self):
        raise AssertionError("the tick ran")

    def start_due(self):
        raise AssertionError("the tick ran")


def test_the_tick_is_skipped_while_a_dependency_breaker_is_open(database_url, monkeypatch):
    clock = [100.0]
    down = Breaker("database", Policy(consecutive=1, open_s=2), clock=lambda: clock[0])
    monkeypatch.setattr(dependencies, "BREAKERS", (down,))
    d = DirectoryActor(load_config(), FakeOutbox())  # not started: methods called directly
    d.duties = NoDuties()
    down.failure("refused")
    d.tick()
    d.tick()
    assert d.skipped_ticks == 2
    clock[0] += 2  # half-open: the next tick is the probe
    with pytest.raises(AssertionError, match="the tick ran"):
        d.tick()
    assert d.skipped_ticks == 2


class FakeCompanyActor:
    """``CompanyActor`` as the Directory starts it: records each start and its adopted batches."""

    def __init__(self):
        self.started: list[tuple[int, list[FirstBatch]]] = []
        self.proxies: dict[int, FakeProxy] = {}

    def start(self, company_id, directory, budget, config, outbox, adopted=(), working=None):
        self.started.append((company_id, list(adopted)))
        self.proxies[company_id] = FakeProxy()
        return FakeRef(self.proxies[company_id])


@pytest.fixture
def actors(monkeypatch):
    fake = FakeCompanyActor()
    monkeypatch.setattr(directory_module, "CompanyActor", fake)
    return fake


def mass_start(d: DirectoryActor, companies: range) -> list[FirstBatch]:
    firsts = [FirstBatch(c, c * 10, 0, c * 100, 1) for c in companies]
    d._adopt_first_batches([(f.company_id, f.campaign_id) for f in firsts], firsts)
    return firsts


def test_a_mass_start_makes_no_actor_until_a_first_batch_reports(actors):
    d = DirectoryActor(load_config(), FakeOutbox())  # not started: methods called directly
    d._me = FakeProxy()
    firsts = mass_start(d, range(1, 501))
    assert actors.started == [] and d.companies == {}
    assert d.budget.active == 500  # their first batches are live work: the budget is shared
    d.handle(BatchReport(company_id=7, campaign_id=70, whatsapp_id=7, batch_id=700, generation=0))
    # The report makes company 7's actor, which counts its first batch before the report.
    assert actors.started == [(7, [firsts[6]])]
    assert [name for name, _ in actors.proxies[7].calls] == ["batch_done"]
    assert 7 not in d.unborn and len(d.unborn) == 499 and d.budget.active == 500
    d.handle(CampaignChanged(8, 80))  # a command for one (a pause) makes it too
    assert actors.started[-1] == (8, [firsts[7]])


def test_first_batches_without_a_report_get_their_actor_after_the_wait(actors):
    d = DirectoryActor(load_config(), FakeOutbox())
    d._me = FakeProxy()
    firsts = mass_start(d, range(1, 2 * BIRTHS_PER_TICK + 11))
    now = time.time()
    d._birth_due(now)
    assert actors.started == []  # not before FIRST_WAIT_S: their reports may come first
    d._birth_due(now + FIRST_WAIT_S + 0.01)
    assert actors.started == [(f.company_id, [f]) for f in firsts[:BIRTHS_PER_TICK]]
    d._birth_due(now + FIRST_WAIT_S + 0.3)
    d._birth_due(now + FIRST_WAIT_S + 0.6)
    assert [c for c, _ in actors.started] == [f.company_id for f in firsts]  # oldest first
    assert d.unborn == {}


def test_a_first_batch_of_a_company_with_an_actor_is_adopted_by_it(actors):
    d, ref, proxy = directory_with(7)
    (first,) = mass_start(d, range(7, 8))
    assert proxy.calls == [("adopt", (first,))] and actors.started == [] and d.unborn == {}


def test_reports_during_a_burst_are_held_and_their_actors_made_after_it(actors):
    """While the burst's first batches are pending no report makes an actor (the cores go to
    the other first messages); once none is pending, the tick makes them, BIRTHS_AFTER_BURST a
    tick, each given its held report after the first batch it counts."""
    d = DirectoryActor(load_config(), FakeOutbox())
    d._me = FakeProxy()
    firsts = mass_start(d, range(1, BIRTHS_AFTER_BURST + 51))
    d.burst_pending = 700
    reports = [
        BatchReport(
            company_id=f.company_id,
            campaign_id=f.campaign_id,
            whatsapp_id=0,
            batch_id=f.batch_id,
            generation=0,
        )
        for f in firsts
    ]
    for report in reports:
        d.handle(report)
    d._birth_due(time.time() + FIRST_WAIT_S + 1)  # not even the wait's births, while pending
    assert actors.started == [] and len(d.held) == len(firsts)
    d.burst_pending = 0
    d._birth_due(time.time())
    assert [c for c, _ in actors.started] == [f.company_id for f in firsts[:BIRTHS_AFTER_BURST]]
    assert actors.proxies[1].calls == [("batch_done", (reports[0],))]
    assert d.routed[1] == 1  # counted: company_idle compares with it
    d._birth_due(time.time())
    assert len(actors.started) == len(firsts) and d.held == {} and d.unborn == {}
    d.handle(reports[0])  # a report once born goes straight to the actor
    assert actors.proxies[1].calls[-1] == ("batch_done", (reports[0],))


class CompletedDuties:
    """Duties whose completion finished the audiences of companies 7 (an actor) and 8 (none)."""

    def complete_audiences(self):
        return [(7, 70), (8, 80), (7, 71)]


def test_completed_audiences_refresh_only_the_companies_that_have_an_actor(actors):
    d, _, proxy = directory_with(7)
    d.duties = CompletedDuties()
    d._complete_audiences()
    assert proxy.calls == [("refresh", (70,)), ("refresh", (71,))]
    # Company 8's actor reads its campaigns from the database when it is made.
    assert actors.started == [] and 8 not in d.companies


class BurstDuties:
    """A tick's duties during a burst that the tick's own starts announced."""

    def __init__(self):
        self.pending, self.completed = 0, 0

    def redis_lost(self):
        return None

    def start_due(self):
        self.pending = 300  # announced by these starts
        first = FirstBatch(5, 50, 0, 500, 1)
        return [([(5, 50)], [first])]

    def burst_pending(self):
        return self.pending

    def complete_audiences(self):
        self.completed += 1
        return []

    def sweep(self):
        return []


def test_the_audiences_are_completed_once_the_burst_is_out(database_url, actors):
    """The tick that starts a burst, and every tick while it is pending, leaves the rest of the
    audiences for later: their copy took PostgreSQL's time from the burst's first messages."""
    d = DirectoryActor(load_config(), FakeOutbox())
    d._me = FakeProxy()
    d.duties = duties = BurstDuties()
    d.tick()
    assert d.burst_pending == 300 and duties.completed == 0  # read after the starts
    duties.start_due = lambda: []
    d.tick()
    assert duties.completed == 0
    duties.pending = 0
    d.tick()
    assert duties.completed == 1


def test_a_tick_s_births_stop_at_their_time_budget(actors, monkeypatch):
    """Births that take long (a thread's start under load) end the tick's births at
    BIRTHS_BUDGET_S; the rest are made by the next ticks, oldest first."""
    d = DirectoryActor(load_config(), FakeOutbox())
    d._me = FakeProxy()
    firsts = mass_start(d, range(1, 41))
    slow_start = actors.start

    def start(*args, **kwargs):
        time.sleep(0.01)
        return slow_start(*args, **kwargs)

    monkeypatch.setattr(actors, "start", start)
    monkeypatch.setattr(directory_module, "BIRTHS_BUDGET_S", 0.05)
    later = time.time() + FIRST_WAIT_S + 1
    began = time.perf_counter()
    d._birth_due(later)
    assert time.perf_counter() - began < 0.05 + 0.03
    made = len(actors.started)
    assert 3 <= made <= 7
    while d.unborn:
        d._birth_due(later)
    assert [c for c, _ in actors.started] == [f.company_id for f in firsts]
