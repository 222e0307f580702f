"""The call before every send: the run flag decides, the batch's progress is kept."""

import pytest

from zapx.campaigns import flags
from zapx.engine.messages import Outcome
from zapx.engine.runflags import RunFlags
from zapx.redis import Keys, get_redis

ONE = Outcome(7, "sent", "wamid.X", None, "Oi")
TWO = Outcome(8, "pending", None, "HTTP 503", None, 4.5)


@pytest.fixture
def redis_keys(config):
    client, keys = get_redis(config.redis_url), Keys(config.redis_prefix + "flags-test:")
    yield client, keys
    found = list(client.scan_iter(match=keys.prefix + "*"))
    if found:
        client.delete(*found)


def test_a_running_campaign_lets_the_row_go_and_keeps_the_progress(redis_keys):
    client, keys = redis_keys
    RunFlags(client, keys).set(3, 5, 2)
    assert flags.batch_progress(client, keys, [(90, 3)]) == {}
    assert flags.before_send(client, keys, 3, 5, 2, 90, 1, [], 60)
    assert flags.before_send(client, keys, 3, 5, 2, 90, 2, [ONE], 60)
    assert flags.before_send(client, keys, 3, 5, 2, 90, 3, [TWO], 60)
    assert flags.batch_progress(client, keys, [(90, 3), (91, 3)]) == {90: (3, [ONE, TWO])}
    started, outcomes = flags.progress_keys(keys, 3, 90)
    assert 0 < client.ttl(started) <= 60 and 0 < client.ttl(outcomes) <= 60
    flags.clear_progress(client, keys, 3, 90)
    assert flags.batch_progress(client, keys, [(90, 3)]) == {}


@pytest.mark.parametrize("state", ["paused", "restarted"])
def test_a_stopped_campaign_stops_the_batch_but_keeps_what_was_done(redis_keys, state):
    client, keys = redis_keys
    RunFlags(client, keys).set(3, 5, 2)
    assert flags.before_send(client, keys, 3, 5, 2, 90, 1, [], 60)
    if state == "paused":
        RunFlags(client, keys).clear(3, 5)
    else:
        RunFlags(client, keys).set(3, 5, 3)  # a new generation: this batch is stale
    assert not flags.before_send(client, keys, 3, 5, 2, 90, 2, [ONE], 60)
    # The row that did not go is not counted as started; the one done before is recorded.
    assert flags.batch_progress(client, keys, [(90, 3)]) == {90: (1, [ONE])}


def test_a_claimed_batch_has_started_nothing(redis_keys):
    client, keys = redis_keys
    assert flags.mark_claiming(client, keys, 3, 91, 60)
    assert flags.batch_progress(client, keys, [(91, 3)]) == {91: (0, [])}


def test_marking_again_keeps_the_progress_of_the_run_already_sending(redis_keys):
    client, keys = redis_keys
    RunFlags(client, keys).set(3, 5, 2)
    assert flags.mark_claiming(client, keys, 3, 92, 60)
    assert flags.before_send(client, keys, 3, 5, 2, 92, 1, [], 60)
    assert not flags.mark_claiming(client, keys, 3, 92, 60)  # a duplicate message's run
    assert flags.batch_progress(client, keys, [(92, 3)])[92][0] == 1
