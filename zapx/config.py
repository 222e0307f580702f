"""Configuration read from environment variables, validated once at start.

Every setting has a documented default (see ``docs/CONFIG.md``); a malformed value raises
:class:`~zapx.errors.ConfigError` naming the variable, so a process refuses to start instead of
failing later in the middle of a request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from urllib.parse import urlparse, urlsplit

import phonenumbers

from zapx.breakers import Policy
from zapx.errors import ConfigError
from zapx.outbound import parse_allowed

_DEV_SECRET = "zapx-development-secret-key-change-me-0123456789"
_ENVS = ("development", "test", "production")


@dataclasses.dataclass(frozen=True)
class Config:
    """Process settings. Durations are in seconds, sizes in bytes."""

    env: str = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/zapx"
    db_pool_size: int = 20
    #: Seconds a new PostgreSQL connection may take (libpq's ``connect_timeout``, 2 at least).
    db_connect_timeout_s: int = 2
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "zapx:"
    secret_key: str = _DEV_SECRET
    jwt_ttl_s: int = 8 * 3600
    phone_region: str = "BR"
    max_body_bytes: int = 1024 * 1024
    upload_max_bytes: int = 50 * 1024 * 1024
    api_bind: str = "127.0.0.1:8080"
    api_worker_class: str = "sync"
    api_workers: int = 8
    api_threads: int = 4
    sandbox_bind: str = "127.0.0.1:9090"
    log_level: str = "INFO"
    log_format: str = "json"
    batch_lease_s: int = 120
    batch_size: int = 50
    engine_budget: int = 64
    #: The governor (``zapx/engine/governor.py``): whether it runs, seconds between its
    #: samples, least seconds between two cuts, and its thresholds (docs/ENGINE.md).
    governor_enabled: bool = True
    governor_interval_s: int = 5
    governor_cooldown_s: int = 15
    governor_cpu_percent: int = 90
    governor_memory_percent: int = 90
    governor_queue_depth: int = 200
    governor_queue_age_s: int = 30
    governor_db_latency_ms: int = 200
    governor_redis_latency_ms: int = 50
    whatsapp_breaker_failure_rate: float = 0.5
    whatsapp_breaker_min_calls: int = 20
    whatsapp_breaker_window_s: int = 60
    whatsapp_breaker_open_s: int = 30
    campaign_breaker_consecutive: int = 50
    campaign_breaker_failure_rate: float = 0.8
    campaign_breaker_min_calls: int = 100
    media_dir: str = "var/media"
    import_dir: str = "var/imports"
    import_chunk_rows: int = 25_000
    public_url: str = ""
    query_cache_ttl_s: int = 60
    login_window_s: int = 900
    login_max_failures: int = 10
    login_max_failures_per_address: int = 100
    #: Networks of the reverse proxies whose ``X-Forwarded-For`` names the client (CIDR text).
    trusted_proxies: tuple[str, ...] = ()
    #: Hosts, IP addresses and CIDR networks connections may reach besides public https hosts
    #: (comma-separated; ``zapx/outbound.py``). Empty: public https hosts and the sandbox only.
    connection_allowed_hosts: str = ""
    #: The product name the frontend shows (its ``GET /settings/system_title``).
    system_title: str = "zapx"
    #: Browser origins (``scheme://host[:port]``) of the frontend, allowed cross-origin calls
    #: with credentials (CORS) and socket.io connections; empty: same-origin only.
    frontend_origins: tuple[str, ...] = ()
    #: Seconds a browser may cache a CORS preflight answer (Access-Control-Max-Age).
    cors_max_age_s: int = 7200
    realtime_bind: str = "127.0.0.1:8081"
    #: Seconds between the socket.io server's checks that each connected user still stands.
    realtime_recheck_s: int = 30
    #: Seconds a browser session's refresh token (the ``jrt`` cookie) lives after its last use.
    refresh_ttl_s: int = 7 * 86400
    #: ``Secure`` on the session cookie; None: in production only (``ZAPX_ENV``).
    session_cookie_secure: bool | None = None
    #: ``SameSite`` of the session cookie: Lax (the frontend and API on one site), or None for
    #: a frontend on another site (needs Secure).
    session_cookie_samesite: str = "Lax"
    #: The ``database`` and ``redis`` breakers of every process (``zapx.dependencies``).
    dependency_breaker_window_s: float = 10.0
    dependency_breaker_min_calls: int = 3
    dependency_breaker_failure_rate: float = 0.5
    dependency_breaker_consecutive: int = 3
    dependency_breaker_open_s: float = 2.0
    dependency_breaker_max_open_s: float = 15.0

    @property
    def dependency_policy(self) -> Policy:
        """When the ``database`` and ``redis`` breakers open, and for how long."""
        return Policy(
            window_s=self.dependency_breaker_window_s,
            min_calls=self.dependency_breaker_min_calls,
            failure_rate=self.dependency_breaker_failure_rate,
            consecutive=self.dependency_breaker_consecutive,
            open_s=self.dependency_breaker_open_s,
            max_open_s=self.dependency_breaker_max_open_s,
        )

    @property
    def public_base(self) -> str:
        """Where providers fetch campaign media: ``PUBLIC_URL`` or the API's own address."""
        return (self.public_url or f"http://{self.api_bind}").rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def cookie_secure(self) -> bool:
        """Whether the session cookie is sent over https only."""
        if self.session_cookie_secure is None:
            return self.is_production
        return self.session_cookie_secure


