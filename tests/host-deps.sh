#!/usr/bin/env bash
# Installs what building and testing lunguard needs on a Debian 12 host (as root), and nothing
# when it is all there already. Idempotent; safe to run before every build.
#   qemu-system-x86, cpio, kmod, bc   the real-kernel test VM (tests/vm)
#   debootstrap                       the systemd flavour of the VM (tests/vm/build-image-systemd.sh)
#   systemd                           systemd-analyze: the unit's verify and security checks
#                                     (tests/alert_units.rs)
#   lsscsi                            the reference the benchmark trees are checked and timed
#                                     against (tests/bench_fidelity.rs, benches/run.sh)
#   lintian, man-db, binutils         the package check (tests/package-contents.sh: lintian, man -l,
#                                     readelf); cargo-deb, pinned, builds the package (cargo deb)
#   g++                               libfuzzer-sys compiles libFuzzer's C++ (tests/fuzz.sh)
#   python3-prometheus-client         the Prometheus text-format parser the metrics file is read
#                                     back with (tests/metrics_textfile.rs, /usr/bin/python3)
#   python3-venv                      the virtualenv of the Kubernetes schema check
#                                     (tests/k8s-manifest.sh: kubernetes-validate from PyPI, pinned)
set -euo pipefail
need=(qemu-system-x86 cpio kmod bc ca-certificates lsscsi systemd lintian man-db binutils debootstrap g++
      python3-prometheus-client python3-venv)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# tests/vm/build-image.sh resolves Debian's current kernel with apt-cache: the lists must exist.
if [ "${#missing[@]}" -gt 0 ] || ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "host-deps: missing ${missing[*]:-apt lists}; run as root or install them" >&2
        exit 1
    fi
    echo "host-deps: installing ${missing[*]:-nothing (refreshing apt lists)}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    [ "${#missing[@]}" -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian package builder, pinned: `cargo deb --locked` (README.md, docs/decisions.md).
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    echo "host-deps: installing cargo-deb $CARGO_DEB_VERSION" >&2
    cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi
