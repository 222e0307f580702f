"""The thread's own Redis connection: scripts, and writes sent without waiting for their reply."""

from __future__ import annotations

import uuid

import pytest
import redis

from zapx import redis as zredis
from zapx.redis import drain, get_redis, run_script, run_scripts, send_nowait

ECHO = "return {ARGV[1], redis.call('LLEN', KEYS[1])}"


@pytest.fixture
def key(redis_url, redis_prefix):
    client = get_redis(redis_url)
    name = f"{redis_prefix}nowait:{uuid.uuid4().hex}"
    yield client, name
    client.delete(name)


def test_replies_owed_to_a_nowait_write_are_read_before_the_next_scripts(key):
    client, name = key
    send_nowait(client, ("RPUSH", name, "a", "b"), ("EXPIRE", name, 60))
    # The script sees the writes (they ran first) and its own reply is its own, not theirs.
    assert run_script(client, ECHO, [name], ["x"]) == [b"x", 2]
    assert run_script(client, ECHO, [name], ["y"]) == [b"y", 2]
    assert 0 < client.ttl(name) <= 60


def test_drain_reads_the_owed_replies(key):
    client, name = key
    send_nowait(client, ("RPUSH", name, "a"))
    send_nowait(client, ("RPUSH", name, "b"))
    drain(client)
    assert client.lrange(name, 0, -1) == [b"a", b"b"]
    assert not zredis._threads.pending.get(client)
    assert run_script(client, ECHO, [name], ["z"]) == [b"z", 2]


def test_no_health_check_reads_an_owed_reply_as_its_pong(key):
    client, name = key
    run_script(client, ECHO, [name], ["warm"])  # the thread's connection exists
    conn = zredis._threads.by_client[client]
    send_nowait(client, ("RPUSH", name, "a"))
    conn.next_health_check = 0  # a health check is due
    assert run_script(client, ECHO, [name], ["x"]) == [b"x", 1]
    assert zredis._threads.by_client[client] is conn  # not dropped for a "bad PONG"


def test_a_connection_lost_with_replies_owed_makes_the_writes_again(key):
    client, name = key
    run_script(client, ECHO, [name], ["warm"])
    conn = zredis._threads.by_client[client]
    send_nowait(client, ("SADD", name + ":set", "a"))
    conn.disconnect()  # lost before the replies were read
    try:
        assert run_script(client, ECHO, [name], ["x"]) == [b"x", 0]
        assert client.smembers(name + ":set") == {b"a"}
    finally:
        client.delete(name + ":set")


def test_an_error_reply_to_a_nowait_write_is_raised_and_the_connection_stays_in_step(key):
    client, name = key
    client.set(name, "a string")
    send_nowait(client, ("RPUSH", name, "a"))  # WRONGTYPE
    with pytest.raises(Exception, match="WRONGTYPE"):
        run_script(client, "return ARGV[1]", [name], ["x"])
    assert run_script(client, "return ARGV[1]", [name], ["y"]) == b"y"


def test_an_error_reply_owed_is_raised_when_the_script_is_not_loaded_yet(key):
    client, name = key
    lua = f"return '{uuid.uuid4().hex}'"  # a script the server has never seen: NOSCRIPT
    client.set(name, "a string")
    send_nowait(client, ("RPUSH", name, "a"))
    with pytest.raises(Exception, match="WRONGTYPE"):
        run_script(client, lua, [name], [])
    assert run_script(client, "return ARGV[1]", [name], ["y"]) == b"y"


def test_run_scripts_is_one_round_trip_and_loads_a_script_the_server_lacks(key, monkeypatch):
    """A script the server has never seen (a fresh one: as after a Redis restart) runs once per
    call, in order, loaded on the way; then each run is one pipeline of EVALSHA only (no
    ``SCRIPT EXISTS`` round trip)."""
    client, key = key
    lua = f"-- {uuid.uuid4()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"
    assert run_scripts(client, lua, [([key], [1]), ([key], [2]), ([key], [3])]) == [1, 3, 6]
    sent = []
    execute = redis.client.Pipeline.execute

    def counted(self, *args, **kwargs):
        sent.append([c[0][0] for c in self.command_stack])
        return execute(self, *args, **kwargs)

    def refused(self, *args, **options):
        raise AssertionError(f"a command outside the pipeline: {args[0]}")

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    monkeypatch.setattr(redis.client.Pipeline, "immediate_execute_command", refused)
    assert run_scripts(client, lua, [([key], [10]), ([key], [20])]) == [16, 36]
    assert sent == [["EVALSHA", "EVALSHA"]]


def test_run_scripts_raises_an_error_reply_after_every_call_ran(key):
    client, key = key
    lua = "if ARGV[1] == 'x' then return redis.error_reply('bad') end " + (
        "return redis.call('INCR', KEYS[1])"
    )
    with pytest.raises(redis.ResponseError, match="bad"):
        run_scripts(client, lua, [([key], ["a"]), ([key], ["x"]), ([key], ["b"])])
    assert int(client.get(key)) == 2
