#!/usr/bin/env bash
# The whole test suite: unit and integration tests (fake sysfs trees, recorded fixtures), then the
# real-kernel scenarios in the QEMU guest (tests/vm). Installs its host packages first.
# Usage: tests/run-all.sh        (as root on Debian 12; see README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/host-deps.sh
cargo test --locked --all-targets
# --nocapture: the scenarios print what they measured (latencies, overflow counts).
cargo test --locked --features vm --test vm -- --nocapture
