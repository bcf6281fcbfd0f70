#!/usr/bin/env bash
# Installs what the tests need besides Rust, PostgreSQL and Redis (scripts/services.sh):
# - PyJWT 2.x and cryptography in the machine's python3, for the interop tests (tests/interop.rs);
# - Chromium and chromedriver (Debian's `chromium` and `chromium-driver`), for the browser test
#   of the example server (examples/server/tests/chromium.rs);
# - nginx (Debian's `nginx`), the reverse proxy of examples/server/tests/proxy.rs, which starts
#   its own on a loopback port (the package's system service is not started).
# Idempotent: installs only what is missing. Called by scripts/test.sh; safe to run by hand.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install-test-deps: $PYTHON not found; install Python 3 first" >&2
    exit 1
fi

if "$PYTHON" -c 'import sys, jwt; sys.exit(0 if jwt.__version__.startswith("2.") else 1)' \
    >/dev/null 2>&1; then
    echo "install-test-deps: PyJWT $("$PYTHON" -c 'import jwt; print(jwt.__version__)') already installed"
else
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check 'PyJWT==2.*'
    echo "install-test-deps: installed PyJWT $("$PYTHON" -c 'import jwt; print(jwt.__version__)')"
fi

# `cryptography`: PyJWT's ES256, EdDSA and RS256 (the asymmetric interop tests, `live_key_*`).
if "$PYTHON" -c 'import cryptography' >/dev/null 2>&1; then
    echo "install-test-deps: cryptography $("$PYTHON" -c 'import cryptography; print(cryptography.__version__)') already installed"
else
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check cryptography
    echo "install-test-deps: installed cryptography $("$PYTHON" -c 'import cryptography; print(cryptography.__version__)')"
fi

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "install-test-deps: $(chromium --version 2>/dev/null | head -n1) already installed"
elif command -v apt-get >/dev/null 2>&1; then
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    echo "install-test-deps: installing chromium and chromium-driver (apt-get)"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
    echo "install-test-deps: installed $(chromium --version 2>/dev/null | head -n1)"
else
    echo "install-test-deps: no apt-get: install Chromium and chromedriver by hand for the browser test" >&2
fi

if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then
    echo "install-test-deps: nginx already installed"
elif command -v apt-get >/dev/null 2>&1; then
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    echo "install-test-deps: installing nginx (apt-get)"
    # The package's own service is not started (policy-rc.d answers 101, "not allowed", for the
    # duration of the install): the test starts its own nginx.
    policy=/usr/sbin/policy-rc.d added_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod +x "$policy"
        added_policy=1
    fi
    status=0
    "${sudo[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            nginx >/dev/null || status=$?
    [[ -z $added_policy ]] || "${sudo[@]}" rm -f "$policy"
    ((status == 0)) || { echo "install-test-deps: apt-get install nginx failed ($status)" >&2; exit 1; }
    echo "install-test-deps: installed $(/usr/sbin/nginx -v 2>&1)"
else
    echo "install-test-deps: no apt-get: install nginx by hand for the proxy test" >&2
fi
