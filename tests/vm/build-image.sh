#!/usr/bin/env bash
# Builds the QEMU guest used by lunguard's real-kernel tests, from Debian 12 packages only:
# Debian's kernel, busybox-static, udev, multipath-tools, open-iscsi, dmsetup, util-linux's setpriv
# (busybox's cannot set the capability bounding set), iproute2's tc (netem packet loss per portal),
# lvm2 (a rogue LUN carrying an LVM PV must not be auto-activated (the quarantine scenario): lvm, its
# udev rules 56-lvm/69-lvm, which without systemd run `vgchange -aay --autoactivation event`
# directly, and tests/vm/guest/lvm.conf: no dmeventd monitoring, udev sync on), sg3-utils-udev's
# rules (staged, for the quarantine scenario) and their libraries.
#
# Output (git-ignored): tests/vm/cache/image/{vmlinuz,initrd.gz,KEY}. The image is rebuilt only when
# its inputs change: the resolved package versions, this script and tests/vm/guest/*.
# The lunguard binary and the scenario scripts are NOT in the image; they reach the guest over 9p
# (virtio, works under TCG), so a code change does not rebuild the image.
#
# Usage: tests/vm/build-image.sh            (prints the image directory on stdout's last line)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LUNGUARD_VM_CACHE:-$here/cache}
debs=$cache/debs
img=$cache/image
mkdir -p "$debs" "$img"

log() { printf 'build-image: %s\n' "$*" >&2; }

# The kernel follows Debian's metapackage so a fresh machine gets the current security release.
if ! kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}') || [ -z "$kpkg" ]; then
    log "cannot resolve linux-image-amd64: run 'apt-get update' first"
    exit 1
