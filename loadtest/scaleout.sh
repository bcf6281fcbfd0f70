#!/usr/bin/env bash
# Load test, scale-out mode: two instances of the example server (release)
# on one PostgreSQL (and one Redis), started by scripts/services.sh, driven at the same time with
# the same valid access token on `GET /me`, which checks the revocation store (one Redis round
# trip, or a lookup in the process's memory) and loads the user (one PostgreSQL query) on every
# request, or, with USER_CACHE, once per USER_CACHE_SECS per instance (`CachedLoader`).
#
#   bash loadtest/run.sh scale-out                      # 10 s with Redis, then 10 s in memory
#   REVOCATION=redis bash loadtest/run.sh scale-out     # Redis revocation only
#   DURATION=5 OUTAGE=2 bash loadtest/run.sh scale-out  # Redis down for 2 s mid-run
#   USER_CACHE=both REVOCATION=redis bash loadtest/run.sh scale-out  # users loaded, then cached
#   BASE=main REVOCATION=redis bash loadtest/run.sh scale-out  # Redis mode before (main) and after
#
# REVOCATION=both (the default) runs the load phase twice: first with both instances on Redis
# (REDIS_URL set), then with both restarted without REDIS_URL (revocations in each process's
# memory) on the same PostgreSQL, SECRET_KEY and user. REVOCATION=redis or memory runs one phase.
# USER_CACHE=on starts the instances with USER_CACHE_SECS (5); USER_CACHE=both runs each phase
# twice, first loading the user on every request, then with the cache. Every phase also reports
# PostgreSQL's index scans on the users table per request: the user lookups it really made.
#
# Reports per mode and instance the requests/s, the p99 latency and the non-2xx answers, then the
# total requests/s per mode and the ratio redis/memory. Without OUTAGE, any non-2xx answer fails
# the run. With OUTAGE=N (Redis mode only), Redis is stopped for N seconds a third of the way in
# and started again on the same port: the answers meanwhile are 503s (counted, and each checked
# to be quick by wrk's timeout), and both instances must serve `/me` again afterwards with no
# restart. Finally, with Redis a logout on B must be refused on A; in memory it must not be (each
# instance has its own store: the logout is only seen on B).
#
# BASE=<git ref> first runs the Redis phase with the example server built from that ref (taken
# with `git archive`, built in the same target directory, so only the workspace's two crates build
# again; cargo names a workspace's outputs by their path inside it, so each build first cleans
# those two crates, or one tree's build would pass for the other's), labelled "redis before (<ref>)", then the phases above with this tree's server; the
# summary adds the ratio after/before of the Redis mode: what a change to the per-request check
# costs, measured in one run on one PostgreSQL and one Redis.
#
# Settings (environment): BASE (a git ref; none), REVOCATION (both, redis or memory; both), USER_CACHE (off, on or both;
# off), USER_CACHE_SECS (5), DURATION seconds per phase (10), CONNECTIONS per instance (16),
# OUTAGE seconds (0). The load generator is wrk, which loadtest/run.sh installs. Traffic goes to
# 127.0.0.1 only; every run is bounded in time, and
# everything started here is stopped on exit (the servers also stop by themselves after a bound).
set -euo pipefail
cd "$(dirname "$0")/.."

REVOCATION=${REVOCATION:-both}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
OUTAGE=${OUTAGE:-0}
USER_CACHE=${USER_CACHE:-off}
USER_CACHE_SECS=${USER_CACHE_SECS:-5}
BASE=${BASE:-}

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'loadtest_scaleout: %s\n' "$*" >&2
    exit 1
}

case $REVOCATION in
both) modes=(redis memory) ;;
redis | memory) modes=("$REVOCATION") ;;
*) die "REVOCATION must be both, redis or memory (got '$REVOCATION')" ;;
esac
case $USER_CACHE in
off) caches=(0) ;;
on) caches=("$USER_CACHE_SECS") ;;
both) caches=(0 "$USER_CACHE_SECS") ;;
*) die "USER_CACHE must be off, on or both (got '$USER_CACHE')" ;;
esac
# A phase: a revocation mode and how long users are cached (0: not at all), as mode:secs. The
# mode `base` is Redis with BASE's server.
phases=()
if [[ -n $BASE ]]; then
    for secs in "${caches[@]}"; do
        phases+=("base:$secs")
    done
