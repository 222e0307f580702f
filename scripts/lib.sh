# Shared set-up for scripts/run and scripts/test: a virtual environment with the project
# installed, and PostgreSQL and Redis answering at DATABASE_URL / REDIS_URL. When nothing answers
# at a local address, they are started (and installed with apt-get when missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

ensure_venv() {
    local python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || die "$python not found; install Python 3.11+"
    if [ ! -x "$PY" ]; then
        log "creating virtual environment in .venv"
        "$python" -m venv "$VENV" || die "python -m venv failed (Debian: apt-get install python3-venv)"
    fi
    # Reinstall only when pyproject.toml changed since the last install.
    local stamp="$VENV/.zapx-installed" sum
    sum="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
        log "installing zapx and its pinned dependencies"
        "$PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]" 2>&1 \
            | grep -v "ignored" >&2 || true
        "$PY" -c "import zapx, api, actors, falcon, dramatiq, pykka" || die "installation failed"
        echo "$sum" > "$stamp"
    fi
}

apt_install() {
    command -v apt-get >/dev/null || die "$1 is not running and apt-get is unavailable; install $1"
    log "installing $* with apt-get"
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
        || { sudo_ apt-get update -q >/dev/null && \
             sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

# host and port of a URL (defaults when absent)
url_host() { "$PY" -c 'import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).hostname or "127.0.0.1")' "$1"; }
url_port() { "$PY" -c 'import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).port or int(sys.argv[2]))' "$1" "$2"; }
is_local() { case "$1" in 127.0.0.1|localhost|::1) return 0;; *) return 1;; esac; }

# (captured first: grep -q closing the pipe early would fail the pipeline under pipefail)
check_output() { "$VENV/bin/zapx" check 2>/dev/null || true; }
postgres_answers() { [[ "$(check_output)" == *"postgres ok"* ]]; }
redis_answers() { [[ "$(check_output)" == *"redis ok"* ]]; }

ensure_postgres() {
    local url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/zapx}"
    postgres_answers && return 0
    local host port
    host="$(url_host "$url")"; port="$(url_port "$url" 5432)"
    is_local "$host" || die "PostgreSQL at $host:$port does not answer (DATABASE_URL)"
    log "PostgreSQL does not answer at $host:$port; starting a local one"
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
    [ -n "$version" ] || die "no PostgreSQL cluster found under /etc/postgresql"
    local conf="/etc/postgresql/$version/main"
    # A cluster we set up ourselves: local trust auth on loopback, the port from DATABASE_URL.
    if ! grep -q "zapx: trust loopback" "$conf/pg_hba.conf"; then
        sudo_ sed -i '1i # zapx: trust loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' \
            "$conf/pg_hba.conf"
    fi
    sudo_ sed -i "s/^#\?port = .*/port = $port/" "$conf/postgresql.conf"
    sudo_ pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 30); do postgres_answers && return 0; sleep 1; done
    die "PostgreSQL did not start; see /var/log/postgresql/"
}

ensure_redis() {
    local url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
    local host port
    host="$(url_host "$url")"; port="$(url_port "$url" 6379)"
    if ! redis_answers; then
        is_local "$host" || die "Redis at $host:$port does not answer (REDIS_URL)"
        log "Redis does not answer at $host:$port; starting a local one"
        command -v redis-server >/dev/null || apt_install redis-server
        mkdir -p "$ROOT/var/redis"
        # A queue must never be evicted: noeviction. Nothing kept on disk: the queues' truth is
        # PostgreSQL, and a restarted Redis is refilled by the engine (docs/OPERATIONS.md).
        redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" \
            --appendonly no --maxmemory-policy noeviction --dir "$ROOT/var/redis" \
            --logfile "$ROOT/var/redis/redis.log"
        for _ in $(seq 30); do redis_answers && break; sleep 0.5; done
        redis_answers || die "Redis did not start; see var/redis/redis.log"
    fi
    local policy
    policy="$(check_output | sed -n 's/^redis ok (maxmemory-policy \(.*\))/\1/p')"
    if [ "$policy" != "noeviction" ]; then
        log "warning: Redis maxmemory-policy is '$policy'; zapx needs noeviction, setting it"
        "$PY" -c 'import sys,redis; redis.Redis.from_url(sys.argv[1]).config_set("maxmemory-policy","noeviction")' "$url" \
            || die "could not set maxmemory-policy noeviction; configure Redis with it"
    fi
}
