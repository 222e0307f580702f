# Shared set-up for scripts/run and scripts/test: a virtual environment with the project
# installed, and PostgreSQL and Redis answering at DATABASE_URL / REDIS_URL. When nothing answers
# at a local address, they are started (and installed with apt-get when missing); a local
# PostgreSQL that answers but refuses the login is made to trust loopback and reloaded.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

log() { if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Output sent to a file (scripts/run > file 2>&1) is shared with supervisord, which opens
# /dev/stdout anew, in append mode, for each program's log: a descriptor without O_APPEND keeps
# its own offset and writes over the programs' lines. Reopen such a stdout and stderr in append
# mode so that every writer adds at the end.
append_stdio() {
    if [ -f /proc/self/fd/1 ]; then exec 1>>/proc/self/fd/1; fi
    if [ -f /proc/self/fd/2 ]; then exec 2>>/proc/self/fd/2; fi
}

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
# What `zapx check` says of PostgreSQL: ok, "authentication failed" (it answers but refuses the
# login) or down; postgres_reason is the rest of its line.
postgres_state() {
    local out; out="$(check_output)"
    case "$out" in
        *"postgres ok"*) echo ok ;;
        *"postgres authentication failed:"*) echo "authentication failed" ;;
        *) echo down ;;
    esac
}
postgres_reason() { check_output | sed -n 's/^postgres [a-z ]*: //p'; }
postgres_answers() { [ "$(postgres_state)" = ok ]; }
redis_answers() { [[ "$(check_output)" == *"redis ok"* ]]; }

# The local cluster to configure: PG_CONF_DIR (its pg_hba.conf and postgresql.conf) and PG_CTL
# (a command that takes start, reload, restart or status), Debian's cluster by default: the one
# pg_lsclusters lists on the port of DATABASE_URL, else the newest. The tests point them at a
# throwaway cluster.
pg_cluster() {
    local port="$1" version cluster
    if [ -n "${PG_CONF_DIR:-}" ]; then
        [ -n "${PG_CTL:-}" ] || die "PG_CONF_DIR is set but PG_CTL is not"
        return 0
    fi
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    read -r version cluster < <(pg_lsclusters -h 2>/dev/null | awk -v p="$port" '$3 == p {print $1, $2; exit}') || true
    if [ -z "${version:-}" ]; then
        version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
        cluster=main
    fi
    [ -n "$version" ] || die "no PostgreSQL cluster found under /etc/postgresql"
    PG_CONF_DIR="/etc/postgresql/$version/$cluster"
    PG_CTL="pg_ctlcluster --skip-systemctl-redirect $version $cluster"
}

ensure_postgres() {
    local url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/zapx}"
    local state host port
    state="$(postgres_state)"
    [ "$state" = ok ] && return 0
    host="$(url_host "$url")"; port="$(url_port "$url" 5432)"
    if ! is_local "$host"; then
        [ "$state" = down ] && die "PostgreSQL at $host:$port does not answer (DATABASE_URL)"
        die "PostgreSQL at $host:$port answers but refused the login, authentication failed: $(postgres_reason) (DATABASE_URL)"
    fi
    pg_cluster "$port"
    local conf="$PG_CONF_DIR"
    if [ "$state" = down ]; then
        log "PostgreSQL does not answer at $host:$port; starting a local one"
    else
        # A fresh Debian/Ubuntu install starts its cluster with password authentication on
        # loopback: the trust rules below count only once the server reloads its pg_hba.conf.
        log "PostgreSQL at $host:$port refused the login ($(postgres_reason)); trusting loopback in $conf/pg_hba.conf"
    fi
    # A cluster we set up ourselves: local trust auth on loopback, the port from DATABASE_URL.
    if ! grep -q "zapx: trust loopback" "$conf/pg_hba.conf"; then
        sudo_ sed -i '1i # zapx: trust loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' \
            "$conf/pg_hba.conf"
    fi
    if [ "$state" = down ]; then
        sudo_ sed -i "s/^#\?port = .*/port = $port/" "$conf/postgresql.conf"
    fi
    if sudo_ $PG_CTL status >/dev/null 2>&1; then
        # Running: a reload is enough for pg_hba.conf, a port change needs a restart.
        if [ "$state" = down ]; then sudo_ $PG_CTL restart || true; else sudo_ $PG_CTL reload || true; fi
    else
        sudo_ $PG_CTL start || true
    fi
    # Up to 30 s for a server that starts; a server that answers has read its new rules within
    # a second of the reload, so a refusal that lasts 3 tries will not go away by waiting.
    local refused=0
    for _ in $(seq 30); do
        state="$(postgres_state)"
        [ "$state" = ok ] && return 0
        if [ "$state" != down ]; then
            refused=$((refused + 1))
            [ "$refused" -ge 3 ] && break
        fi
        sleep 1
    done
    [ "$state" = down ] && die "PostgreSQL did not start at $host:$port; see its log (Debian: /var/log/postgresql/)"
    die "PostgreSQL at $host:$port still refuses the login, authentication failed: $(postgres_reason)"
}

# The tests' tools from Debian's packages: the package lists are updated once per script run,
# and apt waits for a lock another install holds.
APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 1 ] && return 0
    sudo_ apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
}

# promtool (Debian/Ubuntu package "prometheus"): the tests check the /metrics page and the
# shipped alert rules with it. Installed with apt-get when missing.
ensure_promtool() {
    command -v promtool >/dev/null && return 0
    command -v apt-get >/dev/null || die "promtool is missing and apt-get is unavailable; install Prometheus's promtool"
    log "installing promtool (package prometheus) with apt-get"
    apt_update_once
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends prometheus >/dev/null \
        || die "apt-get could not install prometheus (for promtool)"
    command -v promtool >/dev/null || die "the prometheus package did not provide promtool"
}

# The directory every process writes its metrics into (PROMETHEUS_MULTIPROC_DIR,
# docs/METRICS.md), emptied before the processes start: files left by a previous run would be
# summed into this one's counters, and its dead processes' gauges counted as live.
reset_metrics_dir() {
    local dir="$1"
    [ -n "$dir" ] && [ "$dir" != "/" ] || die "reset_metrics_dir: no directory given"
    rm -rf -- "$dir"
    mkdir -p -- "$dir"
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
        # PostgreSQL, and the engine sends again the planned batches whose queue message a restarted
        # Redis lost (docs/ENGINE.md, "Lost reports").
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

# Debian's chromium and its chromedriver, for the ops page's browser test (tests/actors/test_ops_page.py
# drives them with selenium; nothing is downloaded at test time). The package lists are updated
# once, then both are installed; apt waits for a lock another install holds.
ensure_chromium() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return 0; fi
    command -v apt-get >/dev/null || die "chromium and chromedriver are missing and apt-get is unavailable; install them"
    log "installing chromium and chromium-driver with apt-get (the ops page's browser test)"
    apt_update_once
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        chromium chromium-driver >/dev/null || die "apt-get install chromium chromium-driver failed"
}
