# Issue 4, proof 6 — a uevent flood into a tiny receive buffer ([daemon] uevent_receive_buffer =
# 4096; the kernel grants twice that). A 12-LUN target with LUNs 0 and 3 declared; a broad rescan
# of both sessions adds 20 paths and multipathd 10 maps: hundreds of udev events. Round 1 floods
# while the daemon runs; if the buffer happened to keep up, round 2 floods while the daemon is
# stopped (SIGSTOP: a daemon that cannot read, e.g. starved or paged out) and continues it
# (SIGCONT). The overflow must be detected (ENOBUFS -> resync_after_overflow alert), a full resync
# must run, and only the declared LUNs may remain.
. /share/lib.sh
lio_up
lio_target "$T" 12 "$P1" "$P2"
iscsid_up manual
iscsi_login "$T" "$P1" "$P2"
scan_luns "$P1" 0 3
scan_luns "$P2" 0 3
multipathd_up
wait_for 30 maps_are 2 || fail "maps at start: $(multipath -ll)"
h1=$(session_host "$P1") h2=$(session_host "$P2")
lg_config 0s
lg_config_add 'max_removals_per_pass = 64' '[daemon]' 'uevent_receive_buffer = 4096'
run lunguard check --config "$LG_CONF"
for l in 0 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
lg_daemon_up
sed -n 's/.*uevent monitor subscribed.*receive_buffer=\([0-9]*\).*/\1/p' "$OUT/daemon.log" | head -n 1 >"$OUT/rcvbuf.txt"
say "granted receive buffer: $(cat "$OUT/rcvbuf.txt") bytes"
[ "$(cat "$OUT/rcvbuf.txt")" -le 16384 ] || fail "the configured buffer was not applied"
only_luns "$h1" "$h2" "0 3" || fail "start: $(ls /sys/class/scsi_device)"

flood() {
    echo "- - -" >"/sys/class/scsi_host/host$h1/scan"
    echo "- - -" >"/sys/class/scsi_host/host$h2/scan"
}
overflows() { log_lines 'uevent socket overflowed \(ENOBUFS\)'; }

say "round 1: broad rescan of 12 LUNs on both sessions, daemon running"
flood
wait_for 120 only_luns "$h1" "$h2" "0 3" || fail "round 1: unintended LUNs remain: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 2 || fail "round 1: maps: $(multipath -ll)"
settle
r1=$(overflows)
say "round 1: $r1 overflows"
echo "round1_overflows=$r1" >"$OUT/counts.txt"
if [ "$r1" = 0 ]; then
    say "round 2: the same while the daemon is stopped (SIGSTOP)"
    kill -STOP "$LG_PID"
    flood
    wait_for 60 sh -c "[ \$(ls /sys/class/scsi_device | wc -l) -ge 24 ]" || say "not all 24 paths appeared"
    settle
    sleep 2
    kill -CONT "$LG_PID"
    wait_for 120 only_luns "$h1" "$h2" "0 3" || fail "round 2: unintended LUNs remain: $(ls /sys/class/scsi_device)"
    wait_for 30 maps_are 2 || fail "round 2: maps: $(multipath -ll)"
    settle
    r2=$(( $(overflows) - r1 ))
    say "round 2: $r2 overflows"
    echo "round2_overflows=$r2" >>"$OUT/counts.txt"
fi
total=$(overflows)
echo "total_overflows=$total" >>"$OUT/counts.txt"
[ "$total" -ge 1 ] || fail "no overflow detected"
grep -q 'LUNGUARD_KIND=resync_after_overflow' "$OUT/daemon.log" || fail "no resync_after_overflow alert"
grep 'LUNGUARD_KIND=resync_after_overflow' "$OUT/daemon.log" | sed 's/ MESSAGE_ID=.*//' | head -n 3 >"$OUT/overflow-alerts.txt"
for l in 0 3; do
    for h in "$h1" "$h2"; do
        [ "$(wwid_of "$h:0:0:$l")" = "$(lio_wwid "$T" "$l")" ] || fail "WWID of $h:0:0:$l"
    done
done
lg_daemon_stop
grep 'stopping' "$OUT/daemon.log" | sed -n 's/.*summary=\(Summary {[^}]*}\).*/\1/p' | tail -n 1 >"$OUT/summary.txt"
echo "summary: $(cat "$OUT/summary.txt")" >>"$OUT/counts.txt"
cat "$OUT/counts.txt"
say "flood: overflow detected ($total), resync ran, only LUNs 0 and 3 remain"
