#!/usr/bin/env bash
# Re-records tests/fixtures/ from the real kernel in the test VM (see docs/testing.md).
# Usage: tests/vm/record-fixtures.sh   (replaces the fixtures the recording scenarios produce)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$(cd "$here/.." && pwd)/fixtures
for s in "$here"/scenarios/record-*.sh; do
    out=$(mktemp -d)
    "$here/run.sh" "$s" "$out"
    for fx in "$out"/fixtures/*; do
        name=$(basename "$fx")
        rm -rf "${fixtures:?}/$name"
        mkdir -p "$fixtures"
        cp -a "$fx" "$fixtures/$name"
        echo "recorded tests/fixtures/$name ($(find "$fixtures/$name" | wc -l) entries)"
    done
    rm -rf "$out"
done
