#!/usr/bin/env bash
# Load test: what LoginLayer costs a real server, end to end over loopback.
#
# Runs loadtest/src/bin/loadtest_app.rs (axum, one-thread runtime) with the same handler behind `/open`
# (no layer) and `/protected` (LoginLayer, in-memory loader), and drives them with the same
# request, `Authorization: Bearer <valid token>` included. `/by_hand` is the check a user would
# write instead of the layer (a pass-through route_layer: `decode_token`, the same loader, the user
# into the extensions), the reference of the budget below. Other references verify that token by
# hand in the handler, with no layer and no user: `/floor` (the least work any HS256 verifier must
# do, as in benches/decode.rs), `/jsonwebtoken` (`jsonwebtoken::decode`) and `/decode_token` (this
# crate's verifier alone), so that verifying can be told from the rest of the layer.
#
# Two measurements, on the same server:
# 1. Rounds: every route in turn for DURATION seconds, ROUNDS times, alternating the order. Per
#    route: requests/s, p99 latency and the server's CPU time per request (utime + stime from
#    /proc/<pid>/stat), medians over the rounds.
# 2. Interleaved: one wrk run of INTERLEAVED seconds in which the routes take turns every
#    PHASE_MS milliseconds (loadtest/interleaved.lua), with the server's CPU time read at
#    each turn (/proc/<pid>/schedstat, nanoseconds). On a shared machine whose speed swings by a
#    third within seconds, this is what makes routes comparable: both see the same swings.
#    loadtest/stats.py reports each route against `/open` with a 95% bootstrap interval.
#    The budget is judged on this measurement: `/protected`'s server CPU per request over
#    `/open`'s is at most `/by_hand`'s over `/open`'s + 0.3 µs. Printed: both added
#    CPU figures and the margin, each with its interval, and PASS or FAIL; the exit status is 2
#    on FAIL (1 if the run is void).
#
#   bash loadtest/run.sh layer                          # defaults below, about three minutes
#   ROUNDS=5 DURATION=5 INTERLEAVED=180 bash loadtest/run.sh layer
#   ROUTES="/open /layered /protected /by_hand" bash loadtest/run.sh layer
#       # `/layered`: a pass-through route_layer, what any axum route layer costs
#
# Settings (environment): ROUTES ("/open /protected /by_hand /decode_token /floor /jsonwebtoken";
# /open, /protected and /by_hand are required), ROUNDS (3), DURATION seconds per run (3),
# INTERLEAVED seconds (90, 0 to skip), PHASE_MS (200), CONNECTIONS (32), WARMUP seconds per route
# before the rounds (1), SERVER_CPU / CLIENT_CPU cores to pin to with taskset (0 / 1). The load
# generator is wrk, which loadtest/run.sh installs.
# Traffic goes to 127.0.0.1 only; every run is bounded in time and the server is stopped on exit
# (and stops by itself after MAX_SECS in any case).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
INTERLEAVED=${INTERLEAVED:-90}
PHASE_MS=${PHASE_MS:-200}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BUDGET_US=0.3 # the budget's allowance: `/protected` adds at most `/by_hand`'s + 0.3 µs
read -r -a routes <<<"${ROUTES:-/open /protected /by_hand /decode_token /floor /jsonwebtoken}"

# shellcheck source=loadtest/app.sh
source loadtest/app.sh

for v in ROUNDS DURATION CONNECTIONS WARMUP PHASE_MS; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} == 0)); then
        die "$v must be a positive integer (got '${!v}')"
    fi
done
[[ $INTERLEAVED =~ ^[0-9]+$ ]] || die "INTERLEAVED must be a number of seconds (got '$INTERLEAVED')"
for r in /open /protected /by_hand; do
    [[ " ${routes[*]} " == *" $r "* ]] || die "ROUTES must include $r"
