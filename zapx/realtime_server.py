"""``zapx realtime``: the socket.io server the frontend keeps open (path ``/socket.io/``).

Why this shape: the API runs gunicorn's sync workers, one request at a time per process, and a
websocket lives for hours, so sockets get a process of their own. It is python-socketio's
asyncio server on aiohttp: one event loop holds thousands of idle websockets (1,000 connected in
2.7 s here and took 130 MB), where a threaded WSGI server (simple-websocket) would hold a thread
per socket, and eventlet or gevent would monkey-patch the sockets psycopg2 and redis-py use in
the same code base. The few blocking calls (the database check of a token) run in a small thread
pool.

- **Authentication**: the token the frontend sends as the query parameter ``token`` (or a
  socket.io ``auth`` of ``{"token": ...}``) is checked like the API's Bearer token: signature and
  expiry (:func:`zapx.auth.decode_token`), then the user's live standing
  (:func:`zapx.accounts.standing`, :func:`zapx.accounts.live_principal`). A refusal is a
  ``connect_error`` whose ``message`` says why; nothing is joined.
- **Tenancy**: a connection joins only ``company-{its company}-mainchannel`` and
  ``user-{its user}``; events are only ever sent to a company's room (:mod:`zapx.realtime`).
  Every ``REALTIME_RECHECK_S`` seconds the standing of each connected user is read again, and a
  revoked user (password, profile or company changed, deleted, company inactive) is
  disconnected. An expired token is not: it was valid at connect, the user still stands, and the
  frontend reloads the page when the server drops it.
- **Namespaces**: socket.io-client takes the path of ``REACT_APP_BACKEND_URL`` as the namespace
  (``https://host/api`` connects to ``/api``), so every namespace is accepted and every event is
  delivered in each namespace that has connections.
- **ready**: sent once the connection is accepted; the frontend waits for it.
- **Origins**: browsers' ``Origin`` must be one of ``FRONTEND_URL``, or the server's own origin
  when that is empty. Clients without an ``Origin`` (not browsers) are not checked: the token is
  what authenticates, never a cookie.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import socketio
from aiohttp import web

from zapx import accounts, dependencies, metrics
from zapx.auth import Principal, decode_token
from zapx.config import Config, load_config
from zapx.db import db, init_db
from zapx.errors import AuthError, ConfigError
from zapx.logs import setup_logging
from zapx.realtime import channel, company_room, user_room
from zapx.startup import require_noeviction

log = logging.getLogger("zapx.realtime.server")

#: Threads that check tokens against the database.
DB_THREADS = 4
#: Largest message a client may send, bytes (the frontend sends only small join/leave events).
MAX_MESSAGE_BYTES = 64 * 1024


class _EveryNamespace(socketio.AsyncRedisManager):
    """The server's Redis manager: an event published for ``/`` goes to the same room in
    every namespace that has connections (the frontend's namespace is its URL's path)."""

    async def _handle_emit(self, message):
        for namespace in list(self.get_namespaces()):
            await super()._handle_emit({**message, "namespace": namespace})


def _library_log(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.setLevel(logging.WARNING)
    return logger


def _query_token(environ: dict) -> str:
    values = parse_qs(environ.get("QUERY_STRING", "")).get("token") or [""]
    return values[0].strip().strip('"')  # the frontend sends it as stored; quotes are not ours


class RealtimeServer:
    """The socket.io application: who may connect, which rooms they join, periodic rechecks."""

    def __init__(self, config: Config):
        self.config = config
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            client_manager=_EveryNamespace(
                config.redis_url, channel=channel(config.redis_prefix), logger=log
            ),
            namespaces="*",
            cors_allowed_origins=list(config.frontend_origins) or None,
            cors_credentials=True,
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            # Their own loggers, not the libraries' defaults (which add a plain-text handler),
            # at WARNING: at INFO they log every packet.
            logger=_library_log("zapx.realtime.socketio"),
            engineio_logger=_library_log("zapx.realtime.engineio"),
        )
        self.sio.on("connect", self.on_connect, namespace="*")
        self.sio.on("disconnect", self.on_disconnect, namespace="*")
        self.pool = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="zapx-realtime-db")
        #: (namespace, sid) -> the principal it connected as
        self.sessions: dict[tuple[str, str], Principal] = {}

    # --- authentication ----------------------------------------------------------------------

    def _authenticate(self, token: str) -> Principal:
        """The live principal of ``token`` (runs in the pool: it queries the database)."""
        if not token:
            raise AuthError("missing token: connect with ?token=<access token>")
        claimed = decode_token(token, self.config.secret_key)
        with db.connection_context():
            return accounts.live_principal(claimed, accounts.standing(claimed.user_id))

    def _standings(self, user_ids: set[int]) -> dict[int, tuple[Principal, bool] | None]:
        with db.connection_context():
            return {user_id: accounts.standing(user_id) for user_id in user_ids}

    async def on_connect(self, namespace: str, sid: str, environ: dict, auth=None):
        token = _query_token(environ)
        if not token and isinstance(auth, dict):
            token = str(auth.get("token") or "")
        loop = asyncio.get_running_loop()
        try:
            principal = await loop.run_in_executor(self.pool, self._authenticate, token)
        except AuthError as exc:
            log.info("socket refused", extra={"namespace": namespace, "reason": exc.message})
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        self.sessions[(namespace, sid)] = principal
        await self.sio.enter_room(sid, company_room(principal.company_id), namespace=namespace)
        await self.sio.enter_room(sid, user_room(principal.user_id), namespace=namespace)
        # After this handler returns the server acknowledges the connection; "ready" must
        # follow that acknowledgement, so it is sent from a task of its own.
        self.sio.start_background_task(self._ready, namespace, sid)
        log.info(
            "socket connected",
            extra={
                "company_id": principal.company_id,
                "user_id": principal.user_id,
                "namespace": namespace,
            },
        )

    async def _ready(self, namespace: str, sid: str) -> None:
        await asyncio.sleep(0)
        if (namespace, sid) in self.sessions:
            await self.sio.emit("ready", to=sid, namespace=namespace, ignore_queue=True)

    async def on_disconnect(self, namespace: str, sid: str, reason=None):
        principal = self.sessions.pop((namespace, sid), None)
        if principal is not None:
            log.info(
                "socket disconnected",
                extra={
                    "company_id": principal.company_id,
                    "user_id": principal.user_id,
                    "reason": str(reason),
                },
            )

    # --- rechecks ----------------------------------------------------------------------------

    async def recheck(self) -> int:
        """Disconnect the connections whose user no longer stands; returns how many."""
        sessions = dict(self.sessions)
        if not sessions:
            return 0
        loop = asyncio.get_running_loop()
        users = {p.user_id for p in sessions.values()}
        standings = await loop.run_in_executor(self.pool, self._standings, users)
        dropped = 0
        for (namespace, sid), claimed in sessions.items():
            try:
                accounts.live_principal(claimed, standings.get(claimed.user_id))
            except AuthError as exc:
                dropped += 1
                log.info(
                    "socket revoked",
                    extra={
                        "company_id": claimed.company_id,
                        "user_id": claimed.user_id,
                        "reason": exc.message,
                    },
                )
                await self.sio.disconnect(sid, namespace=namespace, ignore_queue=True)
        return dropped

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.realtime_recheck_s)
            try:
                await self.recheck()
            except Exception as exc:  # noqa: BLE001 - the database may be down for a while
                log.warning("socket recheck failed", extra={"error": repr(exc)})

    # --- the web application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        self.sio.attach(app, socketio_path="socket.io")
        app.router.add_get("/health", self._health)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "connections": len(self.sessions)})

    async def _on_startup(self, app: web.Application) -> None:
        self._rechecker = asyncio.create_task(self._recheck_forever())

    async def _on_cleanup(self, app: web.Application) -> None:
        self._rechecker.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


def serve(config: Config) -> int:
    """Run the server on ``REALTIME_BIND`` until SIGTERM or SIGINT."""
    init_db(
        config.database_url,
        DB_THREADS,
        application_name="zapx-realtime",
        connect_timeout_s=config.db_connect_timeout_s,
    )
    dependencies.configure(config.dependency_policy)
    host, _, port = config.realtime_bind.rpartition(":")
    server = RealtimeServer(config)
    log.info("realtime listening", extra={"bind": config.realtime_bind})
    web.run_app(
        server.app(),
        host=host.strip("[]"),
        port=int(port),
        access_log=None,
        print=None,
        shutdown_timeout=5.0,
    )
    return 0


def main() -> int:
    """``python -m zapx.realtime_server`` (what ``zapx realtime`` runs): serve until SIGTERM."""
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"zapx realtime: {exc.message}", file=sys.stderr)
        return 2
    require_noeviction(config.redis_url, "realtime")
    setup_logging("realtime", config.log_level, config.log_format)
    metrics.start_process_metrics("realtime")
    try:
        return serve(config)
    finally:
        metrics.stop_process_metrics()
        metrics.mark_process_dead(os.getpid())


if __name__ == "__main__":
    sys.exit(main())
