"""One pooled Redis client per process, with retries, and the key prefix every key carries.

Every client made here reports to the process's ``redis`` breaker (``zapx.dependencies``): the
outermost attempt of each command, pipeline and connect asks it first, and tells it the outcome
after the client's own retries. While it is open, calls are refused at once with
``RedisUnavailable`` (a ``redis.ConnectionError``).
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections.abc import Sequence

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from zapx import dependencies
from zapx.breakers import Breaker

_lock = threading.Lock()
_clients: dict[tuple, redis.Redis] = {}
#: The API's commands: a request must get its 503 within 2 s when Redis hangs.
API_TIMEOUT_S, API_RETRIES = 0.5, 1


class _Depth(threading.local):
    calls = 0


_depth = _Depth()


class GuardedRetry(Retry):
    """The client's retry policy, behind a breaker: the outermost call of a thread (a command,
    a pipeline, a connect) asks the breaker first and tells it the outcome once its retries are
    done; the calls redis-py nests in it (the connect of a command, the health check's PING of
    a new connection) make one attempt each, their failure being the outer attempt's.

    Why: redis-py retries those nested calls too, so each attempt of a command on a new
    connection to a Redis that accepts connections and answers nothing waited for the nested
    retries' timeouts as well. Measured on a SIGSTOPped Redis, a GET on a new connection: at
    0.5 s and 1 retry (the API's) 2.3 s before, 1.1 s now; at 0.5 s and 3 retries 11.5 s
    before; at 5 s and 3 retries (the workers') 20.7 s now.
    """

    def __init__(self, breaker: Breaker, backoff, retries: int, supported_errors=None):
        if supported_errors is None:
            super().__init__(backoff, retries)
        else:
            super().__init__(backoff, retries, supported_errors)
        self.breaker = breaker

    def __deepcopy__(self, memo):
        # Each connection gets a copy of its pool's retry: the copies share the one breaker.
        return GuardedRetry(
            self.breaker, copy.deepcopy(self._backoff, memo), self._retries,
            self._supported_errors,
        )  # fmt: skip

    def call_with_retry(self, do, fail, is_retryable=None, with_failure_count=False):
        if _depth.calls:  # nested in a call that retries: one attempt
            try:
                return do()
            except self._supported_errors as error:
                if not is_retryable or is_retryable(error):
                    fail(error, 1) if with_failure_count else fail(error)
                raise
        probe = self.breaker.before()
        _depth.calls += 1
        try:
            result = super().call_with_retry(do, fail, is_retryable, with_failure_count)
        except Exception as exc:
            # OSError: the socket's own error (a refused connect), wrapped by the caller.
            if isinstance(exc, OSError) or dependencies.redis_down(exc):
                self.breaker.record(failures=1, probe=probe, error=exc)
            else:  # Redis answered (a script's error, OOM): it is up
                self.breaker.record(successes=1, probe=probe)
            raise
        finally:
            _depth.calls -= 1
        self.breaker.record(successes=1, probe=probe)
        return result


def make_client(
    url: str,
    *,
    max_connections: int | None = 64,
    timeout_s: float = 5.0,
    retries: int = 3,
    breaker: Breaker | None = None,
) -> redis.Redis:
    """A new client for ``url``: socket connect and read timeouts of ``timeout_s`` seconds,
    ``retries`` retries with exponential backoff on connection errors and timeouts, behind
    ``breaker`` (the process's ``redis`` breaker by default)."""
    return redis.Redis.from_url(
        url,
        max_connections=max_connections,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        retry=GuardedRetry(
            breaker or dependencies.redis, ExponentialBackoff(cap=1.0, base=0.05), retries
        ),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def get_redis(
    url: str, *, max_connections: int = 64, timeout_s: float = 5.0, retries: int = 3
) -> redis.Redis:
    """The shared client for ``url`` (created once per process and settings; thread-safe).

    Commands retry ``retries`` times with exponential backoff on connection errors; socket
    timeouts are ``timeout_s`` seconds (the API's client: ``API_TIMEOUT_S``, ``API_RETRIES``).
    """
    key = (url, timeout_s, retries)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = make_client(
                url, max_connections=max_connections, timeout_s=timeout_s, retries=retries
            )
            _clients[key] = client
        return client


def maxmemory_policy(client: redis.Redis) -> str:
    """The server's ``maxmemory-policy``: from ``CONFIG GET``, else (a managed Redis may
    disable CONFIG) from ``INFO memory``. Raises ``redis.ResponseError`` when both are refused,
    ``redis.ConnectionError`` when Redis does not answer."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        policy = None
    if not policy:
        policy = client.info("memory").get("maxmemory_policy")
    if not policy:
        raise redis.ResponseError("neither CONFIG GET nor INFO memory tell maxmemory-policy")
    return policy.decode() if isinstance(policy, bytes) else str(policy)


def close_all() -> None:
    """Close every pooled client (at process shutdown, and between tests)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class Keys:
    """Namespaced keys: ``Keys("zapx:").of("company", 7)`` -> ``zapx:company:7``."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str):
        self.prefix = prefix if prefix.endswith(":") else prefix + ":"

    def of(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)


class _ThreadConnections(threading.local):
    """Each thread's own connection per client, for :func:`run_script`."""

    def __init__(self):
        self.by_client: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        #: client -> commands written by send_nowait whose replies are not read yet.
        self.pending: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        #: client -> the socket those commands were written on.
        self.pending_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.pid = os.getpid()


_threads = _ThreadConnections()
_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> {lua: Script}


def _connection(client: redis.Redis):
    """The calling thread's own connection to ``client``'s server (made on first use)."""
    if _threads.pid != os.getpid():  # a forked child never shares its parent's sockets
        _threads.by_client = weakref.WeakKeyDictionary()
        _threads.pending = weakref.WeakKeyDictionary()
        _threads.pending_on = weakref.WeakKeyDictionary()
        _threads.pid = os.getpid()
    conn = _threads.by_client.get(client)
    if conn is None:
        pool = client.connection_pool
        conn = _threads.by_client[client] = pool.connection_class(**pool.connection_kwargs)
    owed = _threads.pending.get(client)
    if owed and _threads.pending_on.get(client) is not conn._sock:
        # The socket they were written on is gone (closed, reconnected): their replies will
        # never come on this one, and whether they ran is unknown. Make them again.
        del _threads.pending[client]
        for command in owed:
            client.execute_command(*command)
    return conn


def _drop(client: redis.Redis, conn) -> list[tuple]:
    """Forget the thread's connection after a failure; the commands it may not have run."""
    if conn is not None:
        conn.disconnect()
    _threads.by_client.pop(client, None)
    return _threads.pending.pop(client, [])


def _begin(client: redis.Redis) -> tuple[Breaker | None, bool]:
    """A call on the thread's own connection is one call to the client's breaker: asked first
    (refused at once while open); the socket connect redis-py makes inside it is part of it."""
    breaker = getattr(client.get_retry(), "breaker", None)
    probe = breaker.before() if breaker is not None else False
    _depth.calls += 1
    return breaker, probe


def _end(breaker: Breaker | None, probe: bool, error: BaseException | None = None) -> None:
    _depth.calls -= 1
    if breaker is None:
        return
    if error is None or (isinstance(error, redis.RedisError) and not _lost(error)):
        breaker.record(successes=1, probe=probe)  # an error reply is Redis up
    elif _lost(error):
        breaker.record(failures=1, probe=probe, error=error)


def _lost(error: BaseException) -> bool:
    return isinstance(error, OSError) or dependencies.redis_down(error)


def _script(client: redis.Redis, lua: str):
    """The client's ``Script`` of ``lua``, registered once."""
    script = _scripts.get(client, {}).get(lua)
    if script is None:
        with _lock:
            by_lua = _scripts.setdefault(client, {})
            script = by_lua.get(lua) or by_lua.setdefault(lua, client.register_script(lua))
    return script


def run_scripts(
    client: redis.Redis, lua: str, calls: Sequence[tuple[Sequence[str], Sequence]]
) -> list:
    """``lua`` once for each ``(keys, args)`` of ``calls``, in one pipeline (one round trip for
    many batches' calls); the replies in order. ``EVALSHA`` alone: a pipeline of ``Script``
    calls asks ``SCRIPT EXISTS`` first, a second round trip every time (14% of a chunk of first
    batches' wall time under load). The calls the server answers ``NOSCRIPT`` (it lost its
    scripts: a restart) did not run, and run again once the script is loaded. A Redis failure
    raises (some calls may have run), and so does the first call's error reply."""
    if not calls:
        return []
    sha = _script(client, lua).sha
    replies = _evalsha_many(client, sha, calls)
    missing = [i for i, r in enumerate(replies) if isinstance(r, redis.exceptions.NoScriptError)]
    if missing:
        client.script_load(lua)
        again = _evalsha_many(client, sha, [calls[i] for i in missing])
        for i, reply in zip(missing, again, strict=True):
            replies[i] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def _evalsha_many(client: redis.Redis, sha: str, calls) -> list:
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
    return pipe.execute(raise_on_error=False)


def run_script(client: redis.Redis, lua: str, keys: Sequence[str], args: Sequence) -> object:
    """``EVALSHA`` of ``lua`` on a connection of the calling thread's own.

    For the calls made once per request or per message: through the client's pool, retry
    wrapper and ``Script`` object one call cost about three times its round trip in CPU; here it
    is one write and one read. Replies still owed to :func:`send_nowait` are read first (they
    come before this call's). Any failure drops the connection and makes the call the ordinary
    way (which loads the script after a Redis restart, reconnects and retries), so errors behave
    as the client's do; a lost connection counts as a failure to the client's breaker first.
    """
    script = _script(client, lua)
    breaker, probe = _begin(client)
    try:
        conn = _connection(client)
    except BaseException as exc:
        _end(breaker, probe, exc)
        raise
    owed_error = None
    try:
        # A health check's PING would read a reply owed to send_nowait as its own.
        healthy = not _threads.pending.get(client)
        conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args, check_health=healthy)
        owed_error = _read_owed(client, conn)
        reply = conn.read_response()
    except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.NoScriptError) as exc:
        # NOSCRIPT: the server restarted and lost the script; the others: the socket. A call
        # that timed out may have run: scripts given here must bear a second run (the client's
        # own retry does the same), as must what send_nowait wrote.
        _end(breaker, probe, exc)
        for command in _drop(client, conn):
            client.execute_command(*command)
        reply = script(keys=list(keys), args=list(args))
    except BaseException as exc:
        _end(breaker, probe, exc)
        raise
    else:
        _end(breaker, probe)
    if owed_error is not None:
        raise owed_error
    return reply


def _read_owed(client: redis.Redis, conn) -> redis.ResponseError | None:
    """Read the replies owed to send_nowait's commands (kept until read: a connection lost
    meanwhile makes them again). An error reply is returned once every reply is read, so the
    connection stays in step."""
    owed = _threads.pending.get(client)
    if not owed:
        return None
    error = None
    for _ in owed:
        try:
            conn.read_response()
        except redis.ResponseError as exc:
            error = error or exc
    del _threads.pending[client]
    return error


def send_nowait(client: redis.Redis, *commands: tuple) -> None:
    """Write ``commands`` on the calling thread's own connection without waiting for their
    replies, which the thread's next :func:`run_script` (or :func:`drain`) reads: the writes
    leave at once and cost no round trip of their own. Only for commands that bear a second
    run: after a failure they are made again the ordinary way."""
    breaker, probe = _begin(client)
    try:
        conn = _connection(client)
        # One write for all of them; no health check's PING while replies are owed.
        healthy = not _threads.pending.get(client)
        conn.send_packed_command(conn.pack_commands(commands), check_health=healthy)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        _end(breaker, probe, exc)
        for command in [*_drop(client, _threads.by_client.get(client)), *commands]:
            client.execute_command(*command)
        return
    except BaseException as exc:
        _end(breaker, probe, exc)
        raise
    _end(breaker, probe)
    _threads.pending.setdefault(client, []).extend(commands)
    _threads.pending_on[client] = conn._sock


def drain(client: redis.Redis) -> None:
    """Read the replies still owed to :func:`send_nowait` (its commands have then run)."""
    if not _threads.pending.get(client):
        return
    breaker, probe = _begin(client)
    try:
        conn = _connection(client)
        owed_error = _read_owed(client, conn)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        _end(breaker, probe, exc)
        for command in _drop(client, _threads.by_client.get(client)):
            client.execute_command(*command)
        return
    except BaseException as exc:
        _end(breaker, probe, exc)
        raise
    _end(breaker, probe)
    if owed_error is not None:
        raise owed_error
