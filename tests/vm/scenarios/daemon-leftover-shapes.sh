# Issue 7, item 4 — leftover shapes from the seeds, with the daemon running (enforce, grace 0):
#   (a) an unwanted map carrying a kpartx partition map nobody uses: both go (the partition map is
#       not a use); (b) an unwanted map whose partition map is mounted: kept with an alert, removed
#       once unmounted; (c) a portal dropped from a still-declared multipath attachment whose map is
#       mounted with data on it: the path is taken out of the live map (multipathd del path), then
#       deleted; the map stays mounted on the other path and the data reads back intact; the
#       dropped portal's session is logged out once no LUN is left on it; (d) a remap behind a
#       declared address (another LUN at the same number): the unit attention makes the daemon
#       rescan the device, and the fresh WWID is reported as not the declared one.
. /share/lib.sh
iscsi_mpath_up
m0=$(map_of "$h1:0:0:0") m1=$(map_of "$h1:0:0:1") m2=$(map_of "$h1:0:0:2")
[ -n "$m0" ] && [ -n "$m1" ] && [ -n "$m2" ] || fail "maps missing: $(multipath -ll)"

# mbr_one_partition DEV: an MBR with one Linux partition, sectors 2048..10239.
mbr_one_partition() {
    dd if=/dev/zero of="$1" bs=512 count=1 conv=notrunc 2>/dev/null
    printf '\000\000\000\000\203\000\000\000\000\010\000\000\000\040\000\000' |
        dd of="$1" bs=1 seek=446 conv=notrunc 2>/dev/null
    printf '\125\252' | dd of="$1" bs=1 seek=510 conv=notrunc 2>/dev/null
}
# partmap_of MAP: the dm name of MAP's first kpartx partition map (uuid part1-<map's uuid>).
partmap_of() {
    kn=$(basename "$(readlink -f "/dev/mapper/$1")")
    u=$(cat "/sys/block/$kn/dm/uuid")
    for d in /sys/block/dm-*; do
        [ "$(cat "$d/dm/uuid" 2>/dev/null)" = "part1-$u" ] && cat "$d/dm/name"
    done
    return 0
}
dm_exists() { for d in /sys/block/dm-*; do [ "$(cat "$d/dm/name" 2>/dev/null)" = "$1" ] && return 0; done; return 1; }

# (c) LUN 0: ext4 on the map, mounted, data on it.
modprobe ext4
run mkfs.ext4 -q "/dev/mapper/$m0"
mkdir -p /mnt/keep /mnt/part
run mount "/dev/mapper/$m0" /mnt/keep
dd if=/dev/urandom of=/mnt/keep/data bs=64k count=16 2>/dev/null
sync
md5sum /mnt/keep/data | cut -d' ' -f1 >/tmp/sum-before
# (a) and (b): partition tables and kpartx maps on LUNs 1 and 2; LUN 2's partition mounted.
for m in "$m1" "$m2"; do
    mbr_one_partition "/dev/mapper/$m"
    run kpartx -a "/dev/mapper/$m"
done
settle
p1=$(partmap_of "$m1") p2=$(partmap_of "$m2")
[ -n "$p1" ] && [ -n "$p2" ] || fail "kpartx made no partition maps: $(dmsetup ls)"
run mkfs.ext4 -q "/dev/mapper/$p2"
run mount "/dev/mapper/$p2" /mnt/part
echo "$m0 $m1 $m2 $p1 $p2" >"$OUT/maps.txt"

lg_config 0s
lg_config_add "[daemon]" 'resync_interval = "3s"'
for l in 0 1 2 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
lg_daemon_up -v
# Now: LUNs 1 and 2 undeclared; LUNs 0 and 3 declared on the first portal only.
for l in 0 3; do lg_draft vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1"; done
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"

# (a) the unused partition map goes with its map and paths.
wait_for 90 sh -c "! ls /sys/class/scsi_device | grep -q ':0:0:1\$'" \
    || fail "(a) LUN 1 not removed: $(tail -n 40 "$OUT/daemon.log")"
