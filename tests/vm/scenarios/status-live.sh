# lunguard status on the live kernel: scsi_debug (2 hosts, 4 LUNs) and a LIO iSCSI target over
# loopback (2 portals, 4 LUNs), all under dm-multipath with friendly names. The guest records
# lunguard's JSON and the tools' views; the host test (tests/vm.rs) parses and compares them.
. /share/lib.sh
[ -x /share/bin/lunguard ] || fail "no lunguard binary shared"
T=iqn.2026-11.test.lunguard:target1
scsi_debug_up 4
lio_up
lio_target "$T" 4 127.0.0.1:3260 127.0.0.2:3260
iscsid_up manual
iscsi_login "$T" 127.0.0.1:3260 127.0.0.2:3260
# node.session.scan = manual: the login found no LUNs; scan exactly LUNs 0-3 of each session.
for p in 127.0.0.1:3260 127.0.0.2:3260; do
    h=$(session_host "$p") || fail "no session on $p"
    for l in 0 1 2 3; do echo "0 0 $l" >"/sys/class/scsi_host/host$h/scan"; done
done
settle
wait_for 20 sh -c '[ "$(ls /sys/class/scsi_device | wc -l)" -ge 16 ]' || fail "expected 16 paths: $(ls /sys/class/scsi_device)"
multipathd_up friendly
wait_for 30 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 8 ]' || fail "expected 8 maps: $(multipath -ll)"
# A filesystem on one map, mounted: status must show the mount.
m=$(cat /sys/block/dm-0/dm/name)
modprobe ext4
run mkfs.ext4 -q "/dev/mapper/$m"
mkdir -p /mnt/a && run mount "/dev/mapper/$m" /mnt/a
settle
mkdir -p "$OUT/commands"
lunguard status --json >"$OUT/status.json" || fail "status --json exit $?"
lunguard status >"$OUT/status.txt"; echo "status exit $?" >>"$OUT/status.txt"
lsscsi -t >"$OUT/commands/lsscsi-t.txt" 2>&1
lsscsi -u >"$OUT/commands/lsscsi-u.txt" 2>&1
multipath -ll >"$OUT/commands/multipath-ll.txt" 2>/dev/null
iscsiadm -m session -P 3 >"$OUT/commands/iscsiadm-session-P3.txt" 2>&1
cat /proc/self/mountinfo >"$OUT/commands/mountinfo.txt"
cat "$OUT/status.txt"
umount /mnt/a
