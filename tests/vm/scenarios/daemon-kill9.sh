# Issue 4, proof 5 — kill -9 in the middle of a detach. The state drops LUN 2 (of 0-3); the daemon
# plans the detach while the map is unused, and the moment it starts (its first step, flushing
# the map's buffers, is logged before it runs) a process opens the map: `multipath -f` then fails
# with "map in use" and the daemon stays inside the removal, retrying with backoff
# ([policy.flush]). There it is killed with SIGKILL. The journal holds the flush's intent without
# an outcome; `lunguard history` reads it with the daemon stopped. The holder goes away, the
# daemon restarts, reports the interrupted action and finishes the detach; LUNs 0, 1, 3 untouched.
. /share/lib.sh
iscsi_mpath_up
lg_config 0s
lg_config_add '[policy.flush]' 'retries = 30' 'backoff_initial = "1s"' 'timeout = "2m"'
rm -rf "$LG_DRAFT"
for l in 0 1 3; do lg_draft vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
for l in 0 1 2 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
run lunguard check --config "$LG_CONF"
lg_daemon_up -vv
wait_for 30 maps_are 4 || fail "maps at start: $(multipath -ll)"
only_luns "$h1" "$h2" "0 1 2 3" || fail "declared LUNs at start: $(ls /sys/class/scsi_device)"
keep=$(for l in 0 1 3; do map_of "$h1:0:0:$l"; done | tr '\n' ' ')
m2=$(map_of "$h1:0:0:2")
dm2=$(basename "$(readlink -f "/dev/mapper/$m2")")
say "LUN 2 is $m2 ($dm2)"

(
    while ! grep -q "action=\"flush_buffers\" device=$dm2 " "$OUT/daemon.log"; do :; done
    exec sleep 60 <"/dev/mapper/$m2"
) &
holder=$!
say "state drops LUN 2"
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
wait_for 60 grep -q 'map in use; retrying attempts=2' "$OUT/daemon.log" \
    || fail "the flush did not meet the holder: $(tail -n 30 "$OUT/daemon.log")"
grep 'map in use; retrying' "$OUT/daemon.log" | sed 's/^.*: map in use/map in use/' >"$OUT/retries-before-kill.txt"
say "daemon is retrying the flush of $m2: kill -9"
lg_daemon_kill9
[ -e "/dev/mapper/$m2" ] || fail "the map is gone although it was in use"
kill "$holder"; wait "$holder" 2>/dev/null
settle

lunguard history --config "$LG_CONF" >"$OUT/history-stopped.txt" 2>&1; hrc=$?
cat "$OUT/history-stopped.txt"
[ "$hrc" = 1 ] || fail "history with the daemon stopped: exit $hrc, expected 1 (an entry without outcome)"
grep -q "flush map $m2 .*-> NO OUTCOME" "$OUT/history-stopped.txt" || fail "history does not show the interrupted flush"

say "restart"
lg_daemon_up -vv
grep -q 'action interrupted by the last stop' "$OUT/daemon.log" || fail "restart did not report the interrupted action"
wait_for 60 only_luns "$h1" "$h2" "0 1 3" || fail "the detach was not finished: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 3 || fail "maps after restart: $(multipath -ll)"
[ ! -e "/dev/mapper/$m2" ] || fail "map $m2 still there"
[ "$(for l in 0 1 3; do map_of "$h1:0:0:$l"; done | tr '\n' ' ')" = "$keep" ] || fail "declared maps changed"
for l in 0 1 3; do
    for h in "$h1" "$h2"; do [ -e "/sys/class/scsi_device/$h:0:0:$l" ] || fail "declared $h:0:0:$l removed"; done
done
lunguard history --config "$LG_CONF" >"$OUT/history-running.txt" 2>&1
cat "$OUT/history-running.txt"
grep -q "flush map $m2 .*-> interrupted" "$OUT/history-running.txt" || fail "history does not mark the flush interrupted"
grep 'interrupted' "$OUT/daemon.log" | sed 's/ MESSAGE_ID=.*//' >"$OUT/interrupted.txt"
lg_daemon_stop
say "interrupted detach reported and finished after restart; LUNs 0, 1, 3 untouched"
