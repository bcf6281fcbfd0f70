#!/usr/bin/env bash
# Installs what the interop tests (tests/interop.rs) need besides Rust: PyJWT 2.x in the
# machine's python3. Idempotent: does nothing if a PyJWT 2.x is already importable.
# Called by .ci/run; safe to run by hand.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install-test-deps: $PYTHON not found; install Python 3 first" >&2
    exit 1
fi

if "$PYTHON" -c 'import sys, jwt; sys.exit(0 if jwt.__version__.startswith("2.") else 1)' \
    >/dev/null 2>&1; then
    echo "install-test-deps: PyJWT $("$PYTHON" -c 'import jwt; print(jwt.__version__)') already installed"
    exit 0
fi

PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check 'PyJWT==2.*'
echo "install-test-deps: installed PyJWT $("$PYTHON" -c 'import jwt; print(jwt.__version__)')"
