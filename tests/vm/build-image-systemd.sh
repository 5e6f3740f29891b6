#!/usr/bin/env bash
# Builds the systemd flavour of lunguard's test VM: a Debian 12 root (debootstrap, minbase, plus
# systemd as PID 1, udev, open-iscsi, multipath-tools and the tools the scenarios call) packed as
# an ext4 disk image without mounting anything (mkfs.ext4 -d), Debian's kernel (the same package
# the busybox flavour boots, tests/vm/build-image.sh) and a tiny busybox initrd that only loads
# virtio/ext4, mounts the disk and switch_roots to /lib/systemd/systemd.
#
# Output (git-ignored): tests/vm/cache/image-systemd/{vmlinuz,initrd.gz,root.img,KEY}. Rebuilt only
# when an input changes: this script, tests/vm/guest-systemd/*, the guest's multipath.conf, and the
# versions the host's apt lists name for the kernel and the packages below (the root itself comes
# from the mirror's bookworm suite). qemu opens root.img with snapshot=on: a boot never modifies it.
# lunguard's package and the scenario reach the guest over 9p (tests/vm/run.sh).
#
# Needs root (debootstrap chroots) and debootstrap (tests/host-deps.sh installs it).
# Env: LUNGUARD_DEBIAN_MIRROR (default http://deb.debian.org/debian)
# Usage: tests/vm/build-image-systemd.sh    (prints the image directory on stdout's last line)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LUNGUARD_VM_CACHE:-$here/cache}
debs=$cache/debs
img=$cache/image-systemd
mirror=${LUNGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$debs" "$img" "$cache/debootstrap"

log() { printf 'build-image-systemd: %s\n' "$*" >&2; }

if ! kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}') || [ -z "$kpkg" ]; then
    log "cannot resolve linux-image-amd64: run 'apt-get update' first"
    exit 1