done
for r in "${routes[@]}"; do
    [[ $r =~ ^/(open|protected|layered|floor|jsonwebtoken|decode_token|by_hand)$ ]] ||
        die "unknown route $r (the app has /open, /protected, /layered, /decode_token, /by_hand, /floor, /jsonwebtoken)"
done

# --- the load generator: wrk, installed by loadtest/run.sh -------------------------------------
command -v wrk >/dev/null || die "wrk is missing: run this through \`bash loadtest/run.sh layer\`"

# --- pinning ----------------------------------------------------------------------------------
server_pin=() client_pin=()
if command -v taskset >/dev/null && (($(nproc) > 1)); then
    server_pin=(taskset -c "$SERVER_CPU")
    client_pin=(taskset -c "$CLIENT_CPU")
else
    log "taskset missing or one core: server and load generator are not pinned"
fi

# --- the server -------------------------------------------------------------------------------
build_app
# Long enough for every run, and then some.
start_app $(((ROUNDS + 1) * ${#routes[@]} * (DURATION + 5) + INTERLEAVED + 120)) "${server_pin[@]}"

clk_tck=$(getconf CLK_TCK)

# utime + stime of the server, in clock ticks (fields 14 and 15 of /proc/<pid>/stat; the fields
# are counted after the parenthesized command name, which may hold spaces).
server_ticks() {
    local stat rest f
    stat=$(<"/proc/$server_pid/stat")
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    echo $((f[11] + f[12]))
}

# Converts a wrk latency ("812.00us", "1.20ms", "1.01s") to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000;
        else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# One bounded run against a route: prints "requests rps p99_ms cpu_us_per_request".
run() {
    local route=$1 secs=$2 out before after requests rps p99 non2xx
    out="$tmp/run.out"
    before=$(server_ticks)
    "${client_pin[@]}" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --timeout 5s --latency \
        -H "Authorization: Bearer $token" "$url$route" >"$out"
    after=$(server_ticks)
    requests=$(awk '/requests in/ { print $1 }' "$out")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    [[ -n $requests && $requests -gt 0 ]] || die "no requests completed on $route: $(cat "$out")"
    [[ -z $non2xx || $non2xx == 0 ]] || die "$non2xx non-2xx answers on $route: the run is void"
    awk -v r="$requests" -v rps="$rps" -v p99="$p99" -v t=$((after - before)) -v hz="$clk_tck" \
        'BEGIN { printf "%d %.1f %.3f %.2f\n", r, rps, p99, t / hz * 1e6 / r }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

log "server at $url (pid $server_pid${server_pin:+, cpu $SERVER_CPU}); wrk${client_pin:+ on cpu $CLIENT_CPU}," \
    "$CONNECTIONS connections, $ROUNDS rounds x ${#routes[@]} routes x ${DURATION}s"
for route in "${routes[@]}"; do
    log "warm-up $route (${WARMUP}s)"
    run "$route" "$WARMUP" >/dev/null
done

declare -A results=()
for round in $(seq 1 "$ROUNDS"); do
    # Alternate the order, so that drift on a shared machine hits every route alike.
    order=("${routes[@]}")
    if ((round % 2 == 0)); then
        for ((i = ${#routes[@]} - 1, j = 0; i >= 0; i--, j++)); do order[j]=${routes[i]}; done
    fi
    for route in "${order[@]}"; do
        results[$route,$round]=$(run "$route" "$DURATION")
        log "round $round $route: ${results[$route,$round]} (requests rps p99_ms cpu_us/req)"
    done
done

# --- the report -------------------------------------------------------------------------------
column() { # route, field (1-based) -> the values over the rounds, one per line
    local r
    for r in $(seq 1 "$ROUNDS"); do echo "${results[$1,$r]}" | awk -v f="$2" '{ print $f }'; done
}

echo
echo "| round | route | requests | req/s | p99 (ms) | server CPU (µs/req) |"
echo "|---:|---|---:|---:|---:|---:|"
for r in $(seq 1 "$ROUNDS"); do
    for route in "${routes[@]}"; do
        read -r n rps p99 cpu <<<"${results[$route,$r]}"
        echo "| $r | \`$route\` | $n | $rps | $p99 | $cpu |"
    done
done

echo
echo "| route (median of $ROUNDS) | req/s | p99 (ms) | server CPU (µs/req) |"
echo "|---|---:|---:|---:|"
declare -A med=()
for route in "${routes[@]}"; do
    med[$route,rps]=$(column "$route" 2 | median)
    med[$route,p99]=$(column "$route" 3 | median)
    med[$route,cpu]=$(column "$route" 4 | median)
    echo "| \`$route\` | ${med[$route,rps]} | ${med[$route,p99]} | ${med[$route,cpu]} |"
done

# The per-round ratio, whose median is less sensitive to drift than the ratio of the medians.
ratios=$(for r in $(seq 1 "$ROUNDS"); do
    o=$(echo "${results[/open,$r]}" | awk '{ print $2 }')
    p=$(echo "${results[/protected,$r]}" | awk '{ print $2 }')
    awk -v o="$o" -v p="$p" 'BEGIN { printf "%.4f\n", p / o }'
done)
ratio=$(awk -v o="${med[/open,rps]}" -v p="${med[/protected,rps]}" 'BEGIN { printf "%.3f", p / o }')
ratio_rounds=$(echo "$ratios" | median)
cpu_added=$(awk -v o="${med[/open,cpu]}" -v p="${med[/protected,cpu]}" 'BEGIN { printf "%.2f", p - o }')

echo
echo "- rounds: protected/open throughput $ratio (ratio of the medians; median of per-round ratios" \
    "$(printf '%.3f' "$ratio_rounds")), server CPU added by the layer $cpu_added µs per request"
if [[ -n ${med[/layered,rps]:-} ]]; then
    awk -v o="${med[/open,rps]}" -v l="${med[/layered,rps]}" -v p="${med[/protected,rps]}" \
        -v oc="${med[/open,cpu]}" -v lc="${med[/layered,cpu]}" -v pc="${med[/protected,cpu]}" 'BEGIN {
        printf "- a pass-through axum route_layer alone: layered/open throughput %.3f, %+.2f µs CPU per request\n", l / o, lc - oc
        printf "- LoginLayer beyond that: protected/layered throughput %.3f, %+.2f µs CPU per request\n", p / l, pc - lc }'
fi
echo "- wrk, $CONNECTIONS connections, ${DURATION}s runs, $ROUNDS rounds;" \
    "server pinned: ${server_pin[*]:-no}; generator pinned: ${client_pin[*]:-no}; $(nproc) cores"

# --- the interleaved measurement (the budget is judged on it) --------------------------------
if ((INTERLEAVED == 0)); then
    echo
    echo "- interleaved measurement skipped (INTERLEAVED=0): no verdict on the budget"
    exit 0
fi
[[ -r /proc/$server_pid/schedstat ]] || die "/proc/$server_pid/schedstat is missing: no CPU time per phase"
log "interleaved: ${INTERLEAVED}s, the routes take turns every ${PHASE_MS} ms"
ROUTES="${routes[*]}" SERVER_PID=$server_pid PHASE_MS=$PHASE_MS "${client_pin[@]}" \
    wrk -t1 -c"$CONNECTIONS" -d"${INTERLEAVED}s" --timeout 5s -s loadtest/interleaved.lua \
    -H "Authorization: Bearer $token" "$url/" >"$tmp/interleaved.out"
echo
echo "Interleaved: one ${INTERLEAVED}s wrk run, the routes in turn every ${PHASE_MS} ms:"
echo
python3 loadtest/stats.py "$tmp/interleaved.out" --baseline /open --budget-route /protected \
    --reference-route /by_hand --budget-us "$BUDGET_US"
