#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them all
# (unit, integration, examples' tests and doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh     # PyJWT, for the interop tests
bash scripts/services.sh install      # PostgreSQL and Redis, for the scale-out test
cargo test --all-features "$@"
