#!/bin/sh
# `make run`: first start creates var/users.htpasswd with a random demo
# password (printed once), then the proxy runs in the foreground.
set -eu
cd "$(dirname "$0")/.."
users=var/users.htpasswd
if [ ! -f "$users" ]; then
    build/tollgate demo-user "$users"
    echo
fi
# shellcheck disable=SC2086
exec build/tollgate --htpasswd "$users" ${ARGS:-}