# (environment variable, field, parser); the parser raises ValueError with a human reason.
def _int(lo: int, hi: int):
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be an integer, got {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _float(lo: float, hi: float):
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
        if not lo <= value <= hi:  # NaN fails this too
            raise ValueError(f"must be between {lo:g} and {hi:g}, got {raw}")
        return value

    return parse


def _rate(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None
    if not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {value}")
    return value


def mask_url(url: str) -> str:
    """``url`` with its password shown as ``***``: in the user part (``user:pw@``, ``:pw@``)
    and in a ``password`` query parameter, as libpq and redis-py both accept."""
    parts = urlsplit(url)
    masked = url
    if "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{colon and ':***'}@{hostport}"
        masked = masked.replace("//" + parts.netloc, "//" + netloc, 1)
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    if query != parts.query:  # edited in place: urlunsplit would rewrite "unix:///" URLs
        head, mark, tail = masked.partition("?")
        masked = head + mark + tail.replace(parts.query, query, 1)
    return masked


def _url(*schemes: str):
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        # A unix socket URL (unix:///path/to/socket) names a path instead of a host.
        located = parts.path.startswith("/") if parts.scheme == "unix" else parts.hostname
        if parts.scheme not in schemes or not located:
            shown = mask_url(raw)
            raise ValueError(f"must look like {schemes[0]}://host[:port]/..., got {shown!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError on a non-numeric port
        except ValueError:
            raise ValueError(f"has an invalid port: {mask_url(raw)!r}") from None
        return raw

    return parse


def _choice(*choices: str):
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _bind(raw: str) -> str:
    if not re.fullmatch(r"[\w.\-:\[\]]+:\d{1,5}", raw) or int(raw.rsplit(":", 1)[1]) > 65535:
        raise ValueError(f"must be host:port, got {raw!r}")
    return raw


def _region(raw: str) -> str:
    value = raw.strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"must be an ISO 3166 region code known to phonenumbers, got {raw!r}")
    return value


def _prefix(raw: str) -> str:
    if not re.fullmatch(r"[\w:\-.]{1,64}", raw):
        raise ValueError(f"must be 1-64 characters of letters, digits, ':', '-', '.', got {raw!r}")
    return raw


def _title(raw: str) -> str:
    value = raw.strip()
    if not 1 <= len(value) <= 80 or not value.isprintable():
        raise ValueError(f"must be 1-80 printable characters, got {raw!r}")
    return value


def _secret(raw: str) -> str:
    if len(raw) < 32:
        raise ValueError("must be at least 32 characters long")
    return raw


def _path(raw: str) -> str:
    if "\x00" in raw or not raw.strip():
        raise ValueError("must be a directory path")
    return raw


def _networks(raw: str) -> tuple[str, ...]:
    out = []
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError:
            raise ValueError(
                f"must be IP addresses or CIDR networks, got {part.strip()!r}"
            ) from None
    return tuple(out)


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def _same_site(raw: str) -> str:
    return _choice("lax", "strict", "none")(raw).capitalize()


def _allowed_hosts(raw: str) -> str:
    parse_allowed(raw)  # raises ValueError naming the bad entry
    return raw.strip()


def _origins(raw: str) -> tuple[str, ...]:
    out = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        parts = urlparse(text.rstrip("/"))
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"has an invalid port: {text!r}") from None
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ValueError(
                f"must be origins like https://app.example.com[:port] (no path), got {text!r}"
            )
        # As a browser sends its Origin header: lower case, no default port.
        host = parts.netloc.lower().rsplit(":", 1)[0] if port else parts.netloc.lower()
        default = {"http": 80, "https": 443}[parts.scheme]
        out.append(f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else ""))
    return tuple(dict.fromkeys(out))


