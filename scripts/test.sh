#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them all
# (the library's unit, integration and doc tests, and the example server's end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh     # PyJWT (interop tests), Chromium (the browser test), nginx (the proxy test)
bash scripts/services.sh install      # PostgreSQL and Redis: the Redis store and scale-out tests
cargo test --workspace --all-features "$@"