fi
for mode in "${modes[@]}"; do
    for secs in "${caches[@]}"; do
        phases+=("$mode:$secs")
    done
done
for v in DURATION CONNECTIONS OUTAGE USER_CACHE_SECS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
((DURATION > 0 && CONNECTIONS > 0)) || die "DURATION and CONNECTIONS must be positive"
((OUTAGE * 3 < DURATION * 2)) || die "OUTAGE must end before the run does (OUTAGE < 2/3 DURATION)"
((OUTAGE == 0)) || [[ $REVOCATION != memory ]] || die "OUTAGE needs Redis (not with REVOCATION=memory)"
[[ -z $BASE ]] || [[ $REVOCATION != memory ]] || die "BASE compares the Redis mode (not with REVOCATION=memory)"
[[ -z $BASE ]] || git rev-parse --verify --quiet "$BASE^{commit}" >/dev/null || die "BASE is not a commit: '$BASE'"
((USER_CACHE_SECS > 0)) || [[ $USER_CACHE == off ]] || die "USER_CACHE_SECS must be positive"

command -v wrk >/dev/null || die "wrk is missing: run this through \`bash loadtest/run.sh scale-out\`"
bash scripts/services.sh install

# The example server's executable, built (release) from the workspace at $1, its own crates
# built afresh.
build_server() {
    cargo clean --release --manifest-path "$1/Cargo.toml" --target-dir "$PWD/target" \
        -p example-server -p tower-login-manager >&2
    cargo build --release --manifest-path "$1/Cargo.toml" --target-dir "$PWD/target" \
        -p example-server --bin server --message-format=json-render-diagnostics |
        grep -o '"executable":"[^"]*server"' | tail -n1 | cut -d'"' -f4
}

tmp=$(mktemp -d)
base_exe=''
if [[ -n $BASE ]]; then
    log "building the example server of $BASE (release)"
    mkdir "$tmp/base"
    git archive "$BASE" | tar -x -C "$tmp/base"
    built=$(build_server "$tmp/base")
    [[ -x $built ]] || die "could not build the example server of $BASE"
    base_exe=$tmp/server-base
    cp "$built" "$base_exe"
fi
log "building the example server (release)"
exe=$(build_server "$PWD")
[[ -x $exe ]] || die "could not find the example server's executable"
[[ -z $base_exe ]] || ! cmp -s "$base_exe" "$exe" || die "the server of $BASE is this tree's: same build"

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    bash scripts/services.sh stop "$tmp" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops the given processes (started here) and drops them from the cleanup list.
stop_pids() {
    local pid keep=() stopped=" $* "
    for pid in "$@"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        [[ $stopped == *" $pid "* ]] || keep+=("$pid")
    done
    pids=("${keep[@]}")
}

