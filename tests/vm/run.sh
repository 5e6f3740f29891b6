#!/usr/bin/env bash
# Boots the test VM (QEMU, TCG: nested KVM hangs on our hosts) and runs one scenario in it.
#
# Usage: tests/vm/run.sh SCENARIO.sh [OUT_DIR]
#   SCENARIO.sh  a busybox-ash script run as root in the guest (see tests/vm/guest/lib.sh)
#   OUT_DIR      where the guest's /share/out ends up (default: a temp dir, removed on success)
# Env: LUNGUARD_BIN   lunguard binary to share with the guest (default target/release/lunguard)
#      LUNGUARD_VM_TIMEOUT  seconds before the VM is killed (default 300)
#      LUNGUARD_VM_ENV      shell assignments the scenario sees (lib.sh sources them), e.g.
#                           "LG_ROUNDS=5 LG_VERBOSE=-vv" for daemon-rescan.sh
#      LUNGUARD_VM_EXTRA    a directory shared with the guest as /share/extra (benchmarks)
#      LUNGUARD_VM_FLAVOUR  busybox (default: the initrd guest above) or systemd: Debian 12 booted
#                           with systemd as PID 1 (tests/vm/build-image-systemd.sh); the scenario
#                           runs with bash once multi-user.target is up, and gets lunguard's
#                           Debian package as /share/lunguard.deb instead of a bare binary
#      LUNGUARD_DEB         the package for the systemd flavour (default: the newest
#                           target/debian/lunguard_*_amd64.deb)
# Exit status: the scenario's. The serial console log is printed when it fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
scenario=${1:?usage: run.sh SCENARIO.sh [OUT_DIR]}
out=${2:-}
timeout_s=${LUNGUARD_VM_TIMEOUT:-300}
bin=${LUNGUARD_BIN:-$top/target/release/lunguard}

flavour=${LUNGUARD_VM_FLAVOUR:-busybox}
case $flavour in
    busybox) img=$("$here/build-image.sh" | tail -n 1) ;;
    systemd)
        deb=${LUNGUARD_DEB:-$(ls -t "$top"/target/debian/lunguard_*_amd64.deb 2>/dev/null | head -n 1)}
        if [ -z "$deb" ] || [ ! -f "$deb" ]; then
            echo "vm: no lunguard package${deb:+ at $deb}; build it with: cargo deb (see docs/testing.md)" >&2
            exit 2
        fi
        img=$("$here/build-image-systemd.sh" | tail -n 1)
        ;;
    *) echo "vm: unknown LUNGUARD_VM_FLAVOUR=$flavour (busybox or systemd)" >&2; exit 2 ;;
esac
share=$(mktemp -d /tmp/lunguard-vm.XXXXXX)
cleanup() { rm -rf "$share"; }
trap cleanup EXIT
mkdir -p "$share/bin" "$share/out"
cp "$scenario" "$share/scenario.sh"
# Scenarios may share steps: the whole directory is there as /share/scenarios.
cp -r "$here/scenarios" "$share/scenarios"
cp "$here/lib.sh" "$share/lib.sh"
printf '%s\n' "${LUNGUARD_VM_ENV:-}" >"$share/env"
# The shipped unit: scenarios run the daemon under its capability bounding set.
cp "$top/systemd/lunguard.service" "$share/lunguard.service"
# The udev rules, for scenarios that install them in the busybox guest.
cp -r "$top/rules" "$share/rules"
# The shipped configuration: scenarios that run the daemon "with its defaults" start from it.
cp "$top/debian/lunguard.toml" "$share/lunguard.toml"
if [ -x "$bin" ]; then cp "$bin" "$share/bin/lunguard"; fi
if [ -n "${LUNGUARD_VM_EXTRA:-}" ]; then cp -r "$LUNGUARD_VM_EXTRA" "$share/extra"; fi
if [ "$flavour" = systemd ]; then
    cp "$deb" "$share/lunguard.deb"
    cp "$top/systemd/lunguard.catalog" "$share/lunguard.catalog"
fi

name=$(basename "$scenario" .sh)
log=$share/console.log
start=$(date +%s.%N)
set +e
if [ "$flavour" = systemd ]; then
    # The root disk is opened as a snapshot: writes go to a temporary overlay, the cached image
    # never changes. 2 GiB: systemd, journald and dpkg on top of the storage lab.
    boot=(-m 2048 -kernel "$img/vmlinuz" -initrd "$img/initrd.gz"
        -drive "file=$img/root.img,format=raw,if=virtio,snapshot=on"
        -append "console=ttyS0 panic=-1 quiet loglevel=4 scsi_mod.scan=sync lunguard.root=/dev/vda systemd.show_status=false")
else
    boot=(-m 1024 -kernel "$img/vmlinuz" -initrd "$img/initrd.gz"
        -append "console=ttyS0 panic=-1 quiet loglevel=4 scsi_mod.scan=sync")
fi
timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 1 "${boot[@]}" \
    -virtfs "local,path=$share,mount_tag=share,security_model=none,id=share" \
    -nographic -no-reboot -nic none >"$log" 2>&1 </dev/null
qrc=$?
set -e
secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
rc=$(sed -n 's/.*LUNGUARD-VM-RESULT rc=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -n "$out" ]; then
    mkdir -p "$out"
    cp -a "$share/out/." "$out/"
    cp "$log" "$out/console.log"
    if [ -f "$share/timing" ]; then cp "$share/timing" "$out/timing"; fi
fi
if [ -z "$rc" ]; then
    echo "vm: scenario $name: no result line (qemu exit $qrc, timeout ${timeout_s}s); console:" >&2
    tail -n 200 "$log" >&2
    exit 98
fi
if [ "$rc" != 0 ]; then
    echo "vm: scenario $name FAILED (rc=$rc) in ${secs}s; console:" >&2
    tail -n 300 "$log" >&2
    exit "$rc"
fi
echo "vm: scenario $name passed in ${secs}s"
