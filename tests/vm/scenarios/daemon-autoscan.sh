# Issue 4, proof 2 — iscsid's login autoscan. The state declares LUNs 0 and 3 of an 8-LUN target
# over 2 portals (grace 0s); the daemon attaches them itself (login with node.session.scan =
# manual, narrowed scans). Then a second tool sets node.session.scan = auto and logs the sessions
# out and in again: iscsid scans every LUN, all 8 appear on both sessions and multipathd builds
# their maps. Only the intended ones may remain: LUNs 0 and 3, 2 maps.
# The daemon's debounce is raised to 5s so that its own re-login cannot come between the tool's
# logout and login (then the tool's login would find the sessions present and scan nothing).
. /share/lib.sh
lio_up
lio_target "$T" 8 "$P1" "$P2"
iscsid_up manual
multipathd_up
lg_config 0s
lg_config_add 'max_removals_per_pass = 16' '[daemon]' 'debounce = "5s"'
for l in 0 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
run lunguard check --config "$LG_CONF"
lg_daemon_up
sessions_up() { session_host "$P1" >/dev/null && session_host "$P2" >/dev/null; }
wait_for 60 sessions_up || fail "the daemon did not log in: $(tail -n 30 "$OUT/daemon.log")"
h1=$(session_host "$P1") h2=$(session_host "$P2")
wait_for 60 only_luns "$h1" "$h2" "0 3" || fail "the daemon did not attach 0 and 3: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 2 || fail "maps after the daemon's attach: $(multipath -ll)"
settle
ls /sys/class/scsi_device | tr '\n' ' ' >"$OUT/devices-before.txt"

say "second tool: node.session.scan = auto, logout, login"
udevadm monitor --kernel --subsystem-match=scsi >/tmp/scsi-events.txt 2>&1 &
mon=$!
sleep 1
# open-iscsi spells it "auto" (iscsiadm rejects "automatic": "unknown value format")
run iscsiadm -m node -T "$T" -o update -n node.session.scan -v auto
run iscsiadm -m node -T "$T" --logout
run iscsiadm -m node -T "$T" --login
h1=$(session_host "$P1") h2=$(session_host "$P2")
# the autoscan added every LUN on both sessions (the kernel's add events say so even if the guard
# has removed some already)
added=$(grep -cE ' add +/devices/.*/[0-9]+:0:0:[0-9]+ \(scsi\)$' /tmp/scsi-events.txt || true)
say "SCSI devices added by the login: $added"
wait_for 120 only_luns "$h1" "$h2" "0 3" || fail "unintended LUNs remain: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 2 || fail "maps: $(multipath -ll)"
settle
sleep 2
only_luns "$h1" "$h2" "0 3" || fail "not stable: $(ls /sys/class/scsi_device)"
kill "$mon"
added=$(grep -cE ' add +/devices/.*/[0-9]+:0:0:[0-9]+ \(scsi\)$' /tmp/scsi-events.txt || true)
echo "$added" >"$OUT/autoscan-added.txt"
[ "$added" -ge 16 ] || fail "expected the autoscan to add 16 paths, saw $added: $(cat /tmp/scsi-events.txt)"
for l in 0 3; do
    for h in "$h1" "$h2"; do
        [ "$(wwid_of "$h:0:0:$l")" = "$(lio_wwid "$T" "$l")" ] || fail "WWID of $h:0:0:$l"
    done
done
ls /sys/class/scsi_device | tr '\n' ' ' >"$OUT/devices-after.txt"
multipath -ll 2>/dev/null >"$OUT/multipath-after.txt"
grep -E 'action="(flush_map|delete_paths)"' "$OUT/daemon.log" | sed 's/^.*}: //' >"$OUT/removals.txt"
lg_daemon_stop
say "autoscan added $added paths; only LUNs 0 and 3 remain"
