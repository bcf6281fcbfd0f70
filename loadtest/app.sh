# Sourced by layer.sh and instructions.sh: builds loadtest_app, starts it with its token in a
# temporary directory, and on exit stops it and removes the directory.
#
#   build_app                  # sets exe
#   start_app MAX_SECS [WRAPPER..]   # e.g. taskset -c 0, or valgrind --tool=callgrind ..;
#                              # sets server_pid, url (loopback only) and token

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

build_app() {
    log "building loadtest_app (release)"
    exe=$(cargo build --release -p loadtest --bin loadtest_app --message-format=json-render-diagnostics |
        grep -o '"executable":"[^"]*loadtest_app"' | tail -n1 | cut -d'"' -f4)
    [[ -x $exe ]] || die "could not find the loadtest_app executable"
}

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server stops by itself after MAX_SECS even if the calling script dies.
start_app() {
    local max_secs=$1
    shift
    TOKEN_FILE="$tmp/token" MAX_SECS=$max_secs PORT=0 "$@" "$exe" >"$tmp/server.out" 2>"$tmp/server.err" &
    server_pid=$!
    # Up to a minute: under valgrind the start is slow.
    for _ in $(seq 1 600); do
        grep -q '^ready' "$tmp/server.out" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || die "the server exited: $(tail -n 5 "$tmp/server.err")"
        sleep 0.1
    done
    url=$(sed -n 's/^listening on //p' "$tmp/server.out")
    token=$(cat "$tmp/token" 2>/dev/null || true)
    [[ -n $url && -n $token ]] || die "the server did not start: $(tail -n 5 "$tmp/server.err")"
    [[ $url == http://127.0.0.1:* ]] || die "the server is not on loopback: $url"
}
