# Records fixtures: LIO iSCSI target over loopback (2 portals, 4 LUNs) with and without multipath,
# a leftover LUN re-added by a broad rescan after a clean detach, and a map whose paths all failed.
. /share/lib.sh
T=iqn.2026-11.test.lunguard:target1
lio_up
lio_target "$T" 4 127.0.0.1:3260 127.0.0.2:3260
iscsid_up auto
uevents_start iscsi-2portals
iscsi_login "$T" 127.0.0.1:3260 127.0.0.2:3260
wait_for 20 sh -c '[ "$(ls /sys/class/scsi_device | wc -l)" -ge 8 ]' || fail "expected 8 paths: $(ls /sys/class/scsi_device)"
uevents_stop
record_fixture iscsi-2portals

uevents_start iscsi-mpath
multipathd_up
wait_for 20 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 4 ]' || fail "expected 4 maps: $(multipath -ll)"
uevents_stop
record_fixture iscsi-mpath

# The seed race: LUN 2 is detached cleanly (map flushed, both paths deleted), then another process's
# broad rescan brings it back because the target still exports it.
h1=$(session_host 127.0.0.1:3260) h2=$(session_host 127.0.0.2:3260)
[ -n "$h1" ] && [ -n "$h2" ] || fail "no session hosts"
map=$(for d in /sys/block/dm-*; do ls "$d/slaves" | grep -q "$(ls /sys/class/scsi_device/$h1:0:0:2/device/block)" && cat "$d/dm/name"; done)
[ -n "$map" ] || fail "no map for LUN 2"
run multipath -f "$map"
for h in $h1 $h2; do echo 1 >"/sys/class/scsi_device/$h:0:0:2/device/delete"; done
settle
[ ! -e "/sys/class/scsi_device/$h1:0:0:2" ] || fail "LUN 2 not deleted"
uevents_start iscsi-leftover
for h in $h1 $h2; do echo "- - -" >"/sys/class/scsi_host/host$h/scan"; done
wait_for 20 test -e "/sys/class/scsi_device/$h1:0:0:2" || fail "broad rescan did not re-add LUN 2"
wait_for 20 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 4 ]' || fail "leftover map not formed: $(multipath -ll)"
uevents_stop
record_fixture iscsi-leftover

# Then the storage side takes the LUN away ("terminate connection" after the race): every path of
# the leftover map fails.
uevents_start iscsi-mpath-all-failed
lio_unmap "$T" 2
# I/O on the map fails the paths; the checker confirms it.
dd if=/dev/mapper/"$map" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null &
wait_for 60 sh -c "multipath -ll $map | grep -c 'failed faulty' | grep -q 2" || say "paths not all failed yet: $(multipath -ll "$map")"
uevents_stop
multipath -ll "$map"
record_fixture iscsi-mpath-all-failed
