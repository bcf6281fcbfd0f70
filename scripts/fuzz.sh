#!/usr/bin/env bash
# Fuzzes the layer (fuzz/fuzz_targets/layer.rs) for a bounded time on the stable toolchain and
# prints the number of executions (libFuzzer's final stats).
#
#   FUZZ_SECONDS=120 bash scripts/fuzz.sh
#
# FUZZ_SECONDS  run time in seconds (default 60)
# FUZZ_TARGET   the fuzz target (default layer)
# FUZZ_ARGS     extra libFuzzer arguments, e.g. "-jobs=2"
#
# New inputs go to fuzz/target/corpus-<target>; the seeds in fuzz/corpus/<target> are only read.
# A crash leaves its input in fuzz/artifacts/<target>/ and makes this script exit nonzero.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_TARGET="${FUZZ_TARGET:-layer}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, ...): RUSTC_BOOTSTRAP lets the stable
# compiler accept them, so no nightly toolchain is needed.
export RUSTC_BOOTSTRAP=1

work="fuzz/target/corpus-$FUZZ_TARGET"
log="fuzz/target/fuzz-$FUZZ_TARGET.log"
mkdir -p "$work"

echo "==> building and fuzzing '$FUZZ_TARGET' for ${FUZZ_SECONDS}s (log: $log)"
status=0
# --debug-assertions: overflow checks and debug_assert! are findings too.
# -max_len above the 8 KiB token cap, so that the size check is exercised.
# shellcheck disable=SC2086
cargo +stable fuzz run --debug-assertions "$FUZZ_TARGET" "$work" "fuzz/corpus/$FUZZ_TARGET" -- \
    -max_total_time="$FUZZ_SECONDS" -max_len=9000 -print_final_stats=1 ${FUZZ_ARGS:-} \
    >"$log" 2>&1 || status=$?

execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')"
secs="$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}' | tail -1)"
corpus="$(find "$work" -type f | wc -l)"
if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    echo "FAIL: the fuzzer stopped with status $status after $execs executions; see $log and fuzz/artifacts/$FUZZ_TARGET/" >&2
    exit "$status"
fi
secs="${secs:-$FUZZ_SECONDS}"
echo "executions: $execs in $secs s ($(( execs / (secs > 0 ? secs : 1) )) per second); corpus: $corpus inputs; no crash"