fi
kver=${kpkg#linux-image-}

# Userspace needed in the guest. Libraries are resolved with ldd below; the packages that hold them
# are listed here because they are not installed on the host.
pkgs=(
    "$kpkg" busybox-static udev kmod dmsetup multipath-tools kpartx open-iscsi lsscsi sg3-utils sg3-utils-udev
    e2fsprogs util-linux iproute2 lvm2
    libsgutils2-1.46-2 libaio1 libdevmapper1.02.1 libedit2 libjson-c5 liburcu8 libisns0
    libopeniscsiusr libkmod2 libudev1 libsystemd0 libssl3 libzstd1 liblzma5 libacl1 libblkid1
    libcap2 libselinux1 libmount1 libpcre2-8-0 libbsd0 libmd0 libtinfo6 liblz4-1 libgcrypt20
    libgpg-error0 libcap-ng0 libext2fs2 libcom-err2 libss2 libuuid1
    libbpf1 libelf1 libmnl0 libxtables12 zlib1g libdevmapper-event1.02.1
)

# Version-pinned names make the cache key exact and let a changed package trigger a rebuild.
versions=$(apt-cache policy "${pkgs[@]}" 2>/dev/null | awk '/^[^ ]/ {p=$1; sub(/:$/, "", p)} /Candidate:/ {print p "=" $2}')
key=$( { printf '%s\n' "$versions"; cat "$0" "$here"/guest/*; } | sha256sum | cut -c1-16)
if [ -f "$img/KEY" ] && [ "$(cat "$img/KEY")" = "$key" ] && [ -f "$img/initrd.gz" ]; then
    log "image up to date ($key, kernel $kver)"
    echo "$img"
    exit 0
fi

log "downloading ${#pkgs[@]} packages (kernel $kver)"
(
    cd "$debs"
    missing=()
    while IFS= read -r pv; do
        p=${pv%%=*} v=${pv#*=}
        # apt-get download names files name_version-with-colon-escaped_arch.deb
        ls "${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1 || missing+=("$pv")
    done <<<"$versions"
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get download "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
    fi
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
x=$work/x root=$work/root
mkdir -p "$x" "$root"
while IFS= read -r pv; do
    p=${pv%%=*} v=${pv#*=}
    deb=$(ls "$debs/${p}_${v//:/%3a}_"*.deb)
    dpkg -x "$deb" "$x"
done <<<"$versions"

# --- kernel modules: only the closure of what the scenarios load ------------------------------------
mods=(scsi_debug sd_mod sg dm_multipath dm_round_robin dm_service_time dm_queue_length scsi_dh_alua
      iscsi_tcp target_core_mod target_core_iblock target_core_file target_core_pscsi iscsi_target_mod
      virtio_pci 9p 9pnet_virtio ext4 crc32c_generic loop
      sch_prio sch_netem cls_u32)  # per-portal packet loss on lo (daemon-drop-matrix.sh)
/sbin/depmod -b "$x" "$kver"
mkdir -p "$root/lib/modules/$kver"
for m in "${mods[@]}"; do
    /sbin/modprobe -d "$x" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | sort -u | while IFS= read -r ko; do
    rel=${ko#"$x"}
    mkdir -p "$root$(dirname "$rel")"
    cp "$ko" "$root$rel"
done
cp "$x/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$kver/"
/sbin/depmod -b "$root" "$kver"
cp "$x/boot/vmlinuz-$kver" "$work/vmlinuz"

# --- userspace ------------------------------------------------------------------------------------
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib64,etc,proc,sys,dev,run,tmp,var/lib,share,mnt}
cp "$x/bin/busybox" "$root/bin/busybox"
for applet in $("$x/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

# Binaries taken from the packages, at their Debian paths.
bins=(bin/udevadm bin/kmod sbin/dmsetup sbin/multipath sbin/multipathd sbin/kpartx sbin/iscsiadm
      sbin/iscsid sbin/iscsi-iname usr/bin/lsscsi usr/bin/sg_inq usr/bin/sg_vpd usr/bin/sg_luns
      sbin/mke2fs lib/udev/scsi_id lib/udev/kpartx_id usr/bin/setpriv sbin/tc sbin/lvm)
for b in "${bins[@]}"; do
    mkdir -p "$root/$(dirname "$b")"
    rm -f "$root/$b"
    cp -a "$x/$b" "$root/$b"
done
# Busybox has applets of the same names (lsscsi, modprobe, ...) that ignore the real tools' options:
# the real tools win.
for b in "${bins[@]}" sbin/modprobe sbin/insmod sbin/rmmod sbin/lsmod sbin/depmod sbin/modinfo sbin/mkfs.ext4; do
    for d in bin sbin usr/bin usr/sbin; do
        [ "$(readlink "$root/$d/$(basename "$b")" 2>/dev/null)" = busybox ] && rm -f "$root/$d/$(basename "$b")"
    done
done
for t in modprobe insmod rmmod lsmod depmod modinfo; do ln -sf /bin/kmod "$root/sbin/$t"; done
ln -sf /bin/udevadm "$root/sbin/udevadm"
mkdir -p "$root/lib/systemd"
ln -sf /bin/udevadm "$root/lib/systemd/systemd-udevd"
ln -sf mke2fs "$root/sbin/mkfs.ext4"
# lvm2's commands are symlinks to lvm (pvcreate, vgchange, pvscan, lvs, ...): the package's own set.
for l in "$x"/sbin/*; do
    if [ "$(readlink "$l")" = lvm ]; then ln -sf lvm "$root/sbin/$(basename "$l")"; fi
done

# Plugins that are dlopen()ed, not NEEDED: multipath checkers/prioritizers, and libgcc_s (multipathd
# calls pthread_cancel, which dlopen()s libgcc_s.so.1; without it multipathd aborts).
cp -a "$x/lib/multipath" "$root/lib/multipath"

libpath=$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu:$x/lib:$x/usr/lib:$x/lib/multipath
copy_lib() { # copy a library to the same path in the guest (staged packages first, else the host's)
    local src=$1 dst
    case $src in
        "$x"/*) dst=${src#"$x"} ;;
        *) dst=$src ;;
    esac
    # Normalise /usr/lib/x86_64-linux-gnu and /lib/x86_64-linux-gnu onto /lib/x86_64-linux-gnu, since
    # Debian 12 is merged-/usr on the host but the image has no /usr symlink.
    dst=${dst#/usr}
    mkdir -p "$root$(dirname "$dst")"
    [ -e "$root$dst" ] || cp -L "$src" "$root$dst"
}
elfs=$(for b in "${bins[@]}"; do echo "$x/$b"; done; find "$x/lib/multipath" -name '*.so')
for f in $elfs /lib/x86_64-linux-gnu/libgcc_s.so.1 /lib/x86_64-linux-gnu/libudev.so.1; do
    [ -f "$f" ] || continue
    case $f in *.so*) copy_lib "$f" ;; esac
    LD_LIBRARY_PATH=$libpath ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}'  || true
done | sort -u | while IFS= read -r lib; do copy_lib "$lib"; done
copy_lib /lib/x86_64-linux-gnu/libgcc_s.so.1
mkdir -p "$root/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
# multipath-tools installs its own libraries under /lib; keep them where the binaries' RUNPATH expects.
for l in "$x"/lib/lib*.so.*; do cp -L "$l" "$root/lib/"; done
ln -s ../lib "$root/usr/lib"  # harmless: /usr/lib/x86_64-linux-gnu resolves too

# udev rules and hwdb (only the storage-relevant rules).
mkdir -p "$root/lib/udev/rules.d" "$root/etc/udev/rules.d"
for r in 50-udev-default 55-dm 56-dm-mpath 56-dm-parts 60-block 60-persistent-storage \
         60-persistent-storage-dm 60-multipath 60-kpartx 68-del-part-nodes 95-dm-notify 80-drivers \
         66-kpartx 11-dm-mpath 11-dm-parts 13-dm-disk 10-dm 56-lvm 69-lvm; do
    [ -f "$x/lib/udev/rules.d/$r.rules" ] && cp "$x/lib/udev/rules.d/$r.rules" "$root/lib/udev/rules.d/"
done
cp -a "$x/etc/iscsi" "$root/etc/iscsi"
# sg3-utils-udev's rules (Debian's multipath-tools depends on the package) are staged, not active:
# a scenario that wants the identity properties they set (SCSI_IDENT_*, ID_WWN, ID_SERIAL, as on a
# Debian host with multipath-tools) copies them into /etc/udev/rules.d.
mkdir -p "$root/usr/share/lunguard-test/sg3-rules"
cp "$x"/lib/udev/rules.d/5[58]-scsi-sg3_*.rules "$root/usr/share/lunguard-test/sg3-rules/"

# Guest init and helpers.
cp "$here/guest/init" "$root/init"
chmod 755 "$root/init"
cp "$here/guest/multipath.conf" "$root/etc/multipath.conf"
mkdir -p "$root/etc/lvm"
cp "$here/guest/lvm.conf" "$root/etc/lvm/lvm.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\n' >"$root/etc/group"
printf '%s\n' "$kver" >"$root/etc/kernel-version"

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$work/initrd.gz"
mv "$work/vmlinuz" "$img/vmlinuz"
mv "$work/initrd.gz" "$img/initrd.gz"
printf '%s\n' "$key" >"$img/KEY"
log "built image $key: kernel $kver, initrd $(du -h "$img/initrd.gz" | cut -f1)"
echo "$img"
