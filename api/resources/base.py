"""What every resource shares: the injected dependencies and small request helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import falcon
import redis
from falcon.media.multipart import BodyPart

from actors.inbox import send_command
from zapx.cache import REPORTS, QueryCache
from zapx.config import Config
from zapx.engine.messages import Command
from zapx.engine.runflags import RunFlags
from zapx.errors import ValidationError
from zapx.outbound import Outbound
from zapx.paging import page_number
from zapx.redis import Keys
from zapx.schedule import SendGate
from zapx.uploads import clean_filename
from zapx.validation import positive_id, text_problem


@dataclasses.dataclass(frozen=True)
class Deps:
    """Services handed to ``create_app``: tests pass their own, ``get_app`` builds them from env."""

    config: Config
    redis: redis.Redis
    #: Sends a command to the engine (fire-and-forget); by default through the ``engine`` queue.
    notify: Callable[[Command], None] = send_command

    def notify_engine(self, command: Command) -> None:
        self.notify(command)

    @property
    def run_flags(self) -> RunFlags:
        """The campaigns' run flags, written by the commands the API shares with the engine."""
        return RunFlags(self.redis, Keys(self.config.redis_prefix))

    @property
    def outbound(self) -> Outbound:
        """Where connections may send (``CONNECTION_ALLOWED_HOSTS``, the sandbox)."""
        return Outbound.from_config(self.config)

    @property
    def gate(self) -> SendGate:
        """The connections' send schedule (read by ``/whatsapps/{id}/pacing``)."""
        return SendGate(self.redis, Keys(self.config.redis_prefix))

    @property
    def keys(self) -> Keys:
        return Keys(self.config.redis_prefix)

    @property
    def query_cache(self) -> QueryCache:
        """The Redis query cache (``QUERY_CACHE_TTL_S``, reports ``QUERY_CACHE_REPORT_TTL_S``;
        0 reads without it, writes still bump)."""
        cfg = self.config
        return QueryCache(
            self.redis,
            cfg.redis_prefix,
            cfg.query_cache_ttl_s,
            ((REPORTS, cfg.query_cache_report_ttl_s),),
        )


class Resource:
    """Base of the resources: holds ``deps``, never per-request state."""

    def __init__(self, deps: Deps):
        self.deps = deps

    @property
    def region(self) -> str:
        return self.deps.config.phone_region


def body(req: falcon.Request) -> object:
    """The decoded JSON body; malformed or missing JSON is a 400 from Falcon's media handler.

    Every JSON route reads its body here, so the Content-Type rule is this one place: anything
    but ``application/json`` (a form, or no Content-Type, which Falcon would otherwise read as
    a form or as JSON by default) is a 415 before the body is read.
    """
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != falcon.MEDIA_JSON:
        got = f"got {req.content_type[:100]!r}" if req.content_type else "got none"
        raise falcon.HTTPUnsupportedMediaType(
            description=f"send Content-Type: application/json with a JSON body ({got})"
        )
    try:
        return req.get_media()
    except RecursionError:
        raise ValidationError("request body is nested too deeply") from None


def form_parts(req: falcon.Request) -> Iterator[BodyPart]:
    """The parts of a ``multipart/form-data`` body, read to its closing boundary: a body of
    another type, or one cut short or malformed, is a 400 (field ``file``). A caller consumes
    them all before it keeps anything, so a truncated upload never counts as whole."""
    if not (req.content_type or "").startswith("multipart/form-data"):
        raise ValidationError(
            "send the file as multipart/form-data in a field named 'file'", field="file"
        )
    return _parts(req.get_media())


def _parts(form) -> Iterator[BodyPart]:
    try:
        for part in form:
            try:
                _ = part.name  # decodes the part's Content-Disposition (UTF-8)
            except UnicodeDecodeError:
                raise ValidationError(
                    "a multipart part's Content-Disposition (its name or file name) is not "
                    "valid UTF-8 text",
                    field="file",
                ) from None
            yield part
    except falcon.MediaMalformedError as exc:
        raise ValidationError(
            f"the multipart body is cut short or malformed: {exc.description}", field="file"
        ) from None


def upload_name(part: BodyPart) -> str:
    """The cleaned file name of a multipart part (``zapx.uploads.clean_filename``); ``""``
    when it has none. A name that is not UTF-8 or holds a NUL is a 400."""
    try:
        raw = part.filename or ""
    except (UnicodeDecodeError, falcon.MediaMalformedError):
        raise ValidationError("the file name is not valid UTF-8 text", field="file") from None
    return clean_filename(raw)


def ident(raw: str, name: str = "id") -> int:
    """A path id: a positive integer, else a 400 naming the parameter."""
    return positive_id(raw, name)


def page(req: falcon.Request) -> tuple[str | None, int]:
    """``(searchParam, pageNumber)`` of a list request."""
    search = req.get_param("searchParam")
    if search is not None and len(search) > 200:
        raise ValidationError("searchParam must be at most 200 characters", field="searchParam")
    problem = text_problem(search) if search is not None else None
    if problem:
        raise ValidationError(f"searchParam {problem}", field="searchParam")
    return search, page_number(req.get_param("pageNumber"))


def no_content(resp: falcon.Response) -> None:
    resp.status = falcon.HTTP_204
