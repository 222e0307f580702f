"""The thread's own Redis connection: scripts, and writes sent without waiting for their reply."""

from __future__ import annotations

import uuid

import pytest

from zapx import redis as zredis
from zapx.redis import drain, get_redis, run_script, send_nowait

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
