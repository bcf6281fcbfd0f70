#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the verifier, the token locations, the manager and the
# revocation stores, each file against the test binaries that cover it, so that a run finishes on a
# 2-core machine (about an hour and a quarter). Every mutant that survives needs a test that kills
# it, or a line in README.md ("Hardening") saying why it is equivalent.
#
#   bash scripts/mutants.sh            # all runs; results under target/mutants/<run>/mutants.out
#   bash scripts/mutants.sh token      # one run: revocation | token | flat | locations | redis
#
# The redis run needs redis-server (bash scripts/services.sh install), as tests/redis.rs does.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
# Each mutant rebuilds the crate and its tests: no debug info and the mold linker, where it is
# installed, make that several times quicker. Neither changes what is tested.
export CARGO_PROFILE_DEV_DEBUG=0
if command -v mold >/dev/null; then
    export RUSTFLAGS="-C link-arg=-fuse-ld=mold"
fi

run() {
    local name=$1
    shift
    local args=()
    while (($#)) && [[ $1 != -- ]]; do args+=(--file "$1"); shift; done
    shift
    # The test binaries go to every cargo call (`-C`), so that each mutant builds only those;
    # what follows a second `--` filters the tests inside them.
    while (($#)) && [[ $1 != -- ]]; do args+=(-C "$1"); shift; done
    if (($#)); then
        shift
        args+=(--cargo-test-arg=--)
        while (($#)); do args+=("--cargo-test-arg=$1"); shift; done
    fi
    echo "==> mutants: $name"
    mkdir -p target/mutants
    # cargo-mutants exits 2 when mutants were missed, 3 on timeouts: report, do not stop.
    cargo mutants --jobs 2 --all-features --timeout 120 --output "target/mutants/$name" \
        "${args[@]}" || true
    local outcome
    for outcome in caught missed timeout unviable; do
        printf '%-8s %s\n' "$outcome" \
            "$(wc -l < "target/mutants/$name/mutants.out/$outcome.txt")"
    done
}

want=${1:-all}
[[ $want == all || $want == revocation ]] && run revocation \
    src/store/mod.rs src/store/memory.rs src/manager.rs -- --test=token --test=tokens_beyond
[[ $want == all || $want == token ]] && run token \
    src/token/mod.rs src/token/keys.rs src/token/parse.rs src/token/validate.rs \
    src/token/claims.rs -- --test=hostile --test=token --test=tokens_beyond
[[ $want == all || $want == flat ]] && run flat \
    src/token/flat.rs -- --lib --test=hostile
[[ $want == all || $want == locations ]] && run locations \
    src/source/mod.rs -- --test=features --test=layer
[[ $want == all || $want == redis ]] && run redis \
    src/store/redis.rs -- --lib --test=redis -- redis:: redis_
true
