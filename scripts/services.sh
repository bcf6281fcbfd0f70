#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers on loopback, for the Redis store test (tests/redis.rs),
# the example server's scale-out test (examples/server/tests/scale_out.rs) and for running
# several instances of the example server by hand.
#
#   bash scripts/services.sh install                  # apt-get postgresql + redis-server if missing
#   bash scripts/services.sh check                    # exit 0 if both are installed, else 3
#   bash scripts/services.sh start-postgres DIR [PORT]  # prints DATABASE_URL=postgres://...
#   bash scripts/services.sh start-redis DIR [PORT]     # prints REDIS_URL=redis://...
#   bash scripts/services.sh stop-postgres DIR
#   bash scripts/services.sh stop-redis DIR
#   bash scripts/services.sh start DIR                # both; prints both URLs (eval-able lines)
#   bash scripts/services.sh stop DIR                 # both
#   bash scripts/services.sh free-port                # a free loopback port
#
# DIR is a scratch directory that the servers own (data, socket, pid and log files); remove it
# after `stop`. Without PORT a free loopback port is picked. PostgreSQL gets a fresh cluster with
# trust authentication on 127.0.0.1 only (user and database `postgres`); Redis keeps nothing on
# disk (`--save '' --appendonly no`), so a restarted Redis has forgotten every revocation.
#
# With OWNER_PID set, each server also gets a watchdog that stops it once that process is gone,
# so a test killed halfway leaves nothing running. Everything listens on 127.0.0.1 only.
set -euo pipefail

services_log() { printf 'services: %s\n' "$*" >&2; }
services_die() {
    services_log "$*"
    exit 1
}

# The directory holding PostgreSQL's server programs (initdb, pg_ctl, postgres), or nothing.
pg_bindir() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $dir/pg_ctl && -x $dir/initdb ]]; then
            echo "$dir"
            return
        fi
    done
}

redis_bin() {
    if command -v redis-server 2>/dev/null; then
        return
    elif [[ -x /usr/bin/redis-server ]]; then
        echo /usr/bin/redis-server
    fi
}

