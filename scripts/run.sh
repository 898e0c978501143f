#!/bin/sh
# `make run`: first start creates var/users (a Tollgate users file: bcrypt for
# Basic, H(A1) for Digest) with a random demo password printed once, then the
# proxy runs in the foreground offering Digest and Basic.
set -eu
cd "$(dirname "$0")/.."
users=var/users
if [ ! -f "$users" ]; then
    mkdir -p var
    build/tollgate demo-user "$users"
    echo
fi
# shellcheck disable=SC2086
exec build/tollgate --users "$users" ${ARGS:-}