def _level(raw: str) -> str:
    return _choice("debug", "info", "warning", "error")(raw).upper()


_VARIABLES: tuple[tuple[str, str, object], ...] = (
    ("ZAPX_ENV", "env", _choice(*_ENVS)),
    ("DATABASE_URL", "database_url", _url("postgresql", "postgres")),
    ("DB_POOL_SIZE", "db_pool_size", _int(1, 500)),
    ("DB_CONNECT_TIMEOUT_S", "db_connect_timeout_s", _int(2, 60)),
    ("REDIS_URL", "redis_url", _url("redis", "rediss", "unix")),
    ("REDIS_PREFIX", "redis_prefix", _prefix),
    ("SECRET_KEY", "secret_key", _secret),
    ("JWT_TTL_S", "jwt_ttl_s", _int(60, 30 * 86400)),
    ("PHONE_DEFAULT_REGION", "phone_region", _region),
    ("MAX_BODY_BYTES", "max_body_bytes", _int(1024, 64 * 1024 * 1024)),
    ("UPLOAD_MAX_BYTES", "upload_max_bytes", _int(1024, 4 * 1024 * 1024 * 1024)),
    ("API_BIND", "api_bind", _bind),
    ("API_WORKER_CLASS", "api_worker_class", _choice("sync", "gthread")),
    ("API_WORKERS", "api_workers", _int(1, 64)),
    ("API_THREADS", "api_threads", _int(1, 256)),
    ("SANDBOX_BIND", "sandbox_bind", _bind),
    ("LOG_LEVEL", "log_level", _level),
    ("LOG_FORMAT", "log_format", _choice("json", "text")),
    ("BATCH_LEASE_S", "batch_lease_s", _int(2, 86_400)),
    ("BATCH_SIZE", "batch_size", _int(1, 500)),
    ("ENGINE_BUDGET", "engine_budget", _int(1, 100_000)),
    ("GOVERNOR_ENABLED", "governor_enabled", _bool),
    ("GOVERNOR_INTERVAL_S", "governor_interval_s", _int(1, 3600)),
    ("GOVERNOR_COOLDOWN_S", "governor_cooldown_s", _int(1, 3600)),
    ("GOVERNOR_CPU_PERCENT", "governor_cpu_percent", _int(1, 100)),
    ("GOVERNOR_MEMORY_PERCENT", "governor_memory_percent", _int(1, 100)),
    ("GOVERNOR_QUEUE_DEPTH", "governor_queue_depth", _int(1, 10_000_000)),
    ("GOVERNOR_QUEUE_AGE_S", "governor_queue_age_s", _int(1, 86_400)),
    ("GOVERNOR_DB_LATENCY_MS", "governor_db_latency_ms", _int(1, 60_000)),
    ("GOVERNOR_REDIS_LATENCY_MS", "governor_redis_latency_ms", _int(1, 60_000)),
    ("WHATSAPP_BREAKER_FAILURE_RATE", "whatsapp_breaker_failure_rate", _rate),
    ("WHATSAPP_BREAKER_MIN_CALLS", "whatsapp_breaker_min_calls", _int(1, 1_000_000)),
    ("WHATSAPP_BREAKER_WINDOW_S", "whatsapp_breaker_window_s", _int(6, 3600)),
    ("WHATSAPP_BREAKER_OPEN_S", "whatsapp_breaker_open_s", _int(1, 3600)),
    ("CAMPAIGN_BREAKER_CONSECUTIVE", "campaign_breaker_consecutive", _int(1, 1_000_000)),
    ("CAMPAIGN_BREAKER_FAILURE_RATE", "campaign_breaker_failure_rate", _rate),
    ("CAMPAIGN_BREAKER_MIN_CALLS", "campaign_breaker_min_calls", _int(1, 1_000_000)),
    ("MEDIA_DIR", "media_dir", _path),
    ("IMPORT_DIR", "import_dir", _path),
    ("IMPORT_CHUNK_ROWS", "import_chunk_rows", _int(100, 1_000_000)),
    ("PUBLIC_URL", "public_url", _url("http", "https")),
    ("QUERY_CACHE_TTL_S", "query_cache_ttl_s", _int(0, 86_400)),
    ("LOGIN_WINDOW_S", "login_window_s", _int(60, 86_400)),
    ("LOGIN_MAX_FAILURES", "login_max_failures", _int(1, 1000)),
    ("LOGIN_MAX_FAILURES_PER_ADDRESS", "login_max_failures_per_address", _int(1, 1_000_000)),
    ("TRUSTED_PROXIES", "trusted_proxies", _networks),
    ("CONNECTION_ALLOWED_HOSTS", "connection_allowed_hosts", _allowed_hosts),
    ("FRONTEND_URL", "frontend_origins", _origins),
    ("CORS_MAX_AGE_S", "cors_max_age_s", _int(0, 86_400)),
    ("REALTIME_BIND", "realtime_bind", _bind),
    ("REALTIME_RECHECK_S", "realtime_recheck_s", _int(1, 3600)),
    ("REFRESH_TTL_S", "refresh_ttl_s", _int(300, 365 * 86400)),
    ("SESSION_COOKIE_SECURE", "session_cookie_secure", _bool),
    ("SESSION_COOKIE_SAMESITE", "session_cookie_samesite", _same_site),
    ("SYSTEM_TITLE", "system_title", _title),
    ("DEPENDENCY_BREAKER_WINDOW_S", "dependency_breaker_window_s", _float(1, 3600)),
    ("DEPENDENCY_BREAKER_MIN_CALLS", "dependency_breaker_min_calls", _int(1, 100_000)),
    ("DEPENDENCY_BREAKER_FAILURE_RATE", "dependency_breaker_failure_rate", _float(0.01, 1)),
    ("DEPENDENCY_BREAKER_CONSECUTIVE", "dependency_breaker_consecutive", _int(0, 100_000)),
    ("DEPENDENCY_BREAKER_OPEN_S", "dependency_breaker_open_s", _float(0.1, 3600)),
    ("DEPENDENCY_BREAKER_MAX_OPEN_S", "dependency_breaker_max_open_s", _float(0.1, 3600)),
)

