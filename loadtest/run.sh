#!/usr/bin/env bash
# The load tests, one entry point: installs wrk or valgrind (Debian's packages) if missing, then
# runs one.
#
#   bash loadtest/run.sh layer [..]      # what LoginLayer costs a real server: layer.sh
#   bash loadtest/run.sh scale-out [..]  # two example servers on PostgreSQL and Redis: scaleout.sh
#   bash loadtest/run.sh soak [..]       # sustained load, errors and memory over time: soak.sh
#   bash loadtest/run.sh instructions    # the layer's cost counted in instructions: instructions.sh
#
# Each script's header lists its settings (environment variables). Everything runs on loopback and
# is bounded in time. BENCHMARKS.md has the figures and the command beside each table.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '2,10p' "$0" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
test=$1
shift
case $test in
layer) script=loadtest/layer.sh ;;
scale-out) script=loadtest/scaleout.sh ;;
soak) script=loadtest/soak.sh ;;
instructions) script=loadtest/instructions.sh ;;
*) usage ;;
esac

# Debian packages a test needs: installed once, if missing.
install() {
    command -v "$1" >/dev/null && return
    echo "==> installing $2" >&2
    command -v apt-get >/dev/null || { echo "$1 is missing and apt-get is not here: install $2" >&2; exit 1; }
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$2" >/dev/null
}

case $test in
instructions) install valgrind valgrind ;;
*) install wrk wrk ;;
esac
exec bash "$script" "$@"
