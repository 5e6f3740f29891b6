# Issue 7, item 2 — a flush never loses data silently and never hangs the loop. The daemon runs in
# enforce mode (grace 0) over LIO target $T:
#   LUN 0  declared on both portals: must never be touched;
#   LUN 1  not declared: scanned in later as a rogue LUN, to prove the loop still reacts;
#   LUN 2  declared multipath, `no_path_retry queue`: its paths are all taken away (LIO unmaps it)
#          while a writer has data queued on the map;
#   LUN 3  declared single-path (P1 only, blacklisted from multipath): writes to it fail (LIO
#          write-protects the mapping) and leave a writeback error nobody has seen.
# (b) LUN 3's intent removed → fsync in the flush reports the writeback error → kept, flush_failed.
# (a) LUN 2's intent removed → kept (held open by the blocked writer), alert; the loop keeps
#     working (removes rogue LUN 1). With force → queueing disabled, data-loss alert, map removed.
. /share/lib.sh
lio_up
lio_target "$T" 4 "$P1" "$P2"
iscsid_up manual
iscsi_login "$T" "$P1" "$P2"
scan_luns "$P1" 0 2 3
scan_luns "$P2" 0 2
w2=$(lio_wwid "$T" 2) w3=$(lio_wwid "$T" 3)
cat >>/etc/multipath.conf <<EOT
blacklist {
    wwid "3${w3#naa.}"
}
multipaths {
    multipath {
        wwid "3${w2#naa.}"
        no_path_retry queue
    }
}
EOT
multipathd_up
wait_for 30 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 2 ]' || fail "expected 2 maps: $(multipath -ll)"
settle
h1=$(session_host "$P1") h2=$(session_host "$P2")
m2=$(map_of "$h1:0:0:2") m0=$(map_of "$h1:0:0:0")
[ -n "$m2" ] && [ -n "$m0" ] || fail "maps: $(multipath -ll)"
[ -z "$(map_of "$h1:0:0:3")" ] || fail "LUN 3 must be a bare disk: $(multipath -ll)"
sd3=$(ls "/sys/class/scsi_device/$h1:0:0:3/device/block")
dmsetup table "$m2" | grep -q queue_if_no_path || fail "map $m2 does not queue: $(dmsetup table "$m2")"
{ dmsetup status --target multipath; dmsetup table --target multipath; } >"$OUT/dm-before.txt"

lg_config 0s
lg_config_add 'force = false' '[daemon]' 'resync_interval = "3s"' \
    '[timeouts]' 'multipath = "10s"' 'iscsiadm = "20s"'
rm -rf "$LG_DRAFT"
lg_draft vols.toml vol-0 "$T" 0 "$(lio_wwid "$T" 0)" "$P1" "$P2"
cp "$LG_DRAFT/vols.toml" /tmp/only0.toml
lg_draft vols.toml vol-2 "$T" 2 "$w2" "$P1" "$P2"
cp "$LG_DRAFT/vols.toml" /tmp/only02.toml
lg_draft vols.toml vol-3 "$T" 3 "$w3" "$P1"
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
lg_daemon_up
sleep 2
[ -e "/sys/class/scsi_device/$h1:0:0:3" ] && [ -e "/sys/block/$sd3" ] || fail "declared LUN 3 removed at start"
[ -e "/dev/mapper/$m2" ] || fail "declared map $m2 removed at start"

say "(b) a writeback error nobody has seen: LUN 3 write-protected, buffered write, then detach"
echo 1 >"$CFG/iscsi/$T/tpgt_1/acls/$INITIATOR/lun_3/write_protect" || fail "write_protect"
# Buffered (no oflag=direct/sync): the data sits in the page cache; the last close writes it
# back, the write fails, and the kernel records the error on the device (errseq), unseen.
dd if=/dev/urandom of="/dev/$sd3" bs=4096 count=8 2>"$OUT/dd3.txt"; echo "dd rc=$?" >>"$OUT/dd3.txt"
sleep 1
dmesg | tail -n 20 >"$OUT/dmesg-b.txt"
lg_state_write vols.toml </tmp/only02.toml
wait_for 60 grep -q "writeback to /dev/$sd3 failed" "$OUT/daemon.log" \
    || fail "no writeback error reported: $(tail -n 40 "$OUT/daemon.log")"
