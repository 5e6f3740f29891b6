#!/usr/bin/env bash
# The whole test suite: unit and integration tests (fake sysfs trees, recorded fixtures), the
# planner's properties at scale, bounded fuzzing, the Debian
# package (built with README's command, then its contents checked), then the real-kernel scenarios
# in the QEMU guests (tests/vm: the busybox flavour, and the systemd flavour that installs that
# package). Installs its host packages first.
# Usage: tests/run-all.sh        (as root on Debian 12; see README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/host-deps.sh
cargo test --locked --all-targets
# The Kubernetes manifest against the API's schemas, and its config and state through `check`.
bash tests/k8s-manifest.sh
# The planner's safety properties over 100,000 random topologies each (the default run: 300).
PROPTEST_CASES=100000 cargo test --locked --test planner_props
# Every fuzz target, 20 s each from seeds made of the fixtures; 0 crashes, 0 hangs (before a
# release: `bash tests/fuzz.sh 600`, docs/testing.md).
bash tests/fuzz.sh 20
# The package README.md documents; the systemd VM scenario installs this very file.
cargo deb --locked
bash tests/package-contents.sh
# --nocapture: the scenarios print what they measured (latencies, overflow counts).
cargo test --locked --features vm --test vm -- --nocapture
