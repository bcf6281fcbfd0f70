#!/usr/bin/env bash
# Instructions per request: what LoginLayer costs, counted rather than timed.
#
# Runs loadtest/src/bin/loadtest_app.rs under valgrind's callgrind and sends each route the same
# request (`Authorization: Bearer <valid token>`, one keep-alive connection) REQUESTS times,
# counting the server's instructions for each route apart (`callgrind_control --zero` before,
# `--dump` after). A count does not move with the load of a shared machine, so two commits, or
# two designs, can be compared to the instruction; the timed figures of layer.sh stay the ones
# the targets are judged on. Under valgrind, SHA-256 runs without the CPU's SHA extensions, so
# the verifying routes count more instructions than they run natively: compare the layer with
# `/decode_token`, which verifies the same way, never with `/open` alone.
#
#   bash loadtest/run.sh instructions                 # about a minute after the build
#   REQUESTS=5000 bash loadtest/run.sh instructions
#
# Settings (environment): REQUESTS per route (2000), ROUTES ("/open /layered /protected
# /decode_token /by_hand"; the summary needs them all). valgrind is installed by loadtest/run.sh. Loopback only, bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-2000}
read -r -a routes <<<"${ROUTES:-/open /layered /protected /decode_token /by_hand}"

# shellcheck source=loadtest/app.sh
source loadtest/app.sh

[[ $REQUESTS =~ ^[0-9]+$ ]] && ((REQUESTS > 0)) || die "REQUESTS must be a positive integer"
for r in "${routes[@]}"; do
    [[ $r =~ ^/(open|protected|layered|floor|jsonwebtoken|decode_token|by_hand)$ ]] || die "unknown route $r"
done
command -v valgrind >/dev/null || die "valgrind is missing: run this through \`bash loadtest/run.sh instructions\`"

build_app
start_app 900 valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out"
port=${url##*:}

# n requests to a route on one keep-alive connection; every answer must be 200.
drive() {
    python3 - "$port" "$1" "$2" "$tmp/token" <<'EOF'
import http.client, sys
port, route, n, token_file = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
headers = {"Authorization": "Bearer " + open(token_file).read().strip()}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for _ in range(n):
    conn.request("GET", route, headers=headers)
    res = conn.getresponse()
    res.read()
    if res.status != 200:
        sys.exit(f"GET {route}: {res.status} instead of 200: the count is void")
EOF
}

log "warm-up: 200 requests per route"
for route in "${routes[@]}"; do drive "$route" 200; done
callgrind_control --zero "$server_pid" >/dev/null 2>&1

# callgrind writes dump k to callgrind.out.k.
declare -A per_request=()
k=0
for route in "${routes[@]}"; do
    drive "$route" "$REQUESTS"
    k=$((k + 1))
    callgrind_control --dump="$route" "$server_pid" >/dev/null 2>&1
    dump="$tmp/callgrind.out.$k"
    for _ in $(seq 1 100); do
        [[ -s $dump ]] && grep -q '^totals:' "$dump" && break
        sleep 0.1
    done
    total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump" 2>/dev/null || true)
    [[ -n $total ]] || die "no count in the dump for $route"
    per_request[$route]=$((total / REQUESTS))
    log "$route: ${per_request[$route]} instructions per request"
done

echo
echo "Instructions per request, server side (callgrind, $REQUESTS requests per route, one connection):"
echo
echo "| route | instructions per request |"
echo "|---|---:|"
for route in "${routes[@]}"; do echo "| \`$route\` | ${per_request[$route]} |"; done
if [[ -n ${per_request[/open]:-} && -n ${per_request[/layered]:-} && -n ${per_request[/protected]:-} &&
    -n ${per_request[/decode_token]:-} ]]; then
    layered=$((per_request[/layered] - per_request[/open]))
    beyond=$((per_request[/protected] - per_request[/decode_token] - layered))
    echo
    echo "- a pass-through route_layer: $layered instructions per request"
    echo "- LoginLayer beyond \`/decode_token\` and a pass-through route_layer: $beyond instructions per request"
    echo "  (the user's lookup and the two extension inserts, the body wrapper, the layer's own steps)"
fi
if [[ -n ${per_request[/by_hand]:-} && -n ${per_request[/protected]:-} ]]; then
    echo "- LoginLayer beyond the same check written by hand (\`/by_hand\`: verify, look the user up, insert it):" \
        "$((per_request[/protected] - per_request[/by_hand])) instructions per request"
    if [[ -n ${layered:-} ]]; then
        echo "- \`/by_hand\` beyond \`/decode_token\` and a pass-through route_layer:" \
            "$((per_request[/by_hand] - per_request[/decode_token] - layered)) instructions per request"
    fi
fi
