#!/bin/sh
# Sets up the browser tests (tests/integration/test_browser.py) after
# scripts/deps.sh test has installed Chromium and node: npm if node came
# without it, then playwright-core into node_modules/ here with `npm ci`
# against the committed lock file. Idempotent (nothing to do when node_modules
# matches the lock file) and never fatal: without network or root the browser
# tests skip and say why.
set -u
dir=$(cd "$(dirname "$0")" && pwd)

# NodeSource's nodejs bundles npm and conflicts with Debian's npm package: ask
# for Debian's only when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "tollgate: installing: npm" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null ||
            echo "tollgate: could not install npm; the browser tests will be skipped" >&2
    else
        echo "tollgate: the browser tests need npm: sudo apt-get install -y npm" >&2
    fi
fi

# A copy of the lock file the last successful npm ci installed.
stamp="$dir/node_modules/.tollgate-installed-lock.json"
if [ -f "$dir/node_modules/playwright-core/package.json" ] &&
    cmp -s "$dir/package-lock.json" "$stamp"; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "tollgate: no npm; the browser tests will be skipped" >&2
    exit 0
fi
echo "tollgate: npm ci in $dir" >&2
if (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error \
    --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 --fetch-timeout=60000 >/dev/null); then
    cp "$dir/package-lock.json" "$stamp"
else
    echo "tollgate: npm ci failed in $dir; the browser tests will be skipped" >&2
fi
exit 0
