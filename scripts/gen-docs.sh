#!/bin/sh
# Regenerates the directive tables in docs/directives.md and README.md from
# the directive table in src/conf/directive.c (via `tollgate directives`).
# Each file holds the table between "<!-- directives -->" marker lines.
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory -s all
table=$(mktemp)
trap 'rm -f "$table"' EXIT
build/tollgate directives >"$table"
for f in docs/directives.md README.md; do
    awk -v table="$table" '
        /^<!-- directives -->$/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
        /^<!-- \/directives -->$/ { skip = 0 }
        !skip { print }' "$f" >"$f.new"
    mv "$f.new" "$f"
done