#: Variable name -> Config field name.
FIELDS = {name: field for name, field, _ in _VARIABLES}
#: Variable names and their defaults, for documentation and ``zapx config``.
DEFAULTS = {name: getattr(Config, field) for name, field in FIELDS.items()}
#: Variables never shown, and URL variables shown with their password masked.
SECRET_VARIABLES = ("SECRET_KEY",)
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL")


def shown(config: Config) -> dict[str, object]:
    """Every variable's effective value, as ``zapx config`` prints them: secrets as ``***``,
    passwords inside URLs masked."""
    out: dict[str, object] = {}
    for name, field in FIELDS.items():
        value = getattr(config, field)
        if name in SECRET_VARIABLES:
            value = "***"
        elif name in URL_VARIABLES and value:
            value = mask_url(value)
        out[name] = value
    return out


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build a :class:`Config` from ``environ`` (``os.environ`` by default).

    Raises :class:`ConfigError` listing every bad variable at once.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    problems = []
    for name, field, parse in _VARIABLES:
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[field] = parse(raw)  # type: ignore[operator]
        except ValueError as exc:
            problems.append(f"{name} {exc}")
    config = Config(**values)  # type: ignore[arg-type]
    if config.login_max_failures_per_address < config.login_max_failures:
        # Below the per-e-mail limit, one user's typos from a shared address would lock it.
        problems.append(
            "LOGIN_MAX_FAILURES_PER_ADDRESS must be at least LOGIN_MAX_FAILURES"
            f" ({config.login_max_failures}), got {config.login_max_failures_per_address}"
        )
    if config.session_cookie_samesite == "None" and not config.cookie_secure:
        # Browsers drop a SameSite=None cookie that is not Secure: every refresh would fail.
        problems.append("SESSION_COOKIE_SAMESITE=none needs SESSION_COOKIE_SECURE=true")
    if config.dependency_breaker_max_open_s < config.dependency_breaker_open_s:
        problems.append(
            "DEPENDENCY_BREAKER_MAX_OPEN_S must be at least DEPENDENCY_BREAKER_OPEN_S"
            f" ({config.dependency_breaker_open_s:g}), got {config.dependency_breaker_max_open_s:g}"
        )
    if config.is_production and config.secret_key == _DEV_SECRET:
        problems.append("SECRET_KEY must be set in production (at least 32 characters)")
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return config