fi
kver=${kpkg#linux-image-}
command -v debootstrap >/dev/null || { log "debootstrap missing: run tests/host-deps.sh"; exit 1; }

# What the scenarios use besides minbase (dpkg, bash, coreutils, ...). systemd-sysv makes systemd
# /sbin/init; udev is systemd's udevd; procps for pgrep/ps; inotify-tools for the removing-marker
# watch; iproute2 for the loopback addresses of the second portal.
include=(systemd systemd-sysv udev dbus kmod open-iscsi multipath-tools lsscsi sg3-utils e2fsprogs
         procps inotify-tools iproute2)
initrd_pkgs=("$kpkg" busybox-static)

versions=$(apt-cache policy "${initrd_pkgs[@]}" "${include[@]}" 2>/dev/null |
    awk '/^[^ ]/ {p=$1; sub(/:$/, "", p)} /Candidate:/ {print p "=" $2}')
key=$( { printf '%s\n' "$versions" "$mirror"; cat "$0" "$here"/guest-systemd/* "$here/guest/multipath.conf"; } |
    sha256sum | cut -c1-16)
if [ -f "$img/KEY" ] && [ "$(cat "$img/KEY")" = "$key" ] && [ -f "$img/root.img" ]; then
    log "image up to date ($key, kernel $kver)"
    echo "$img"
    exit 0
fi
t0=$(date +%s)

# --- kernel and initrd (packages shared with the busybox flavour's cache) --------------------------
(
    cd "$debs"
    missing=()
    while IFS= read -r pv; do
        p=${pv%%=*} v=${pv#*=}
        case " ${initrd_pkgs[*]} " in *" $p "*) ;; *) continue ;; esac
        ls "${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1 || missing+=("$pv")
    done <<<"$versions"
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get download "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
    fi
)
work=$(mktemp -d /tmp/lunguard-sdimg.XXXXXX)
trap 'rm -rf "$work"' EXIT
x=$work/x initrd=$work/initrd root=$work/root
mkdir -p "$x" "$initrd"
deb_of() { local v; v=$(printf '%s\n' "$versions" | sed -n "s/^$1=//p"); ls "$debs/${1}_${v//:/%3a}_"*.deb; }
dpkg -x "$(deb_of "$kpkg")" "$x"
dpkg -x "$(deb_of busybox-static)" "$x"
/sbin/depmod -b "$x" "$kver"

# closure MODULE...: the .ko files (absolute, under $x) modprobe would insert, in insertion order.
closure() {
    for m in "$@"; do
        /sbin/modprobe -d "$x" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | awk '!seen[$0]++'
}
mkdir -p "$initrd"/{bin,sbin,proc,sys,dev,newroot,lib/modules}
cp "$x/bin/busybox" "$initrd/bin/busybox"
for a in sh mount umount insmod sleep sed cat mkdir switch_root poweroff echo; do ln -s busybox "$initrd/bin/$a"; done
: >"$initrd/modules.order"
closure virtio_pci virtio_blk ext4 crc32c_generic | while IFS= read -r ko; do
    cp "$ko" "$initrd/lib/modules/"
    basename "$ko" >>"$initrd/modules.order"
done
cp "$here/guest-systemd/initrd-init" "$initrd/init"
chmod 755 "$initrd/init"
(cd "$initrd" && find . | cpio -o -H newc --quiet) | gzip -1 >"$work/initrd.gz"
cp "$x/boot/vmlinuz-$kver" "$work/vmlinuz"

# --- the Debian root --------------------------------------------------------------------------------
log "debootstrap bookworm from $mirror (kernel $kver)"
inc=$(IFS=,; echo "${include[*]}")
debootstrap --variant=minbase --include="$inc" --cache-dir="$cache/debootstrap" \
    bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 40 "$work/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
}

# Kernel modules: the closure of what the scenarios and the system's own units load (not the whole
# 400 MB tree), at the running kernel's path.
mods=(scsi_debug sd_mod sg dm_mod dm_multipath dm_round_robin dm_service_time dm_queue_length
      scsi_dh_alua scsi_dh_emc scsi_dh_rdac iscsi_tcp target_core_mod target_core_iblock
      target_core_file target_core_pscsi iscsi_target_mod configfs virtio_pci virtio_blk 9p
      9pnet_virtio ext4 crc32c_generic loop autofs4 efivarfs)
mkdir -p "$root/lib/modules/$kver"
closure "${mods[@]}" 2>/dev/null | while IFS= read -r ko; do
    rel=${ko#"$x"}
    mkdir -p "$root$(dirname "$rel")"
    cp "$ko" "$root$rel"
done
cp "$x/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$kver/"
/sbin/depmod -b "$root" "$kver"

# Trimmed: documentation, man pages, locales, apt's lists and package cache.
rm -rf "$root"/usr/share/{doc,man,info,locale}/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log

# Configuration: a fixed machine id (no first-boot logic), no gettys or timers competing for the
# console and the single CPU, the test driver enabled.
printf 'lunguard-vm\n' >"$root/etc/hostname"
printf '%s\n' "$(printf '%s' "$key" | sha256sum | cut -c1-32)" >"$root/etc/machine-id"
printf '# root is mounted by the initrd; nothing else\n' >"$root/etc/fstab"
for u in getty.target serial-getty@ttyS0.service getty@tty1.service apt-daily.timer \
         apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
         dpkg-db-backup.timer systemd-tmpfiles-clean.timer man-db.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
done
install -m 755 "$here/guest-systemd/lunguard-vm-run" "$root/usr/local/sbin/lunguard-vm-run"
install -m 644 "$here/guest-systemd/lunguard-vm-scenario.service" "$root/etc/systemd/system/"
ln -sf ../lunguard-vm-scenario.service "$root/etc/systemd/system/multi-user.target.wants/"
cp "$here/guest/multipath.conf" "$root/etc/multipath.conf"
printf 'InitiatorName=iqn.2026-11.test.lunguard:initiator\n' >"$root/etc/iscsi/initiatorname.iscsi"
printf '%s\n' "$kver" >"$root/etc/kernel-version"

# ext4 from the directory, no mount, no loop device. 2 GiB sparse: room for the journal and the
# package's installs; the file holds only what is written.
rm -f "$work/root.img"
mkfs.ext4 -q -F -L lunguard-root -d "$root" "$work/root.img" 2G
mv "$work/vmlinuz" "$img/vmlinuz"
mv "$work/initrd.gz" "$img/initrd.gz"
mv "$work/root.img" "$img/root.img"
printf '%s\n' "$key" >"$img/KEY"
log "built image $key in $(( $(date +%s) - t0 ))s: kernel $kver, root $(du -h "$img/root.img" | cut -f1) used of 2G"
echo "$img"
