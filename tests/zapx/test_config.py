"""zapx.config: defaults, parsing of every variable, and refusals that name the variable."""

from __future__ import annotations

import dataclasses
import json

import pytest

from zapx import cli
from zapx.breakers import Policy
from zapx.config import DEFAULTS, Config, load_config, mask_url
from zapx.errors import ConfigError

GOOD_SECRET = "s" * 40

# (variable, Config field, a good raw value, what it parses to)
GOOD = [
    ("ZAPX_ENV", "env", " TEST ", "test"),
    (
        "DATABASE_URL",
        "database_url",
        "postgresql://app:pw@db.example:6543/zapx",
        "postgresql://app:pw@db.example:6543/zapx",
    ),
    ("DATABASE_URL", "database_url", "postgres://db.example/zapx", "postgres://db.example/zapx"),
    ("DB_POOL_SIZE", "db_pool_size", "7", 7),
    ("DB_POOL_SIZE", "db_pool_size", "1", 1),
    ("DB_POOL_SIZE", "db_pool_size", "500", 500),
    ("REDIS_URL", "redis_url", "rediss://r.example:6380/2", "rediss://r.example:6380/2"),
    ("REDIS_URL", "redis_url", "unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
    ("REDIS_PREFIX", "redis_prefix", "acme:prod-1.", "acme:prod-1."),
    ("SECRET_KEY", "secret_key", GOOD_SECRET, GOOD_SECRET),
    ("SECRET_KEY", "secret_key", "k" * 32, "k" * 32),
    ("JWT_TTL_S", "jwt_ttl_s", "3600", 3600),
    ("JWT_TTL_S", "jwt_ttl_s", "60", 60),
    ("PHONE_DEFAULT_REGION", "phone_region", " us ", "US"),
    ("MAX_BODY_BYTES", "max_body_bytes", "2048", 2048),
    ("UPLOAD_MAX_BYTES", "upload_max_bytes", "1048576", 1048576),
    ("API_BIND", "api_bind", "0.0.0.0:8000", "0.0.0.0:8000"),
    ("API_WORKER_CLASS", "api_worker_class", "gthread", "gthread"),
    ("WHATSAPP_BREAKER_FAILURE_RATE", "whatsapp_breaker_failure_rate", "0.25", 0.25),
    ("WHATSAPP_BREAKER_MIN_CALLS", "whatsapp_breaker_min_calls", "5", 5),
    ("WHATSAPP_BREAKER_WINDOW_S", "whatsapp_breaker_window_s", "120", 120),
    ("WHATSAPP_BREAKER_OPEN_S", "whatsapp_breaker_open_s", "10", 10),
    ("CAMPAIGN_BREAKER_CONSECUTIVE", "campaign_breaker_consecutive", "20", 20),
    ("CAMPAIGN_BREAKER_FAILURE_RATE", "campaign_breaker_failure_rate", "1", 1.0),
    ("CAMPAIGN_BREAKER_MIN_CALLS", "campaign_breaker_min_calls", "10", 10),
    ("API_WORKERS", "api_workers", "3", 3),
    ("API_THREADS", "api_threads", "8", 8),
    ("SANDBOX_BIND", "sandbox_bind", "[::1]:9091", "[::1]:9091"),
    ("LOG_LEVEL", "log_level", "debug", "DEBUG"),
    ("LOG_FORMAT", "log_format", "TEXT", "text"),
    ("BATCH_LEASE_S", "batch_lease_s", "30", 30),
    ("BATCH_SIZE", "batch_size", "10", 10),
    ("ENGINE_BUDGET", "engine_budget", "128", 128),
    ("GOVERNOR_ENABLED", "governor_enabled", "off", False),
    ("GOVERNOR_INTERVAL_S", "governor_interval_s", "2", 2),
    ("GOVERNOR_COOLDOWN_S", "governor_cooldown_s", "30", 30),
    ("GOVERNOR_CPU_PERCENT", "governor_cpu_percent", "100", 100),
    ("GOVERNOR_MEMORY_PERCENT", "governor_memory_percent", "80", 80),
    ("GOVERNOR_QUEUE_DEPTH", "governor_queue_depth", "1000", 1000),
    ("GOVERNOR_QUEUE_AGE_S", "governor_queue_age_s", "60", 60),
    ("GOVERNOR_DB_LATENCY_MS", "governor_db_latency_ms", "500", 500),
    ("GOVERNOR_REDIS_LATENCY_MS", "governor_redis_latency_ms", "20", 20),
    ("MEDIA_DIR", "media_dir", "/srv/media", "/srv/media"),
    ("IMPORT_DIR", "import_dir", "/srv/imports", "/srv/imports"),
    ("IMPORT_CHUNK_ROWS", "import_chunk_rows", "20000", 20_000),
    ("PUBLIC_URL", "public_url", "https://zapx.example.com", "https://zapx.example.com"),
    ("QUERY_CACHE_TTL_S", "query_cache_ttl_s", "0", 0),
    ("QUERY_CACHE_TTL_S", "query_cache_ttl_s", "300", 300),
    ("QUERY_CACHE_REPORT_TTL_S", "query_cache_report_ttl_s", "0", 0),
    ("QUERY_CACHE_REPORT_TTL_S", "query_cache_report_ttl_s", "30", 30),
    ("LOGIN_WINDOW_S", "login_window_s", "60", 60),
    ("LOGIN_MAX_FAILURES", "login_max_failures", "5", 5),
    ("LOGIN_MAX_FAILURES_PER_ADDRESS", "login_max_failures_per_address", "1000", 1000),
    (
        "TRUSTED_PROXIES",
        "trusted_proxies",
        "127.0.0.1, 10.1.2.3/8,::1",
        ("127.0.0.1/32", "10.0.0.0/8", "::1/128"),
    ),
    (
        "CONNECTION_ALLOWED_HOSTS",
        "connection_allowed_hosts",
        " 10.0.0.0/8, gw.corp:8080 [fd00::7]:9000,127.0.0.1 ",
        "10.0.0.0/8, gw.corp:8080 [fd00::7]:9000,127.0.0.1",
    ),
    (
        "FRONTEND_URL",
        "frontend_origins",
        "https://App.Example.com/, http://localhost:3000,https://x.example:443,http://[::1]:8080",
        (
            "https://app.example.com",
            "http://localhost:3000",
            "https://x.example",
            "http://[::1]:8080",
        ),
    ),
    ("CORS_MAX_AGE_S", "cors_max_age_s", "600", 600),
    ("REALTIME_BIND", "realtime_bind", "0.0.0.0:8081", "0.0.0.0:8081"),
    ("REALTIME_RECHECK_S", "realtime_recheck_s", "5", 5),
    ("REFRESH_TTL_S", "refresh_ttl_s", "86400", 86400),
    ("SESSION_COOKIE_SECURE", "session_cookie_secure", " True ", True),
    ("SESSION_COOKIE_SECURE", "session_cookie_secure", "0", False),
    ("SESSION_COOKIE_SAMESITE", "session_cookie_samesite", "STRICT", "Strict"),
    ("SYSTEM_TITLE", "system_title", " Disparos ACME ", "Disparos ACME"),
    ("DB_CONNECT_TIMEOUT_S", "db_connect_timeout_s", "5", 5),
    ("DEPENDENCY_BREAKER_WINDOW_S", "dependency_breaker_window_s", "30", 30.0),
    ("DEPENDENCY_BREAKER_MIN_CALLS", "dependency_breaker_min_calls", "10", 10),
    ("DEPENDENCY_BREAKER_FAILURE_RATE", "dependency_breaker_failure_rate", "0.25", 0.25),
    ("DEPENDENCY_BREAKER_CONSECUTIVE", "dependency_breaker_consecutive", "0", 0),
    ("DEPENDENCY_BREAKER_OPEN_S", "dependency_breaker_open_s", "0.5", 0.5),
    ("DEPENDENCY_BREAKER_MAX_OPEN_S", "dependency_breaker_max_open_s", "60", 60.0),
    ("METRICS_TOKEN", "metrics_token", GOOD_SECRET, GOOD_SECRET),
    ("METRICS_BIND", "metrics_bind", "127.0.0.1:9108", "127.0.0.1:9108"),
    # alerts (issue 15)
    ("ALERT_ENABLED", "alert_enabled", "false", False),
    ("ALERT_INTERVAL_S", "alert_interval_s", "0.5", 0.5),
    ("ALERT_BREAKER_OPEN_S", "alert_breaker_open_s", "0", 0.0),
    ("ALERT_QUEUE_AGE_S", "alert_queue_age_s", "60", 60.0),
    ("ALERT_ERROR_RATE", "alert_error_rate", "0.5", 0.5),
    ("ALERT_ERROR_WINDOW_S", "alert_error_window_s", "60", 60),
    ("ALERT_ERROR_MIN_SAMPLE", "alert_error_min_sample", "10", 10),
    ("ALERT_REDIS_MEMORY_RATIO", "alert_redis_memory_ratio", "0.8", 0.8),
    ("ALERT_CONNECTION_DOWN_S", "alert_connection_down_s", "5", 5.0),
    ("ALERT_DEAD_LETTERS_MIN", "alert_dead_letters_min", "3", 3),
    ("ALERT_DEAD_LETTERS_WINDOW_S", "alert_dead_letters_window_s", "3600", 3600),
    ("ALERT_WEBHOOK_TIMEOUT_S", "alert_webhook_timeout_s", "2.5", 2.5),
]

# (variable, a bad raw value, a fragment of the reason the message must give)
BAD = [
    ("ZAPX_ENV", "staging", "must be one of development, test, production"),
    ("SYSTEM_TITLE", "t" * 81, "1-80 printable characters"),
    ("SYSTEM_TITLE", "a\tb", "1-80 printable characters"),
    ("DATABASE_URL", "mysql://db.example/zapx", "must look like postgresql://host"),
    ("DATABASE_URL", "postgresql:///zapx", "must look like postgresql://host"),
    ("DATABASE_URL", "postgresql://db.example:port/zapx", "invalid port"),
    ("DATABASE_URL", "postgresql://db.example:99999/zapx", "invalid port"),
    ("DB_POOL_SIZE", "seven", "must be an integer"),
    ("DB_POOL_SIZE", "0", "must be between 1 and 500"),
    ("DB_POOL_SIZE", "501", "must be between 1 and 500"),
    ("REDIS_URL", "http://r.example:6379/0", "must look like redis://host"),
    ("REDIS_URL", "unix://", "must look like redis://host"),
    ("REDIS_PREFIX", "has space", "1-64 characters"),
    ("REDIS_PREFIX", "p" * 65, "1-64 characters"),
    ("SECRET_KEY", "k" * 31, "at least 32 characters"),
    ("JWT_TTL_S", "59", "must be between 60 and 2592000"),
    ("JWT_TTL_S", "1h", "must be an integer"),
    ("PHONE_DEFAULT_REGION", "ZZ", "ISO 3166 region code"),
    ("MAX_BODY_BYTES", "1023", "must be between 1024 and"),
    ("UPLOAD_MAX_BYTES", "-1", "must be between 1024 and"),
    ("API_BIND", "8000", "must be host:port"),
    ("API_BIND", "localhost:70000", "must be host:port"),
    ("API_WORKER_CLASS", "gevent", "must be one of sync, gthread"),
    ("API_WORKERS", "65", "must be between 1 and 64"),
    ("API_THREADS", "1.5", "must be an integer"),
    ("SANDBOX_BIND", "localhost:", "must be host:port"),
    ("LOG_LEVEL", "verbose", "must be one of debug, info, warning, error"),
    ("LOG_FORMAT", "xml", "must be one of json, text"),
    ("BATCH_LEASE_S", "1", "must be between 2 and 86400"),
    ("BATCH_SIZE", "0", "must be between 1 and 500"),
    ("ENGINE_BUDGET", "x", "must be an integer"),
    ("GOVERNOR_ENABLED", "sometimes", "must be true or false"),
    ("GOVERNOR_INTERVAL_S", "0", "must be between 1 and 3600"),
    ("GOVERNOR_COOLDOWN_S", "1.5", "must be an integer"),
    ("GOVERNOR_CPU_PERCENT", "101", "must be between 1 and 100"),
    ("GOVERNOR_MEMORY_PERCENT", "0", "must be between 1 and 100"),
    ("GOVERNOR_QUEUE_DEPTH", "0", "must be between 1 and 10000000"),
    ("GOVERNOR_QUEUE_AGE_S", "-5", "must be between 1 and 86400"),
    ("GOVERNOR_DB_LATENCY_MS", "fast", "must be an integer"),
    ("GOVERNOR_REDIS_LATENCY_MS", "60001", "must be between 1 and 60000"),
    ("MEDIA_DIR", " ", "must be a directory path"),
    ("IMPORT_DIR", "var\x00imports", "must be a directory path"),
    ("IMPORT_CHUNK_ROWS", "99", "must be between 100 and 1000000"),
    ("PUBLIC_URL", "ftp://x", "must look like http"),
    ("QUERY_CACHE_TTL_S", "-1", "must be between 0 and 86400"),
    ("QUERY_CACHE_TTL_S", "off", "must be an integer"),
    ("QUERY_CACHE_REPORT_TTL_S", "3601", "must be between 0 and 3600"),
    ("LOGIN_WINDOW_S", "59", "must be between 60 and 86400"),
    ("LOGIN_MAX_FAILURES", "0", "must be between 1 and 1000"),
    ("LOGIN_MAX_FAILURES_PER_ADDRESS", "lots", "must be an integer"),
    ("TRUSTED_PROXIES", "127.0.0.1,nginx", "must be IP addresses or CIDR networks, got 'nginx'"),
    ("CONNECTION_ALLOWED_HOSTS", "10.0.0.0/33", "entry '10.0.0.0/33' is not a host"),
    ("CONNECTION_ALLOWED_HOSTS", "gw.corp, http://x", "entry 'http://x' is not a host"),
    ("FRONTEND_URL", "https://app.example.com/painel", "must be origins like https://"),
    ("FRONTEND_URL", "app.example.com", "must be origins like https://"),
    ("FRONTEND_URL", "https://u:p@app.example.com", "must be origins like https://"),
    ("FRONTEND_URL", "https://app.example.com:x", "invalid port"),
    ("CORS_MAX_AGE_S", "86401", "must be between 0 and 86400"),
    ("REALTIME_BIND", "8081", "must be host:port"),
    ("REALTIME_RECHECK_S", "0", "must be between 1 and 3600"),
    ("REFRESH_TTL_S", "299", "must be between 300 and 31536000"),
    ("SESSION_COOKIE_SECURE", "maybe", "must be true or false"),
    ("SESSION_COOKIE_SAMESITE", "loose", "must be one of lax, strict, none"),
    ("DB_CONNECT_TIMEOUT_S", "1", "must be between 2 and 60"),
    ("DEPENDENCY_BREAKER_WINDOW_S", "0", "must be between 1 and 3600"),
    ("DEPENDENCY_BREAKER_MIN_CALLS", "0", "must be between 1 and 100000"),
    ("DEPENDENCY_BREAKER_FAILURE_RATE", "1.5", "must be between 0.01 and 1"),
    ("DEPENDENCY_BREAKER_FAILURE_RATE", "nan", "must be between 0.01 and 1"),
    ("DEPENDENCY_BREAKER_CONSECUTIVE", "-1", "must be between 0 and 100000"),
    ("DEPENDENCY_BREAKER_OPEN_S", "soon", "must be a number"),
    ("DEPENDENCY_BREAKER_MAX_OPEN_S", "0", "must be between 0.1 and 3600"),
    ("WHATSAPP_BREAKER_FAILURE_RATE", "0", "must be in (0, 1]"),
    ("WHATSAPP_BREAKER_MIN_CALLS", "0", "must be between 1 and 1000000"),
    ("WHATSAPP_BREAKER_WINDOW_S", "5", "must be between 6 and 3600"),
    ("WHATSAPP_BREAKER_OPEN_S", "x", "must be an integer"),
    ("CAMPAIGN_BREAKER_CONSECUTIVE", "0", "must be between 1 and 1000000"),
    ("CAMPAIGN_BREAKER_FAILURE_RATE", "half", "must be a number"),
    ("CAMPAIGN_BREAKER_MIN_CALLS", "-1", "must be between 1 and 1000000"),
    ("METRICS_TOKEN", "short", "at least 32 characters"),
    ("METRICS_BIND", "9108", "must be host:port"),
    # alerts (issue 15)
    ("ALERT_ENABLED", "sometimes", "must be"),
    ("ALERT_INTERVAL_S", "0", "must be between 0.1 and 3600"),
    ("ALERT_BREAKER_OPEN_S", "-1", "must be between 0 and 86400"),
    ("ALERT_QUEUE_AGE_S", "0", "must be between 1 and 86400"),
    ("ALERT_ERROR_RATE", "1.5", "must be in (0, 1]"),
    ("ALERT_ERROR_WINDOW_S", "5", "must be between 10 and 86400"),
    ("ALERT_ERROR_MIN_SAMPLE", "0", "must be between 1 and 1000000"),
    ("ALERT_REDIS_MEMORY_RATIO", "0", "must be in (0, 1]"),
    ("ALERT_CONNECTION_DOWN_S", "soon", "must be a number"),
    ("ALERT_DEAD_LETTERS_MIN", "0", "must be between 1 and 1000000"),
    ("ALERT_DEAD_LETTERS_WINDOW_S", "1", "must be between 10 and 604800"),
    ("ALERT_WEBHOOK_TIMEOUT_S", "0.1", "must be between 0.5 and 60"),
]


def test_every_variable_is_covered_by_these_tables():
    assert {name for name, *_ in GOOD} == set(DEFAULTS)
    assert {name for name, *_ in BAD} == set(DEFAULTS)


def test_defaults_when_environment_is_empty():
    config = load_config({})
    assert config == Config()
    assert config.env == "development"
    assert not config.is_production
    assert config.database_url == "postgresql://postgres@127.0.0.1:5432/zapx"
    assert config.db_pool_size == 20
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.redis_prefix == "zapx:"
    assert len(config.secret_key) >= 32
    assert config.jwt_ttl_s == 8 * 3600
    assert config.phone_region == "BR"
    assert config.max_body_bytes == 1024 * 1024
    assert config.upload_max_bytes == 50 * 1024 * 1024
    assert config.api_bind == "127.0.0.1:8080"
    assert (config.api_worker_class, config.api_workers, config.api_threads) == ("sync", 8, 4)
    assert config.sandbox_bind == "127.0.0.1:9090"
    assert (config.log_level, config.log_format) == ("INFO", "json")
    assert config.query_cache_ttl_s == 60
    assert config.connection_allowed_hosts == ""  # public https hosts and the sandbox only


def test_the_dependency_breakers_defaults_are_the_policy_defaults():
    assert Config().dependency_policy == Policy()


def test_a_max_open_time_below_the_open_time_is_refused():
    with pytest.raises(ConfigError, match="METRICS_BIND must differ from API_BIND"):
        load_config({"API_BIND": "127.0.0.1:8080", "METRICS_BIND": "127.0.0.1:8080"})
    with pytest.raises(ConfigError, match="DEPENDENCY_BREAKER_MAX_OPEN_S must be at least"):
        load_config({"DEPENDENCY_BREAKER_OPEN_S": "20", "DEPENDENCY_BREAKER_MAX_OPEN_S": "10"})


def test_defaults_table_matches_config_defaults():
    assert DEFAULTS["DB_POOL_SIZE"] == 20
    assert DEFAULTS["PHONE_DEFAULT_REGION"] == "BR"
    assert len(DEFAULTS) == len(dataclasses.fields(Config))


def test_empty_value_means_default():
    assert load_config({"DB_POOL_SIZE": "", "LOG_LEVEL": ""}) == Config()


def test_reads_os_environ_by_default(monkeypatch):
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("API_WORKERS", "5")
    assert load_config().api_workers == 5


@pytest.mark.parametrize(("name", "field", "raw", "expected"), GOOD)
def test_each_variable_is_parsed(name, field, raw, expected):
    config = load_config({name: raw})
    assert getattr(config, field) == expected
    # Nothing else moved.
    others = {f.name for f in dataclasses.fields(Config)} - {field}
    assert {f: getattr(config, f) for f in others} == {f: getattr(Config(), f) for f in others}


@pytest.mark.parametrize(("name", "raw", "reason"), BAD)
def test_bad_value_names_the_variable_and_the_problem(name, raw, reason):
    with pytest.raises(ConfigError) as excinfo:
        load_config({name: raw})
    message = excinfo.value.message
    assert f"{name} " in message
    assert reason in message
    assert excinfo.value.code == "ERR_CONFIG"


def test_several_bad_variables_are_reported_at_once():
    env = {"DB_POOL_SIZE": "lots", "LOG_FORMAT": "xml", "API_BIND": "nowhere", "API_WORKERS": "3"}
    with pytest.raises(ConfigError) as excinfo:
        load_config(env)
    message = excinfo.value.message
    for name in ("DB_POOL_SIZE", "LOG_FORMAT", "API_BIND"):
        assert name in message
    assert "API_WORKERS" not in message
    assert message.count(";") == 2


def test_per_address_login_limit_below_the_per_email_one_is_refused():
    with pytest.raises(ConfigError, match="LOGIN_MAX_FAILURES_PER_ADDRESS must be at least"):
        load_config({"LOGIN_MAX_FAILURES": "20", "LOGIN_MAX_FAILURES_PER_ADDRESS": "19"})
    config = load_config({"LOGIN_MAX_FAILURES": "20", "LOGIN_MAX_FAILURES_PER_ADDRESS": "20"})
    assert (config.login_max_failures, config.login_max_failures_per_address) == (20, 20)


def test_session_cookie_is_secure_in_production_unless_configured():
    assert Config().cookie_secure is False
    assert load_config({"ZAPX_ENV": "production", "SECRET_KEY": GOOD_SECRET}).cookie_secure
    config = load_config(
        {"ZAPX_ENV": "production", "SECRET_KEY": GOOD_SECRET, "SESSION_COOKIE_SECURE": "false"}
    )
    assert config.cookie_secure is False
    assert load_config({"SESSION_COOKIE_SECURE": "true"}).cookie_secure is True


def test_same_site_none_needs_a_secure_cookie():
    # A browser drops a SameSite=None cookie that is not Secure: every refresh would fail.
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SAMESITE=none needs"):
        load_config({"SESSION_COOKIE_SAMESITE": "none"})
    config = load_config({"SESSION_COOKIE_SAMESITE": "none", "SESSION_COOKIE_SECURE": "yes"})
    assert (config.session_cookie_samesite, config.cookie_secure) == ("None", True)


def test_production_without_secret_key_is_refused():
    with pytest.raises(ConfigError, match="SECRET_KEY must be set in production"):
        load_config({"ZAPX_ENV": "production"})


def test_production_with_the_development_secret_is_refused():
    with pytest.raises(ConfigError, match="SECRET_KEY must be set in production"):
        load_config({"ZAPX_ENV": "production", "SECRET_KEY": Config().secret_key})


def test_production_with_a_secret_key_starts():
    config = load_config({"ZAPX_ENV": "production", "SECRET_KEY": GOOD_SECRET})
    assert config.is_production
    assert config.secret_key == GOOD_SECRET


@pytest.mark.parametrize("env", ["development", "production"])
def test_short_secret_key_is_refused(env):
    with pytest.raises(ConfigError) as excinfo:
        load_config({"ZAPX_ENV": env, "SECRET_KEY": "too-short-secret"})
    assert "SECRET_KEY must be at least 32 characters long" in excinfo.value.message
    # The secret itself is never echoed into logs.
    assert "too-short-secret" not in excinfo.value.message


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:secret@db.example/zapx", "postgresql://user:***@db.example/zapx"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://app:p%40ss:w@r.example:6380/2", "rediss://app:***@r.example:6380/2"),
        (
            "postgresql://u:a@b@h:5432/d?sslmode=require",
            "postgresql://u:***@h:5432/d?sslmode=require",
        ),
        (
            "postgresql://h/d?password=x&sslmode=require",
            "postgresql://h/d?password=***&sslmode=require",
        ),
        ("unix:///run/redis.sock?db=1&password=zz", "unix:///run/redis.sock?db=1&password=***"),
        ("unix://:pw@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
        # No password: unchanged, the user name included.
        ("postgresql://postgres@127.0.0.1:5432/zapx", "postgresql://postgres@127.0.0.1:5432/zapx"),
        ("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
    ],
)
def test_mask_url_hides_the_password_and_keeps_the_rest(url, masked):
    assert mask_url(url) == masked


def test_zapx_config_masks_passwords_inside_urls(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:db-secret@db.example:6543/zapx")
    monkeypatch.setenv("REDIS_URL", "redis://:redis-secret@r.example:6379/0")
    monkeypatch.setenv("PUBLIC_URL", "https://ops:web-secret@zapx.example.com")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    for secret in ("db-secret", "redis-secret", "web-secret", GOOD_SECRET):
        assert secret not in out
    printed = json.loads(out)
    assert printed["DATABASE_URL"] == "postgresql://app:***@db.example:6543/zapx"
    assert printed["REDIS_URL"] == "redis://:***@r.example:6379/0"
    assert printed["PUBLIC_URL"] == "https://ops:***@zapx.example.com"
    assert printed["SECRET_KEY"] == "***"
    assert set(printed) == set(DEFAULTS)


def test_a_refused_url_is_echoed_without_its_password():
    with pytest.raises(ConfigError) as exc:
        load_config({"DATABASE_URL": "mysql://app:db-secret@db.example/zapx"})
    assert "db-secret" not in exc.value.message and "app:***@db.example" in exc.value.message
    with pytest.raises(ConfigError) as exc:
        load_config({"REDIS_URL": "redis://:redis-secret@r.example:port/0"})
    assert "redis-secret" not in exc.value.message and "invalid port" in exc.value.message
