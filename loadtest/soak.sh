#!/usr/bin/env bash
# Soak test: loadtest/src/bin/soak_app.rs under sustained load from wrk on loopback, rotating through
# four kinds of request: a valid token, an expired one, a tampered one, and no token.
#
#   SOAK_SECONDS=30 bash loadtest/run.sh soak
#
# SOAK_SECONDS     length of the measured run (default 30)
# WARMUP_SECONDS   length of the warm-up run before it (default 10)
# CONNECTIONS      concurrent connections (default 64)
# THREADS          wrk threads (default 2)
# PORT             port on 127.0.0.1 (default 0: any free port)
# RSS_GROWTH_KIB   allowed RSS growth from after the warm-up to after the run (default 10240)
#
# Fails (exit 1) if any response is not the expected one (valid -> 200; expired, tampered and
# missing -> 401), on any 5xx, socket error or timeout, or if the app's RSS grew by more than
# RSS_GROWTH_KIB during the measured run.
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECONDS="${SOAK_SECONDS:-30}"
WARMUP_SECONDS="${WARMUP_SECONDS:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
PORT="${PORT:-0}"
RSS_GROWTH_KIB="${RSS_GROWTH_KIB:-10240}"

command -v wrk >/dev/null || { echo "wrk is missing: run this through \`bash loadtest/run.sh soak\`" >&2; exit 1; }

echo "==> building soak_app (release)"
cargo build --release -p loadtest --bin soak_app --quiet
app="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/soak_app"

dir="$(mktemp -d)"
chmod 700 "$dir"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

PORT="$PORT" TOKENS_FILE="$dir/tokens" "$app" 2>"$dir/app.log" &
pid=$!
for _ in $(seq 100); do
    [ -s "$dir/tokens" ] && grep -q '^tampered=' "$dir/tokens" && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/app.log" >&2; echo "FAIL: the app did not start" >&2; exit 1; }
    sleep 0.1
done
addr="$(sed -n 's/^addr=//p' "$dir/tokens")"
case "$addr" in
    127.*) ;;
    *) echo "FAIL: the app is not on loopback: $addr" >&2; exit 1 ;;
esac
echo "==> soak_app (pid $pid) on $addr"

cat >"$dir/rotate.lua" <<'LUA'
-- Rotates through the four kinds; counts "<kind> <status>" from the x-kind header the app echoes.
local kinds = { "valid", "expired", "tampered", "missing" }
local threads = {}
tokens = {}
counts = {}
counter = 0

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    local f = assert(io.open(args[1], "r"))
    for line in f:lines() do
        local k, v = line:match("^(%w+)=(.*)$")
        if k then tokens[k] = v end
    end
    f:close()
end

function request()
    counter = counter + 1
    local kind = kinds[(counter % 4) + 1]
    local headers = { ["x-kind"] = kind }
    if kind ~= "missing" then
        headers["Authorization"] = "Bearer " .. tokens[kind]
    end
    return wrk.format("GET", "/protected", headers)
end

function response(status, headers, body)
    local key = (headers["x-kind"] or "none") .. " " .. status
    counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("counts")) do
            total[k] = (total[k] or 0) + v
        end
    end
    for k, v in pairs(total) do
        io.write(string.format("COUNT %s %d\n", k, v))
    end
    local e = summary.errors
    io.write(string.format("ERRORS %d %d %d %d\n", e.connect, e.read, e.write, e.timeout))
    io.write(string.format("REQUESTS %d\n", summary.requests))
    io.write(string.format("LATENCY p50=%.0fus p99=%.0fus max=%.0fus\n",
        latency:percentile(50), latency:percentile(99), latency.max))
end
LUA

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }

failed=0
# Runs wrk for $2 seconds, then checks every response of the phase named $1.
phase() {
    local name="$1" seconds="$2" out="$dir/$1.out"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${seconds}s" --timeout 5s --latency \
        -s "$dir/rotate.lua" "http://$addr" -- "$dir/tokens" >"$out" 2>&1
    local requests rps
    requests="$(awk '/^REQUESTS/ {print $2}' "$out")"
    rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
    echo "--- $name: ${seconds}s, $CONNECTIONS connections: $requests responses, $rps req/s, $(grep '^LATENCY' "$out" | cut -d' ' -f2-)"
    awk -v name="$name" -v requests="$requests" '
        /^COUNT/ {
            kind = $2; status = $3; n = $4
            seen += n
            want = (kind == "valid") ? 200 : 401
            printf "    %-8s %s: %d\n", kind, status, n
            if (kind !~ /^(valid|expired|tampered|missing)$/) { bad = 1; print "    FAIL: a response without a known x-kind" }
            else if (status != want) { bad = 1; printf "    FAIL: %s answered %s, expected %d\n", kind, status, want }
            else ok[kind] += n
        }
        /^ERRORS/ {
            if ($2 + $3 + $4 + $5 > 0) { bad = 1; printf "    FAIL: socket errors connect=%d read=%d write=%d timeout=%d\n", $2, $3, $4, $5 }
        }
        END {
            split("valid expired tampered missing", kinds, " ")
            for (i = 1; i <= 4; i++) if (ok[kinds[i]] == 0) { bad = 1; printf "    FAIL: no %s request was answered\n", kinds[i] }
            if (seen != requests || requests == 0) { bad = 1; printf "    FAIL: %d responses counted, wrk reports %d\n", seen, requests }
            exit bad
        }' "$out" || { failed=1; cat "$out" >&2; }
}

rss_start="$(rss_kib)"
phase warm-up "$WARMUP_SECONDS"
rss_warm="$(rss_kib)"
phase soak "$SOAK_SECONDS"
sleep 1
rss_end="$(rss_kib)"
kill -0 "$pid" 2>/dev/null || { echo "FAIL: the app died" >&2; failed=1; }

growth=$(( rss_end - rss_warm ))
echo "--- RSS: start ${rss_start} KiB, after warm-up ${rss_warm} KiB, after soak ${rss_end} KiB (growth ${growth} KiB, allowed ${RSS_GROWTH_KIB} KiB)"
if [ "$growth" -gt "$RSS_GROWTH_KIB" ]; then
    echo "FAIL: RSS grew by ${growth} KiB during the soak" >&2
    failed=1
fi

if [ "$failed" -ne 0 ]; then
    echo "SOAK FAILED" >&2
    exit 1
fi
echo "SOAK PASSED"
