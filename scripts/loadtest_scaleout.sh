#!/usr/bin/env bash
# Load test, scale-out mode: two instances of the example server (release, `--features redis`)
# on one PostgreSQL and one Redis (started by scripts/services.sh), driven at the same time with
# the same valid access token on `GET /me`, which checks the revocation store (one Redis round
# trip) and loads the user (one PostgreSQL query) on every request.
#
#   bash scripts/loadtest_scaleout.sh                      # 10 s on both instances
#   DURATION=5 OUTAGE=2 bash scripts/loadtest_scaleout.sh  # Redis down for 2 s mid-run
#
# Reports per instance the requests/s, the p99 latency and the non-2xx answers. Without OUTAGE,
# any non-2xx answer fails the run. With OUTAGE=N, Redis is stopped for N seconds a third of the
# way in and started again on the same port: the answers meanwhile are 503s (counted, and each
# checked to be quick by wrk's timeout), and both instances must serve `/me` again afterwards
# with no restart. Finally a logout on B must be refused on A.
#
# Settings (environment): DURATION seconds (10), CONNECTIONS per instance (16), OUTAGE seconds
# (0). The load generator is wrk, installed with apt-get if missing. Traffic goes to 127.0.0.1
# only; every run is bounded in time, and everything started here is stopped on exit (the
# servers also stop by themselves after a bound).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
OUTAGE=${OUTAGE:-0}

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'loadtest_scaleout: %s\n' "$*" >&2
    exit 1
}

for v in DURATION CONNECTIONS OUTAGE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
((DURATION > 0 && CONNECTIONS > 0)) || die "DURATION and CONNECTIONS must be positive"
((OUTAGE * 3 < DURATION * 2)) || die "OUTAGE must end before the run does (OUTAGE < 2/3 DURATION)"

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
command -v wrk >/dev/null || die "no load generator: install wrk"
bash scripts/services.sh install

log "building the example server (release, --features redis)"
exe=$(cargo build --release --example server --features redis --message-format=json-render-diagnostics |
    grep -o '"executable":"[^"]*server"' | tail -n1 | cut -d'"' -f4)
[[ -x $exe ]] || die "could not find the example server's executable"

tmp=$(mktemp -d)
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

export OWNER_PID=$$
database_url=$(bash scripts/services.sh start-postgres "$tmp" | sed -n 's/^DATABASE_URL=//p')
redis_url=$(bash scripts/services.sh start-redis "$tmp" | sed -n 's/^REDIS_URL=//p')
redis_port=${redis_url##*:}
secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')

# Each instance stops by itself after max_secs even if this script dies.
max_secs=$((DURATION + OUTAGE + 300))
urls=()
for name in a b; do
    port=$(bash scripts/services.sh free-port)
    SECRET_KEY=$secret DATABASE_URL=$database_url REDIS_URL=$redis_url HOST=127.0.0.1 PORT=$port \
        timeout --signal=TERM "$max_secs" "$exe" >/dev/null 2>"$tmp/$name.err" &
    pids+=($!)
    url=http://127.0.0.1:$port
    for _ in $(seq 1 300); do
        curl -fsS "$url/health" >/dev/null 2>&1 && break
        kill -0 "${pids[-1]}" 2>/dev/null || die "instance $name exited: $(cat "$tmp/$name.err")"
        sleep 0.1
    done
    curl -fsS "$url/health" >/dev/null || die "instance $name did not start: $(cat "$tmp/$name.err")"
    urls+=("$url")
done
log "instances at ${urls[*]}, on PostgreSQL and Redis (port $redis_port)"

credentials='{"username":"load","password":"load test password"}'
curl -fsS -X POST "${urls[0]}/register" -d "$credentials" >/dev/null
token_of() { curl -fsS -X POST "$1/login" -d "$credentials" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p'; }
token=$(token_of "${urls[1]}")
[[ -n $token ]] || die "no token from /login"
me() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$2/me"; }
[[ $(me "$token" "${urls[0]}") == 200 ]] || die "B's token is refused on A before the run"

outage_note=
((OUTAGE == 0)) || outage_note=", Redis down for ${OUTAGE}s"
log "$CONNECTIONS connections per instance for ${DURATION}s$outage_note"
for i in 0 1; do
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency \
        -H "Authorization: Bearer $token" "${urls[$i]}/me" >"$tmp/wrk$i.out" &
    pids+=($!)
    wrk_pids[i]=$!
done
if ((OUTAGE > 0)); then
    sleep $((DURATION / 3))
    log "stopping Redis"
    bash scripts/services.sh stop-redis "$tmp"
    sleep "$OUTAGE"
    log "starting Redis again on port $redis_port"
    bash scripts/services.sh start-redis "$tmp" "$redis_port" >/dev/null
fi
wait "${wrk_pids[0]}" "${wrk_pids[1]}"

echo
echo "| instance | requests | req/s | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
failed=
for i in 0 1; do
    out=$tmp/wrk$i.out
    requests=$(awk '/requests in/ { print $1 }' "$out")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    echo "| ${urls[$i]} | ${requests:-0} | ${rps:-0} | ${p99:--} | ${non2xx:-0} |"
    [[ -n $requests && $requests -gt 0 ]] || failed="no requests completed on ${urls[$i]}"
    if ((OUTAGE == 0)) && [[ -n $non2xx && $non2xx != 0 ]]; then
        failed="$non2xx non-2xx answers on ${urls[$i]}"
    fi
done
echo

# Both serve again (bounded), and revocations are shared.
for url in "${urls[@]}"; do
    for _ in $(seq 1 100); do
        [[ $(me "$token" "$url") == 200 ]] && break
        sleep 0.1
    done
    [[ $(me "$token" "$url") == 200 ]] || failed="$url does not serve /me after the run"
done
[[ $(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" "${urls[1]}/logout") == 200 ]] ||
    failed="logout on B failed"
[[ $(me "$token" "${urls[0]}") == 401 ]] || failed="a logout on B is not refused on A"

[[ -z $failed ]] || die "$failed"
log "ok: both instances served${outage_note:+ and recovered from the Redis outage}; a logout on B is refused on A"
