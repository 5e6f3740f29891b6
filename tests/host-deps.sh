#!/usr/bin/env bash
# Installs what building and testing lunguard needs on a Debian 12 host (as root), and nothing
# when it is all there already. Idempotent; safe to run before every build.
#   qemu-system-x86, cpio, kmod, bc   the real-kernel test VM (tests/vm)
#   systemd                           systemd-analyze: the unit's verify and security checks
#                                     (tests/alert_units.rs)
#   lsscsi                            the reference the benchmark trees are checked and timed
#                                     against (tests/bench_fidelity.rs, benches/run.sh)
set -euo pipefail
need=(qemu-system-x86 cpio kmod bc ca-certificates lsscsi systemd)
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