services_check() {
    local missing=()
    [[ -n $(pg_bindir) ]] || missing+=(postgresql)
    [[ -n $(redis_bin) ]] || missing+=(redis-server)
    if ((${#missing[@]})); then
        services_log "missing: ${missing[*]} (run: bash scripts/services.sh install)"
        return 3
    fi
}

# Installs the Debian packages that are missing; idempotent (no apt-get at all when both are there).
services_install() {
    local packages=()
    [[ -n $(pg_bindir) ]] || packages+=(postgresql)
    [[ -n $(redis_bin) ]] || packages+=(redis-server)
    if ((${#packages[@]} == 0)); then
        services_log "postgresql and redis-server already installed"
        return
    fi
    command -v apt-get >/dev/null || services_die "no apt-get: install ${packages[*]} by hand"
    local sudo=()
    (($(id -u) == 0)) || sudo=(sudo)
    services_log "installing ${packages[*]}"
    # The packages' own system services are not started (policy-rc.d answers 101, "not
    # allowed", for the duration of the install): the tests start their own servers.
    local policy=/usr/sbin/policy-rc.d added_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod +x "$policy"
        added_policy=1
    fi
    local status=0
    "${sudo[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            "${packages[@]}" >/dev/null || status=$?
    [[ -z $added_policy ]] || "${sudo[@]}" rm -f "$policy"
    ((status == 0)) || services_die "apt-get failed ($status)"
    services_check
}

# A loopback port nothing listens on (a probe, so another process may still take it: callers
# that can should pass their own).
free_port() {
    local port tries
    for tries in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    services_die "no free port found"
}

# Runs "$@" as the postgres user when we are root (PostgreSQL refuses to run as root).
as_pg() {
    if (($(id -u) == 0)); then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Stops the server whose pid file is $2 once process $OWNER_PID is gone; runs "$3..." to stop.
start_watchdog() {
    local name=$1 dir=$2
    shift 2
    [[ -n ${OWNER_PID:-} ]] || return 0
    local owner=$OWNER_PID
    (
        trap '' HUP
        while kill -0 "$owner" 2>/dev/null && [[ -e $dir ]]; do sleep 1; done
        "$@" >/dev/null 2>&1 || true
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/$name.watchdog.pid"
}

stop_watchdog() {
    local file=$1
    if [[ -f $file ]]; then
        kill "$(cat "$file")" 2>/dev/null || true
        rm -f "$file"
    fi
}

services_start_postgres() {
    local dir=${1:?usage: start-postgres DIR [PORT]} port=${2:-}
    local bindir
    bindir=$(pg_bindir)
    [[ -n $bindir ]] || services_die "PostgreSQL is not installed (bash scripts/services.sh install)"
    [[ -n $port ]] || port=$(free_port)
    mkdir -p "$dir"
    dir=$(readlink -f "$dir")
    local data=$dir/postgres
    if [[ ! -f $data/PG_VERSION ]]; then
        rm -rf "$data"
        mkdir -p "$data"
        if (($(id -u) == 0)); then
            # The postgres user must reach its data directory (mktemp -d makes DIR 0700).
            chmod a+x "$dir"
            chown postgres: "$data"
        fi
        as_pg "$bindir/initdb" -D "$data" --username=postgres --auth=trust --encoding=UTF8 \
            --no-sync >"$dir/postgres.initdb.log" 2>&1 ||
            services_die "initdb failed: $(cat "$dir/postgres.initdb.log")"
    fi
    # Loopback TCP only; the Unix socket lives in the data directory, not in /var/run.
    as_pg "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off" start >/dev/null ||
        services_die "PostgreSQL did not start: $(tail -n 20 "$data/server.log" 2>/dev/null)"
    echo "$port" >"$dir/postgres.port"
    start_watchdog postgres "$dir" as_pg "$bindir/pg_ctl" -D "$data" -m immediate stop
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
}

services_stop_postgres() {
    local dir=${1:?usage: stop-postgres DIR}
    local bindir
    bindir=$(pg_bindir)
    stop_watchdog "$dir/postgres.watchdog.pid"
    if [[ -n $bindir && -f $dir/postgres/postmaster.pid ]]; then
        as_pg "$bindir/pg_ctl" -D "$dir/postgres" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
}

services_start_redis() {
    local dir=${1:?usage: start-redis DIR [PORT]} port=${2:-}
    local bin
    bin=$(redis_bin)
    [[ -n $bin ]] || services_die "redis-server is not installed (bash scripts/services.sh install)"
    [[ -n $port ]] || port=$(free_port)
    mkdir -p "$dir"
    dir=$(readlink -f "$dir")
    "$bin" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
        --dir "$dir" --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/redis.pid"
    # Bounded wait until it accepts connections.
    local tries
    for tries in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port" >"$dir/redis.port"
            start_watchdog redis "$dir" kill "$pid"
            echo "REDIS_URL=redis://127.0.0.1:$port"
            return
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    services_die "Redis did not start on port $port: $(tail -n 20 "$dir/redis.log" 2>/dev/null)"
}

services_stop_redis() {
    local dir=${1:?usage: stop-redis DIR}
    stop_watchdog "$dir/redis.watchdog.pid"
    if [[ -f $dir/redis.pid ]]; then
        local pid tries
        pid=$(cat "$dir/redis.pid")
        kill "$pid" 2>/dev/null || true
        for tries in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/redis.pid"
    fi
}

services_main() {
    local command=${1:-}
    shift || true
    case $command in
    install) services_install ;;
    check) services_check ;;
    free-port) free_port ;;
    start-postgres) services_start_postgres "$@" ;;
    stop-postgres) services_stop_postgres "$@" ;;
    start-redis) services_start_redis "$@" ;;
    stop-redis) services_stop_redis "$@" ;;
    start)
        services_start_postgres "${1:?usage: start DIR}"
        services_start_redis "$1"
        ;;
    stop)
        services_stop_redis "${1:?usage: stop DIR}"
        services_stop_postgres "$1"
        ;;
    *)
        sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        return 2
        ;;
    esac
}

services_main "$@"