export OWNER_PID=$$
database_url=$(bash scripts/services.sh start-postgres "$tmp" | sed -n 's/^DATABASE_URL=//p')
redis_url='' redis_port=''
if [[ $REVOCATION != memory ]]; then
    redis_url=$(bash scripts/services.sh start-redis "$tmp" | sed -n 's/^REDIS_URL=//p')
    redis_port=${redis_url##*:}
fi
secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')

# Starts instances A and B for a mode (redis: REDIS_URL set; memory: REDIS_URL unset) and a user
# cache (USER_CACHE_SECS), into urls and instance_pids. Each instance stops by itself after
# max_secs even if this script dies.
max_secs=$((DURATION + OUTAGE + 300))
start_instances() {
    local mode=$1 secs=$2 name port url vars store users server=$exe
    urls=() instance_pids=()
    [[ $mode != base ]] || server=$base_exe
    for name in a b; do
        port=$(bash scripts/services.sh free-port)
        vars=(SECRET_KEY="$secret" DATABASE_URL="$database_url" HOST=127.0.0.1 PORT="$port"
            USER_CACHE_SECS="$secs")
        store="revoked tokens: in memory"
        if [[ $mode == redis || $mode == base ]]; then
            vars+=(REDIS_URL="$redis_url")
            store="revoked tokens: Redis"
        fi
        users="users: loaded from the database on every request"
        ((secs == 0)) || users="users: cached for $secs s"
        env -u REDIS_URL "${vars[@]}" timeout --signal=TERM "$max_secs" "$server" \
            >/dev/null 2>"$tmp/$mode-$secs-$name.err" &
        pids+=($!)
        instance_pids+=($!)
        url=http://127.0.0.1:$port
        for _ in $(seq 1 300); do
            curl -fsS "$url/health" >/dev/null 2>&1 && break
            kill -0 "${pids[-1]}" 2>/dev/null || die "instance $name exited: $(cat "$tmp/$mode-$secs-$name.err")"
            sleep 0.1
        done
        curl -fsS "$url/health" >/dev/null || die "instance $name did not start: $(cat "$tmp/$mode-$secs-$name.err")"
        grep -q "^$store" "$tmp/$mode-$secs-$name.err" ||
            die "instance $name does not keep revoked tokens as expected ($store): $(cat "$tmp/$mode-$secs-$name.err")"
        grep -q "^$users" "$tmp/$mode-$secs-$name.err" ||
            die "instance $name does not load users as expected ($users): $(cat "$tmp/$mode-$secs-$name.err")"
        urls+=("$url")
    done
}

credentials='{"username":"load","password":"load test password"}'
token_of() { curl -fsS -X POST "$1/login" -d "$credentials" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p'; }
me() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$2/me"; }
# PostgreSQL's count of scans of the users table, by index or not (the planner may scan a one-row
# table whole): one per user lookup. A busy backend reports its statistics at most once a second
# and an idle one up to 10 s later (PostgreSQL 15+), so the count is read once the instances, and
# with them their connections, are gone.
user_lookups() {
    psql -qtAX "$database_url" -c "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)
        FROM pg_stat_user_tables WHERE relname = 'users'"
}

registered='' failed='' rows=() oks=() names=(A B) labels=()
declare -A total_rps lookups_per_request
for phase in "${phases[@]}"; do
    mode=${phase%%:*} secs=${phase#*:}
    label=$mode
    [[ $mode != base ]] || label="redis before ($BASE)"
    ((secs == 0)) || label+=" + user cache ${secs}s"
    labels+=("$label")
    start_instances "$mode" "$secs"
    if [[ $mode == redis || $mode == base ]]; then
        log "instances at ${urls[*]}, on PostgreSQL and Redis (port $redis_port)"
    else
        log "instances at ${urls[*]}, on PostgreSQL, revocations in memory"
    fi
    ((secs == 0)) || log "users cached for ${secs}s"
    if [[ -z $registered ]]; then
        curl -fsS -X POST "${urls[0]}/register" -d "$credentials" >/dev/null
        registered=1
    fi
    token=$(token_of "${urls[1]}")
    [[ -n $token ]] || die "$mode: no token from /login"
    [[ $(me "$token" "${urls[0]}") == 200 ]] || die "$mode: B's token is refused on A before the run"

    outage=0 outage_note=''
    if [[ $mode == redis || $mode == base ]] && ((OUTAGE > 0)); then
        outage=$OUTAGE outage_note=", Redis down for ${OUTAGE}s"
    fi
    log "$label: $CONNECTIONS connections per instance for ${DURATION}s$outage_note"
    sleep 1.2
    lookups_before=$(user_lookups)
    wrk_pids=()
    for i in 0 1; do
        wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency \
            -H "Authorization: Bearer $token" "${urls[$i]}/me" >"$tmp/wrk-$mode-$secs-$i.out" &
        pids+=($!)
        wrk_pids+=($!)
    done
    if ((outage > 0)); then
        sleep $((DURATION / 3))
        log "stopping Redis"
        bash scripts/services.sh stop-redis "$tmp"
        sleep "$outage"
        log "starting Redis again on port $redis_port"
        bash scripts/services.sh start-redis "$tmp" "$redis_port" >/dev/null
    fi
    wait "${wrk_pids[@]}"
    stop_pids "${wrk_pids[@]}"

    total_rps[$label]=0 phase_requests=0
    for i in 0 1; do
        out=$tmp/wrk-$mode-$secs-$i.out
        requests=$(awk '/requests in/ { print $1 }' "$out")
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
        p99=$(awk '$1 == "99%" { print $2 }' "$out")
        non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
        rows+=("| $label | ${names[$i]} ${urls[$i]} | ${requests:-0} | ${rps:-0} | ${p99:--} | ${non2xx:-0} |")
        total_rps[$label]=$(awk -v a="${total_rps[$label]}" -v b="${rps:-0}" 'BEGIN { printf "%.2f", a + b }')
        phase_requests=$((phase_requests + ${requests:-0}))
        [[ -n $requests && $requests -gt 0 ]] || failed="$mode: no requests completed on ${urls[$i]}"
        if ((outage == 0)) && [[ -n $non2xx && $non2xx != 0 ]]; then
            failed="$mode: $non2xx non-2xx answers on ${urls[$i]}"
        fi
    done

    # Both serve again (bounded); revocations are shared with Redis, per instance in memory.
    for url in "${urls[@]}"; do
        for _ in $(seq 1 100); do
            [[ $(me "$token" "$url") == 200 ]] && break
            sleep 0.1
        done
        [[ $(me "$token" "$url") == 200 ]] || failed="$mode: $url does not serve /me after the run"
    done
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" "${urls[1]}/logout") == 200 ]] ||
        failed="$mode: logout on B failed"
    [[ $(me "$token" "${urls[1]}") == 401 ]] || failed="$mode: a logout on B is not refused on B"
    if [[ $mode == redis || $mode == base ]]; then
        [[ $(me "$token" "${urls[0]}") == 401 ]] || failed="$label: a logout on B is not refused on A"
        cached_note=''
        ((secs == 0)) || cached_note=' at once, its user cached on A'
        oks+=("$label: both instances served${outage_note:+ and recovered from the Redis outage}; a logout on B is refused on A$cached_note")
    else
        [[ $(me "$token" "${urls[0]}") == 200 ]] ||
            failed="$label: a logout on B is refused on A (each instance should have its own store)"
        oks+=("$label: both instances served; a logout on B is refused on B only, not on A (not shared)")
    fi
    stop_pids "${instance_pids[@]}"
    # The instances' connections have closed, and a backend that exits reports its statistics.
    sleep 1.2
    lookups=$(($(user_lookups) - lookups_before))
    lookups_per_request[$label]=$(awk -v l="$lookups" -v r="$phase_requests" \
        'BEGIN { if (r > 0) printf "%d (%.4f per request)", l, l / r; else print "-" }')
done

echo
echo "| phase | instance | requests | req/s | p99 | non-2xx |"
echo "|---|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "| phase | total req/s | PostgreSQL user lookups |"
echo "|---|---:|---:|"
for label in "${labels[@]}"; do
    echo "| $label | ${total_rps[$label]} | ${lookups_per_request[$label]} |"
done
echo
summary="total req/s:"
for label in "${labels[@]}"; do
    summary+=" $label ${total_rps[$label]},"
done
summary=${summary%,}
if [[ $USER_CACHE == both ]]; then
    for mode in "${modes[@]}"; do
        cached="$mode + user cache ${USER_CACHE_SECS}s"
        summary+="; $mode, cached/uncached $(awk -v c="${total_rps[$cached]}" -v u="${total_rps[$mode]}" \
            'BEGIN { if (u > 0) printf "%.2f", c / u; else print "-" }')"
    done
fi
if ((${#modes[@]} == 2)) && [[ $USER_CACHE == off ]]; then
    summary+="; redis/memory $(awk -v r="${total_rps[redis]}" -v m="${total_rps[memory]}" \
        'BEGIN { if (m > 0) printf "%.2f", r / m; else print "-" }')"
    ((OUTAGE == 0)) || summary+=" (the redis rows count the outage's quick 503s: not like for like)"
fi
if [[ -n $BASE ]]; then
    for secs in "${caches[@]}"; do
        cached=''
        ((secs == 0)) || cached=" + user cache ${secs}s"
        summary+="; redis$cached after/before ($BASE) $(awk -v a="${total_rps[redis$cached]:-0}" \
            -v b="${total_rps[redis before ($BASE)$cached]:-0}" \
            'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
    done
fi
echo "$summary"
echo

[[ -z $failed ]] || die "$failed"
for ok in "${oks[@]}"; do
    log "ok: $ok"
done
