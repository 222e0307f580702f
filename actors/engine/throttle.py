"""SessionThrottleActor: the mailbox of one connection's
:class:`~zapx.engine.throttle.SessionThrottle`.

Started by the connection's company actor (a connection belongs to one company) for a connection
with live work, stopped when it has none. The company's lifecycle asks it through a
:class:`ThrottleHandle` (a :class:`~zapx.engine.throttle.ThrottlePort`): every ask is read with
``ASK_TIMEOUT_S``, and a throttle actor that died or did not answer is replaced by one rebuilt from
PostgreSQL and the gate's state in Redis (the lifecycle's ``build``), then asked again once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import pykka

from zapx.campaigns.pacing import PacingSettings
from zapx.engine.throttle import Plan, SessionThrottle, Want

log = logging.getLogger("zapx.engine.throttle")

#: Seconds an ask of a throttle actor may take (its work is arithmetic: microseconds).
ASK_TIMEOUT_S = 10.0
#: Seconds a throttle actor gets to stop.
STOP_TIMEOUT_S = 5.0


class SessionThrottleActor(pykka.ThreadingActor):
    """One connection's planning state; its methods are the throttle's."""

    def __init__(self, throttle: SessionThrottle):
        super().__init__()
        self.throttle = throttle

    def plan(self, wants: Sequence[Want], horizon_s: float) -> Plan:
        return self.throttle.plan(wants, horizon_s)

    def taken(self, campaign_id: int, count: int) -> None:
        self.throttle.taken(campaign_id, count)

    def rewind(self, campaign_id: int) -> bool:
        return self.throttle.rewind(campaign_id)

    def give_back(self, unused: int) -> None:
        self.throttle.give_back(unused)

    def throttled(self, retry_after_s: float | None) -> None:
        self.throttle.throttled(retry_after_s)

    def configure(self, settings: PacingSettings) -> None:
        self.throttle.configure(settings)

    def drop(self, campaign_id: int) -> None:
        self.throttle.drop(campaign_id)

    def served(self) -> dict[int, int]:
        """Slots dealt to each campaign (for tests and the log)."""
        return dict(self.throttle.served)


ThrottleProxy = pykka.ActorProxy[SessionThrottleActor]


class ThrottleHandle:
    """A :class:`~zapx.engine.throttle.ThrottlePort` over the connection's throttle actor."""

    def __init__(self, owner: ThrottleActors, whatsapp_id: int):
        self.owner = owner
        self.whatsapp_id = whatsapp_id
        self.build: Callable[[], SessionThrottle] | None = None

    def _ask(self, method: str, *args):
        for attempt in (1, 2):
            proxy = self.owner.proxy(self.whatsapp_id, self.build)
            try:
                return getattr(proxy, method)(*args).get(timeout=ASK_TIMEOUT_S)
            except (pykka.ActorDeadError, pykka.Timeout) as exc:
                log.error(
                    "session throttle failed; rebuilding it",
                    extra={
                        "company_id": self.owner.company_id,
                        "whatsapp_id": self.whatsapp_id,
                        "error": repr(exc),
                    },
                )
                self.owner.replace(self.whatsapp_id)
                if attempt == 2:
                    raise

    def plan(self, wants: Sequence[Want], horizon_s: float) -> Plan:
        return self._ask("plan", tuple(wants), horizon_s)

    def taken(self, campaign_id: int, count: int) -> None:
        self._ask("taken", campaign_id, count)

    def rewind(self, campaign_id: int) -> bool:
        return self._ask("rewind", campaign_id)

    def give_back(self, unused: int) -> None:
        self._ask("give_back", unused)

    def throttled(self, retry_after_s: float | None) -> None:
        self._ask("throttled", retry_after_s)

    def configure(self, settings: PacingSettings) -> None:
        self._ask("configure", settings)

    def drop(self, campaign_id: int) -> None:
        self._ask("drop", campaign_id)


class ThrottleActors:
    """:class:`~zapx.engine.throttle.Throttles` as actors: one per connection with live work,
    owned by the company actor whose thread alone calls this."""

    def __init__(self, company_id: int):
        self.company_id = company_id
        self.refs: dict[int, pykka.ActorRef[SessionThrottleActor]] = {}
        self.proxies: dict[int, ThrottleProxy] = {}
        self.handles: dict[int, ThrottleHandle] = {}

    def get(self, whatsapp_id: int, build: Callable[[], SessionThrottle]) -> ThrottleHandle:
        handle = self.handles.get(whatsapp_id)
        if handle is None:
            handle = self.handles[whatsapp_id] = ThrottleHandle(self, whatsapp_id)
        handle.build = build
        self.proxy(whatsapp_id, build)  # started now: the connection has live work
        return handle

    def proxy(self, whatsapp_id: int, build: Callable[[], SessionThrottle] | None) -> ThrottleProxy:
        ref = self.refs.get(whatsapp_id)
        if ref is None or not ref.is_alive():
            if build is None:
                raise pykka.ActorDeadError(f"no session throttle for connection {whatsapp_id}")
            ref = self.refs[whatsapp_id] = SessionThrottleActor.start(build())
            self.proxies[whatsapp_id] = ref.proxy()
        return self.proxies[whatsapp_id]

    def drop(self, whatsapp_id: int, campaign_id: int) -> None:
        ref = self.refs.get(whatsapp_id)
        if ref is not None and ref.is_alive():
            self.handles[whatsapp_id].drop(campaign_id)

    def replace(self, whatsapp_id: int) -> None:
        """Forget the connection's actor (stopped if alive): the next ask builds a new one."""
        ref = self.refs.pop(whatsapp_id, None)
        self.proxies.pop(whatsapp_id, None)
        if ref is not None:
            ref.stop(block=False)

    def stop(self, whatsapp_id: int) -> None:
        self.handles.pop(whatsapp_id, None)
        self.replace(whatsapp_id)

    def stop_all(self) -> None:
        for whatsapp_id in list(self.refs):
            self.stop(whatsapp_id)
