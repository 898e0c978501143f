#!/bin/sh
# Installs the Debian packages a purpose needs: "build" (compile and run the
# proxy), "test" (everything `make test` uses) or "bench" (the origin, peers
# and load tools `make bench` uses). As root, missing packages are installed
# with apt-get; otherwise the exact command is printed and the script fails,
# so nothing half-works.
set -eu

build_pkgs="gcc make pkg-config libc6-dev libssl-dev libc-ares-dev libcrypt-dev libjansson-dev"
# python3-pytest-xdist: the integration suite runs on both cores (PYTEST_JOBS)
# chromium, nodejs: the browser tests (tests/integration/browser/setup.sh adds npm, playwright-core)
test_pkgs="$build_pkgs clang libclang-rt-14-dev llvm libcmocka-dev curl wget apache2-utils python3 python3-pytest python3-pytest-xdist whois openssl procps chromium nodejs"
bench_pkgs="$build_pkgs nginx libnginx-mod-stream wrk squid apache2-utils tinyproxy haproxy valgrind util-linux procps curl python3"

case "${1:-build}" in
build) want="$build_pkgs" ;;
test) want="$test_pkgs" ;;
bench) want="$bench_pkgs" ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "tollgate: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if [ "${1:-build}" = bench ]; then
        # One peer that cannot be installed must not cost the others: the
        # benchmark reports it missing.
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
            for p in $missing; do
                apt-get install -y -qq --no-install-recommends "$p" >/dev/null ||
                    echo "tollgate: could not install $p" >&2
            done
            exit 1
        }
    else
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
else
    echo "tollgate: missing Debian packages. Run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
