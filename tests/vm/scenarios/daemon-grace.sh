# Issue 7, item 6 — the grace period on the real kernel, with the daemon running (grace 20s).
# (a) A rogue LUN: LUN 2 was detached earlier (not declared); another tool's broad rescan
#     ("- - -") brings it back on both sessions. The daemon keeps it for the grace (checked 5 s
#     before the grace ends; its log says it is waiting) and removes it after; the delay from the
#     rescan to the removal is measured.
# (b) An attach in flight: target2 is in scope (scope.iscsi_targets) but declared by nothing.
#     Within the same grace window another tool logs in to it (scan = manual), scans its LUN 0
#     with a narrowed scan 2 s later, and opens the LUN once multipathd has its map. The daemon
#     must not race it: the empty session is not logged out and the LUN not removed before the tool uses it;
#     once in use it is kept past the grace. When the tool lets go, the daemon removes the LUN and
#     logs out exactly that session.
. /share/lib.sh
GRACE=20
T2=iqn.2026-11.test.lunguard:target2
iscsi_mpath_up
lio_target "$T2" 1 "$P1"
# The operator's earlier detach of LUN 2: map flushed, both paths deleted.
m2=$(map_of "$h1:0:0:2")
run multipath -f "$m2"
for h in "$h1" "$h2"; do echo 1 >"/sys/class/scsi_device/$h:0:0:2/device/delete"; done
settle
wait_for 30 maps_are 3 || fail "maps after the manual detach: $(multipath -ll)"
lg_config "${GRACE}s"
lg_config_add '[scope]' "iscsi_targets = [\"$T2\"]"
for l in 0 1 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
run lunguard check --config "$LG_CONF"
lg_daemon_up -vv
only_luns "$h1" "$h2" "0 1 3" || fail "declared LUNs at start: $(ls /sys/class/scsi_device)"

say "(a) broad rescan re-adds LUN 2; (b) another tool attaches target2 LUN 0"
t_add=$(uptime_s)
echo "- - -" >"/sys/class/scsi_host/host$h1/scan"
echo "- - -" >"/sys/class/scsi_host/host$h2/scan"
[ -e "/sys/class/scsi_device/$h1:0:0:2" ] || fail "the rescan did not re-add LUN 2"
# (a) is sampled in the background 5 s before the grace ends, whatever (b) is doing meanwhile.
(
    until at_least "$(since_s "$t_add")" $((GRACE - 5)); do sleep 0.2; done
    n=0
    for h in "$h1" "$h2"; do [ -e "/sys/class/scsi_device/$h:0:0:2" ] && n=$((n + 1)); done
    echo "$n $(since_s "$t_add")" >/tmp/grace-sample
) &
sampler=$!
# (b): login with scan = manual (no LUN yet), narrowed scan after 3 s, use after 3 more.
run iscsiadm -m node -T "$T2" -p "$P1" -o new
run iscsiadm -m node -T "$T2" -p "$P1" -o update -n node.session.scan -v manual
run iscsiadm -m node -T "$T2" -p "$P1" --login
t_login=$(uptime_s)
sid2=$(session_of "$T2" "$P1") || fail "no session to $T2"
hb=$(host_of "$T2" "$P1")
sleep 2
session_of "$T2" "$P1" >/dev/null || fail "(b) the empty session was logged out within the grace"
echo "0 0 0" >"/sys/class/scsi_host/host$hb/scan"
settle
[ -e "/sys/class/scsi_device/$hb:0:0:0" ] || fail "(b) the narrowed scan found no LUN 0"
wait_for 10 sh -c "[ -n \"\$(ls /sys/class/scsi_device/$hb:0:0:0/device/block/*/holders 2>/dev/null)\" ]"
sleep 1
[ -e "/sys/class/scsi_device/$hb:0:0:0" ] || fail "(b) LUN 0 of $T2 was removed before the tool used it"
m=$(map_of "$hb:0:0:0")
[ -n "$m" ] || fail "(b) multipathd built no map over $hb:0:0:0"
# /dev/mapper/NAME appears with the map's resume (udev's dm rules), after the holder link.
wait_for 10 test -b "/dev/mapper/$m" || fail "(b) no /dev/mapper/$m"
dev=/dev/mapper/$m
say "(b) the tool opens $dev"
sleep 1000 <"$dev" &
holder=$!
map_open() { [ "$(dmsetup info -c --noheadings -o open "$1" 2>/dev/null | tr -d ' ')" -ge 1 ] 2>/dev/null; }
wait_for 5 map_open "$m" || fail "(b) the tool could not open $dev"
use_after=$(since_s "$t_login")

# (a): still there shortly before the grace ends.
wait "$sampler"
read -r present at <"/tmp/grace-sample"
[ "$present" = 2 ] || fail "(a) LUN 2 had $present of 2 paths left at $at s, within the ${GRACE}s grace"
grep -E "unwanted: would remove at [0-9TZ:-]+ \(in [0-9]+ s; grace period\)" "$OUT/daemon.log" | grep -q ":0:0:2" \
    || fail "(a) no waiting-for-grace line for LUN 2: $(tail -n 30 "$OUT/daemon.log")"
say "(a) LUN 2 still present (both paths) at $at s, waiting for the grace"
echo "$at" >"$OUT/grace-still-there-at-s.txt"
wait_for 40 no_lun "$h1" "$h2" 2 || fail "(a) LUN 2 not removed after the grace: $(ls /sys/class/scsi_device)"
took=$(since_s "$t_add")
echo "$took" >"$OUT/grace-removal-s.txt"
say "(a) LUN 2 removed $took s after the rescan (grace ${GRACE}s)"
at_least "$took" "$GRACE" || fail "(a) removed after $took s, before the ${GRACE}s grace"
only_luns "$h1" "$h2" "0 1 3" || fail "declared LUNs: $(ls /sys/class/scsi_device)"

# (b): past the grace (counted from the login) and in use: kept, session kept.
until at_least "$(since_s "$t_login")" $((GRACE + 3)); do sleep 0.2; done
[ -e "/sys/class/scsi_device/$hb:0:0:0" ] || fail "(b) the LUN in use was removed"
[ "$(session_of "$T2" "$P1")" = "$sid2" ] || fail "(b) the session of the tool's attach was logged out"
grep -q "LUNGUARD_KIND=removal_refused_in_use" "$OUT/daemon.log" || fail "(b) no in-use refusal in the log"
echo "$use_after" >"$OUT/attach-login-to-use-s.txt"
say "(b) the tool's LUN survived the grace (login -> use took $(cat "$OUT/attach-login-to-use-s.txt") s)"

say "(b) the tool lets go: the unwanted LUN goes, then exactly its session"
kill "$holder"; wait "$holder" 2>/dev/null
wait_for 60 sh -c "! [ -e /sys/class/scsi_device/$hb:0:0:0 ]" || fail "(b) released LUN not removed"
wait_for 30 sh -c "! [ -e /sys/class/iscsi_session/session$sid2 ]" || fail "(b) the empty session was not logged out"
[ -n "$(session_of "$T" "$P1")" ] && [ -n "$(session_of "$T" "$P2")" ] || fail "a declared session was logged out"
only_luns "$h1" "$h2" "0 1 3" || fail "declared LUNs at the end: $(ls /sys/class/scsi_device)"
grep -E 'LUNGUARD_KIND=(device_removed|session_logged_out)' "$OUT/daemon.log" | sed 's/ MESSAGE_ID=.*//' >"$OUT/removals.txt"
lg_daemon_stop
say "grace kept the rogue LUN ${GRACE}s (removed after $took s) and did not race the attach"