# Several passes (resync every 3 s, the watch's second report of the edit): the kernel reports a
# writeback error once, so a retry would flush cleanly and delete the disk.
sleep 10
settle
[ -e "/sys/class/scsi_device/$h1:0:0:3" ] || fail "LUN 3 deleted after a failed writeback"
grep -E "flush_failed|data_loss_forced|removal|writeback|degraded" "$OUT/daemon.log" | grep -E "$sd3|3:0:0:3|$h1:0:0:3" >"$OUT/b-alerts.txt"
grep -q 'LUNGUARD_KIND=flush_failed' "$OUT/b-alerts.txt" || fail "no flush_failed alert: $(cat "$OUT/b-alerts.txt")"
grep -q 'LUNGUARD_KIND=key_degraded' "$OUT/b-alerts.txt" || fail "not degraded at once: $(cat "$OUT/b-alerts.txt")"
say "(b) kept: $(grep -m1 "writeback to" "$OUT/daemon.log")"

say "(a) LUN 2 unmapped (every path gone) with a writer queued on the map, then detach"
lio_unmap "$T" 2
dd if=/dev/urandom of="/dev/mapper/$m2" bs=4096 count=8 2>"$OUT/dd2.txt" &
dd2=$!
# every path of the map failed in the kernel's own status (`major:minor A|F failcount`)
all_failed() { s=$(dmsetup status "$1" | grep -oE '[0-9]+:[0-9]+ [AF]'); [ -n "$s" ] && ! echo "$s" | grep -q ' A'; }
wait_for 60 all_failed "$m2" \
    || fail "paths of $m2 not failed: $(dmsetup status "$m2")"
sleep 2
state=$(awk '{print $3}' "/proc/$dd2/stat" 2>/dev/null)
echo "writer state: $state" >"$OUT/a-writer.txt"
dmsetup info -c "$m2" >>"$OUT/a-writer.txt" 2>&1
dmsetup status "$m2" >>"$OUT/a-writer.txt" 2>&1
[ "$state" = D ] || fail "the writer is not blocked on the queue: $(cat "$OUT/a-writer.txt")"
passes0=$(log_lines 'pass done|pass:|plan:')
lg_state_write vols.toml </tmp/only0.toml
wait_for 60 sh -c "grep -E 'LUNGUARD_KIND=removal_refused_in_use' '$OUT/daemon.log' | grep -q '$m2'" \
    || fail "no in-use alert for $m2: $(tail -n 40 "$OUT/daemon.log")"
say "(a) the loop still reacts: a rogue LUN 1 appears and is removed"
scan_luns "$P1" 1
wait_for 60 sh -c "[ ! -e /sys/class/scsi_device/$h1:0:0:1 ]" \
    || fail "rogue LUN 1 not removed while $m2 is stuck: $(tail -n 40 "$OUT/daemon.log")"
[ -e "/dev/mapper/$m2" ] || fail "map $m2 removed without force"
[ -e "/sys/class/scsi_device/$h1:0:0:0" ] && [ -e "/dev/mapper/$m0" ] || fail "declared LUN 0 touched"
kill -0 "$LG_PID" || fail "daemon died"
sleep 7
[ "$(log_lines 'LUNGUARD_KIND=flush_failed.*'"$m2")" = 0 ] || fail "a flush of $m2 was attempted without force"

say "(a) force = true: queueing disabled, the writer fails, the map goes, data loss alerted"
sed -i 's/^force = false/force = true/' "$LG_CONF"
kill -HUP "$LG_PID"
wait_for 90 sh -c "grep 'LUNGUARD_KIND=data_loss_forced' '$OUT/daemon.log' | grep -q '$m2'" \
    || fail "no data-loss alert for $m2: $(tail -n 40 "$OUT/daemon.log")"
wait_for 60 sh -c "! kill -0 $dd2" || fail "writer still blocked after fail_if_no_path"
wait_for 90 sh -c "[ ! -e /dev/mapper/$m2 ] && [ ! -e /sys/class/scsi_device/$h1:0:0:2 ] && [ ! -e /sys/class/scsi_device/$h2:0:0:2 ]" \
    || fail "map $m2 not removed under force: $(tail -n 40 "$OUT/daemon.log")"
[ -e "/sys/class/scsi_device/$h1:0:0:0" ] && [ -e "/dev/mapper/$m0" ] || fail "declared LUN 0 touched"
grep -E "LUNGUARD_KIND=(data_loss_forced|flush_failed|removal_refused_in_use|device_removed|key_degraded)" "$OUT/daemon.log" >"$OUT/alerts.txt"
lg_daemon_stop
say "done"
