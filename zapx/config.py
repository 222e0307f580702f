"""Configuration read from environment variables, validated once at start.

Every setting has a documented default (see ``docs/CONFIG.md``); a malformed value raises
:class:`~zapx.errors.ConfigError` naming the variable, so a process refuses to start instead of
failing later in the middle of a request.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from zapx import config_values as v
from zapx.breakers import Policy
from zapx.config_values import mask_url
from zapx.errors import ConfigError

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
    batch_size: int = 200
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
    # --- metrics (issue 15, docs/METRICS.md) ---
    #: Bearer token that opens ``GET /metrics`` on the API's address ("": not served there).
    metrics_token: str = ""
    #: host:port gunicorn also listens on, where ``/metrics`` needs no token and nothing else
    #: is served ("": no such listener).
    metrics_bind: str = ""
    # --- alerts (issue 15, zapx/alerts, docs/ALERTS.md) --------------------------------------
    #: Whether the engine evaluates the alert rules, and seconds between two evaluations.
    alert_enabled: bool = True
    alert_interval_s: float = 15.0
    #: breaker_open: seconds a breaker stays not closed (open or half-open) before it alerts.
    alert_breaker_open_s: float = 120.0
    #: queue_stale: seconds the oldest waiting message of a queue may wait.
    alert_queue_age_s: float = 300.0
    #: campaign_error_rate: failed / attempted over the last ``alert_error_window_s`` seconds,
    #: once at least ``alert_error_min_sample`` rows were attempted in that window.
    alert_error_rate: float = 0.2
    alert_error_window_s: int = 600
    alert_error_min_sample: int = 50
    #: redis_memory_high: used_memory / maxmemory (a Redis without maxmemory never alerts).
    alert_redis_memory_ratio: float = 0.9
    #: connection_down: seconds a connection with campaigns to send is not CONNECTED.
    alert_connection_down_s: float = 60.0
    #: dead_letters_growing: new dead-lettered messages in a queue over the window (seconds).
    alert_dead_letters_min: int = 1
    alert_dead_letters_window_s: int = 900
    #: Seconds one webhook POST may take (connect and read each).
    alert_webhook_timeout_s: float = 5.0
    # --- issue 15, query cache (branch i15-cache, docs/CACHE.md) ---
    #: Lifetime of a cached campaign report (seconds; its send rate and estimated end are
    #: "now"-relative, so shorter than ``query_cache_ttl_s``); 0 never caches reports.
    query_cache_report_ttl_s: int = 5

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
_VARIABLES: tuple[tuple[str, str, object], ...] = (
    ("ZAPX_ENV", "env", v.choice(*_ENVS)),
    ("DATABASE_URL", "database_url", v.url("postgresql", "postgres")),
    ("DB_POOL_SIZE", "db_pool_size", v.int_range(1, 500)),
    ("DB_CONNECT_TIMEOUT_S", "db_connect_timeout_s", v.int_range(2, 60)),
    ("REDIS_URL", "redis_url", v.url("redis", "rediss", "unix")),
    ("REDIS_PREFIX", "redis_prefix", v.prefix),
    ("SECRET_KEY", "secret_key", v.secret),
    ("JWT_TTL_S", "jwt_ttl_s", v.int_range(60, 30 * 86400)),
    ("PHONE_DEFAULT_REGION", "phone_region", v.region),
    ("MAX_BODY_BYTES", "max_body_bytes", v.int_range(1024, 64 * 1024 * 1024)),
    ("UPLOAD_MAX_BYTES", "upload_max_bytes", v.int_range(1024, 4 * 1024 * 1024 * 1024)),
    ("API_BIND", "api_bind", v.bind),
    ("API_WORKER_CLASS", "api_worker_class", v.choice("sync", "gthread")),
    ("API_WORKERS", "api_workers", v.int_range(1, 64)),
    ("API_THREADS", "api_threads", v.int_range(1, 256)),
    ("SANDBOX_BIND", "sandbox_bind", v.bind),
    ("LOG_LEVEL", "log_level", v.level),
    ("LOG_FORMAT", "log_format", v.choice("json", "text")),
    ("BATCH_LEASE_S", "batch_lease_s", v.int_range(2, 86_400)),
    ("BATCH_SIZE", "batch_size", v.int_range(1, 500)),
    ("ENGINE_BUDGET", "engine_budget", v.int_range(1, 100_000)),
    ("GOVERNOR_ENABLED", "governor_enabled", v.boolean),
    ("GOVERNOR_INTERVAL_S", "governor_interval_s", v.int_range(1, 3600)),
    ("GOVERNOR_COOLDOWN_S", "governor_cooldown_s", v.int_range(1, 3600)),
    ("GOVERNOR_CPU_PERCENT", "governor_cpu_percent", v.int_range(1, 100)),
    ("GOVERNOR_MEMORY_PERCENT", "governor_memory_percent", v.int_range(1, 100)),
    ("GOVERNOR_QUEUE_DEPTH", "governor_queue_depth", v.int_range(1, 10_000_000)),
    ("GOVERNOR_QUEUE_AGE_S", "governor_queue_age_s", v.int_range(1, 86_400)),
    ("GOVERNOR_DB_LATENCY_MS", "governor_db_latency_ms", v.int_range(1, 60_000)),
    ("GOVERNOR_REDIS_LATENCY_MS", "governor_redis_latency_ms", v.int_range(1, 60_000)),
    ("WHATSAPP_BREAKER_FAILURE_RATE", "whatsapp_breaker_failure_rate", v.rate),
    ("WHATSAPP_BREAKER_MIN_CALLS", "whatsapp_breaker_min_calls", v.int_range(1, 1_000_000)),
    ("WHATSAPP_BREAKER_WINDOW_S", "whatsapp_breaker_window_s", v.int_range(6, 3600)),
    ("WHATSAPP_BREAKER_OPEN_S", "whatsapp_breaker_open_s", v.int_range(1, 3600)),
    ("CAMPAIGN_BREAKER_CONSECUTIVE", "campaign_breaker_consecutive", v.int_range(1, 1_000_000)),
    ("CAMPAIGN_BREAKER_FAILURE_RATE", "campaign_breaker_failure_rate", v.rate),
    ("CAMPAIGN_BREAKER_MIN_CALLS", "campaign_breaker_min_calls", v.int_range(1, 1_000_000)),
    ("MEDIA_DIR", "media_dir", v.path),
    ("IMPORT_DIR", "import_dir", v.path),
    ("IMPORT_CHUNK_ROWS", "import_chunk_rows", v.int_range(100, 1_000_000)),
    ("PUBLIC_URL", "public_url", v.url("http", "https")),
    ("QUERY_CACHE_TTL_S", "query_cache_ttl_s", v.int_range(0, 86_400)),
    ("LOGIN_WINDOW_S", "login_window_s", v.int_range(60, 86_400)),
    ("LOGIN_MAX_FAILURES", "login_max_failures", v.int_range(1, 1000)),
    ("LOGIN_MAX_FAILURES_PER_ADDRESS", "login_max_failures_per_address", v.int_range(1, 1_000_000)),
    ("TRUSTED_PROXIES", "trusted_proxies", v.networks),
    ("CONNECTION_ALLOWED_HOSTS", "connection_allowed_hosts", v.allowed_hosts),
    ("FRONTEND_URL", "frontend_origins", v.origins),
    ("CORS_MAX_AGE_S", "cors_max_age_s", v.int_range(0, 86_400)),
    ("REALTIME_BIND", "realtime_bind", v.bind),
    ("REALTIME_RECHECK_S", "realtime_recheck_s", v.int_range(1, 3600)),
    ("REFRESH_TTL_S", "refresh_ttl_s", v.int_range(300, 365 * 86400)),
    ("SESSION_COOKIE_SECURE", "session_cookie_secure", v.boolean),
    ("SESSION_COOKIE_SAMESITE", "session_cookie_samesite", v.same_site),
    ("SYSTEM_TITLE", "system_title", v.title),
    ("DEPENDENCY_BREAKER_WINDOW_S", "dependency_breaker_window_s", v.float_range(1, 3600)),
    ("DEPENDENCY_BREAKER_MIN_CALLS", "dependency_breaker_min_calls", v.int_range(1, 100_000)),
    ("DEPENDENCY_BREAKER_FAILURE_RATE", "dependency_breaker_failure_rate", v.float_range(0.01, 1)),
    ("DEPENDENCY_BREAKER_CONSECUTIVE", "dependency_breaker_consecutive", v.int_range(0, 100_000)),
    ("DEPENDENCY_BREAKER_OPEN_S", "dependency_breaker_open_s", v.float_range(0.1, 3600)),
    ("DEPENDENCY_BREAKER_MAX_OPEN_S", "dependency_breaker_max_open_s", v.float_range(0.1, 3600)),
    # metrics (issue 15)
    ("METRICS_TOKEN", "metrics_token", v.secret),
    ("METRICS_BIND", "metrics_bind", v.bind),
    # alerts (issue 15)
    ("ALERT_ENABLED", "alert_enabled", v.boolean),
    ("ALERT_INTERVAL_S", "alert_interval_s", v.float_range(0.1, 3600)),
    ("ALERT_BREAKER_OPEN_S", "alert_breaker_open_s", v.float_range(0, 86_400)),
    ("ALERT_QUEUE_AGE_S", "alert_queue_age_s", v.float_range(1, 86_400)),
    ("ALERT_ERROR_RATE", "alert_error_rate", v.rate),
    ("ALERT_ERROR_WINDOW_S", "alert_error_window_s", v.int_range(10, 86_400)),
    ("ALERT_ERROR_MIN_SAMPLE", "alert_error_min_sample", v.int_range(1, 1_000_000)),
    ("ALERT_REDIS_MEMORY_RATIO", "alert_redis_memory_ratio", v.rate),
    ("ALERT_CONNECTION_DOWN_S", "alert_connection_down_s", v.float_range(0, 86_400)),
    ("ALERT_DEAD_LETTERS_MIN", "alert_dead_letters_min", v.int_range(1, 1_000_000)),
    ("ALERT_DEAD_LETTERS_WINDOW_S", "alert_dead_letters_window_s", v.int_range(10, 7 * 86_400)),
    ("ALERT_WEBHOOK_TIMEOUT_S", "alert_webhook_timeout_s", v.float_range(0.5, 60)),
    # --- issue 15, query cache (branch i15-cache) ---
    ("QUERY_CACHE_REPORT_TTL_S", "query_cache_report_ttl_s", v.int_range(0, 3600)),
)

#: Variable name -> Config field name.
FIELDS = {name: field for name, field, _ in _VARIABLES}
#: Variable names and their defaults, for documentation and ``zapx config``.
DEFAULTS = {name: getattr(Config, field) for name, field in FIELDS.items()}
#: Variables never shown, and URL variables shown with their password masked.
SECRET_VARIABLES = ("SECRET_KEY", "METRICS_TOKEN")
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL")


def shown(config: Config) -> dict[str, object]:
    """Every variable's effective value, as ``zapx config`` prints them: secrets as ``***``,
    passwords inside URLs masked."""
    out: dict[str, object] = {}
    for name, field in FIELDS.items():
        value = getattr(config, field)
        if name in SECRET_VARIABLES:
            value = "***" if value else ""  # an unset METRICS_TOKEN shows as unset
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
    if config.metrics_bind and config.metrics_bind == config.api_bind:
        problems.append(
            "METRICS_BIND must differ from API_BIND (it serves /metrics without a token)"
        )
    if config.is_production and config.secret_key == _DEV_SECRET:
        problems.append("SECRET_KEY must be set in production (at least 32 characters)")
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return config