dm_exists "$m1" && fail "(a) map $m1 left behind"
dm_exists "$p1" && fail "(a) partition map $p1 left behind"
# (c) the dropped portal's paths of the declared LUNs leave their maps and go.
wait_for 90 sh -c "[ ! -e /sys/class/scsi_device/$h2:0:0:0 ] && [ ! -e /sys/class/scsi_device/$h2:0:0:3 ]" \
    || fail "(c) dropped portal's paths not removed: $(ls /sys/class/scsi_device) $(tail -n 40 "$OUT/daemon.log")"
dm_exists "$m0" || fail "(c) the declared map $m0 was removed"
kn0=$(basename "$(readlink -f "/dev/mapper/$m0")")
[ "$(ls "/sys/block/$kn0/slaves" | wc -l)" = 1 ] || fail "(c) $m0 slaves: $(ls "/sys/block/$kn0/slaves")"
grep -q " /mnt/keep " /proc/self/mountinfo || fail "(c) /mnt/keep no longer mounted"
echo 3 >/proc/sys/vm/drop_caches
md5sum /mnt/keep/data | cut -d' ' -f1 >/tmp/sum-after
cmp -s /tmp/sum-before /tmp/sum-after || fail "(c) data changed: $(cat /tmp/sum-before) -> $(cat /tmp/sum-after)"
echo ok >"$OUT/data-intact.txt"
# (b) the mounted partition map keeps its map; the dropped portal's session stays under it.
sleep 6
dm_exists "$m2" && dm_exists "$p2" || fail "(b) map $m2 or its mounted partition map was removed"
[ -e "/sys/class/scsi_device/$h2:0:0:2" ] || fail "(b) a path of the in-use LUN 2 was removed"
session_host "$P2" >/dev/null || fail "(b) the session under an in-use LUN was logged out"
cp "$OUT/daemon.log" "$OUT/daemon-before-release.log"
# Released: the map, its partition map, its paths and the dropped portal's session go.
run umount /mnt/part
wait_for 90 sh -c "! iscsiadm -m session 2>/dev/null | grep -q ' $P2,'" \
    || fail "(b) not removed and logged out after the unmount: $(ls /sys/class/scsi_device) $(tail -n 40 "$OUT/daemon.log")"
dm_exists "$m2" && fail "(b) map $m2 left behind after the unmount"
# (d) a remap behind a declared address: LUN 3 (declared on the first portal) is pointed at another
# backstore at the same LUN number. The kernel keeps the old cached WWID and multipathd the path;
# the unit attention makes the daemon rescan the device, and the fresh WWID is not the declared one.
lio_lun "$T" 5 && lio_unmap "$T" 5
w3=$(wwid_of "$h1:0:0:3")
acl=$CFG/iscsi/$T/tpgt_1/acls/$INITIATOR tpg=$CFG/iscsi/$T/tpgt_1
rm -f "$acl/lun_3/map_3" && rmdir "$acl/lun_3"
rm -f "$tpg/lun/lun_3/lio_3"
ln -s "$CFG/core/rd_mcp_$(lio_tid "$T")/lun5" "$tpg/lun/lun_3/lio_5" || fail "(d) relink"
mkdir -p "$acl/lun_3" && ln -s "$tpg/lun/lun_3" "$acl/lun_3/map_3"
d3=$(ls "/sys/class/scsi_device/$h1:0:0:3/device/block")
# Any I/O collects the unit attention.
dd if="/dev/$d3" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null
wait_for 60 sh -c "grep -q 'rescan $h1:0:0:3 ' '$OUT/daemon.log'" \
    || fail "(d) the daemon did not rescan the remapped device: $(tail -n 40 "$OUT/daemon.log")"
wait_for 60 sh -c "[ ! -e /sys/class/scsi_device/$h1:0:0:3 ] || [ \"\$(cat /sys/class/scsi_device/$h1:0:0:3/device/wwid)\" != '$w3' ]" \
    || fail "(d) the cached WWID was never re-read"
wait_for 60 sh -c "grep -q 'LUNGUARD_KIND=wwid_mismatch' '$OUT/daemon.log'" \
    || fail "(d) no wwid_mismatch alert: $(tail -n 40 "$OUT/daemon.log")"
echo "$h1:0:0:3 $w3" >"$OUT/remap.txt"
ls /sys/class/scsi_device >"$OUT/devices-after.txt"
umount /mnt/keep
lg_daemon_stop
say "leftover shapes handled: partition maps, dropped portal"
