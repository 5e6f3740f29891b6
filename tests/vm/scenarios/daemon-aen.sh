# Issue 4, proof 3 — a LUN added on the array while the session is open. LIO sends no AEN: the
# next command on the session gets a UNIT ATTENTION (REPORTED LUNS DATA HAS CHANGED) and the kernel
# turns it into a `change` uevent with SDEV_UA. With node.session.scan = manual nothing is scanned;
# the daemon (state: LUNs 0 and 1) must not let the new LUN in. Then the state declares LUN 5 and
# the daemon attaches it with narrowed scans only ("0 0 5"), never a broad "- - -" rescan.
. /share/lib.sh
iscsi_mpath_up
lg_config 0s
for l in 0 1; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
lg_daemon_up -vv
wait_for 60 only_luns "$h1" "$h2" "0 1" || fail "undeclared LUNs 2, 3 not removed at start: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 2 || fail "maps after start: $(multipath -ll)"
settle
udevadm monitor --kernel --property --subsystem-match=scsi >/tmp/ua-events.txt 2>&1 &
mon=$!
sleep 1
say "array adds LUN 5 while the sessions are open"
lio_lun "$T" 5
# The next command on each session sees the unit attention (multipathd's TUR checker may get there
# first; either way the kernel reports it).
for h in "$h1" "$h2"; do
    disk=$(ls "/sys/class/scsi_device/$h:0:0:0/device/block")
    dd if="/dev/$disk" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null || say "dd on $disk failed"
done
wait_for 30 grep -q 'SDEV_UA=REPORTED_LUNS_DATA_HAS_CHANGED' /tmp/ua-events.txt \
    || fail "no SDEV_UA change uevent: $(cat /tmp/ua-events.txt)"
# the daemon heard it: the uevent's debug line names the key SDEV_UA maps to, the target's LUN list
wait_for 20 grep -q 'uevent action="change".*TargetLuns' "$OUT/daemon.log" || fail "daemon did not log the change uevent"
grep 'uevent action="change".*TargetLuns' "$OUT/daemon.log" | sed 's/^.*DEBUG //' >"$OUT/daemon-ua.txt"
sleep 5
settle
kill "$mon"
cp /tmp/ua-events.txt "$OUT/ua-events.txt"
grep -c 'SDEV_UA=REPORTED_LUNS_DATA_HAS_CHANGED' /tmp/ua-events.txt >"$OUT/ua-count.txt"
# scan = manual: LUN 5 must not have appeared (had it, the daemon would have removed it)
wait_for 30 only_luns "$h1" "$h2" "0 1" || fail "LUN 5 appeared and stayed: $(ls /sys/class/scsi_device)"
say "state declares LUN 5"
lg_attach vols.toml vol-5 "$T" 5 "$(lio_wwid "$T" 5)" "$P1" "$P2"
wait_for 60 only_luns "$h1" "$h2" "0 1 5" || fail "LUN 5 not attached: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 3 || fail "maps after attach: $(multipath -ll)"
for h in "$h1" "$h2"; do
    [ "$(wwid_of "$h:0:0:5")" = "$(lio_wwid "$T" 5)" ] || fail "WWID of $h:0:0:5"
done
m5=$(map_of "$h1:0:0:5")
[ -n "$m5" ] && [ "$m5" = "$(map_of "$h2:0:0:5")" ] || fail "LUN 5 paths not in one map"
grep -F 'scan ' "$OUT/daemon.log" | grep -F 'action="scan' >"$OUT/scans.txt" || true
grep -F '("0 0 5"' "$OUT/daemon.log" | sed 's/^.*: scan /scan /' >"$OUT/scan-lines.txt"
grep -qF '("0 0 5"' "$OUT/daemon.log" || fail "no narrowed scan in the daemon log"
if grep -qF -- '- - -' "$OUT/daemon.log"; then fail "the daemon did a broad rescan"; fi
multipath -ll 2>/dev/null >"$OUT/multipath-after.txt"
luns_on "$h1" >"$OUT/luns.txt"
lg_daemon_stop
say "LUN added by the array stayed out until declared; then attached with narrowed scans"
