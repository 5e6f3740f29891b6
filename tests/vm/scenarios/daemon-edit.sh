# Issue 4, proof 4 — editing the state file while the daemon runs. Every write is what editors
# and `sed -i` do (temp file in the directory, renamed over the state file). Adding an attachment
# attaches it; removing it detaches exactly that LUN; a broken edit (syntax error, then an unknown
# field) changes nothing — no device removed, the rejection logged with file:line, the last good
# state still enforced — and fixing the file works again.
. /share/lib.sh
iscsi_mpath_up
lg_config 0s
rm -rf "$LG_DRAFT"
for l in 0 1 3; do lg_draft vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
cp "$LG_DRAFT/vols.toml" /tmp/base.toml
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
lg_daemon_up
wait_for 60 only_luns "$h1" "$h2" "0 1 3" || fail "undeclared LUN 2 not removed at start"
wait_for 30 maps_are 3 || fail "maps after start: $(multipath -ll)"
settle
keep=$(for l in 0 1 3; do map_of "$h1:0:0:$l"; done | tr '\n' ' ')

say "edit 1: add LUN 2"
lg_draft vols.toml vol-2 "$T" 2 "$(lio_wwid "$T" 2)" "$P1" "$P2"
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
wait_for 60 only_luns "$h1" "$h2" "0 1 2 3" || fail "LUN 2 not attached: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 4 || fail "maps after attach: $(multipath -ll)"

say "edit 2: remove LUN 2"
lg_state_write vols.toml </tmp/base.toml
wait_for 60 only_luns "$h1" "$h2" "0 1 3" || fail "LUN 2 not detached: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 3 || fail "maps after detach: $(multipath -ll)"
[ "$(for l in 0 1 3; do map_of "$h1:0:0:$l"; done | tr '\n' ' ')" = "$keep" ] || fail "declared maps changed"

say "edit 3: a syntax error (and LUN 1 left out)"
before=$(ls /sys/class/scsi_device | tr '\n' ' ')
{ sed -n '1,/^$/p' /tmp/base.toml; echo '[[attachment]'; echo 'name = "vol-3"'; } >/tmp/broken1.toml
lg_state_write vols.toml </tmp/broken1.toml
wait_for 30 grep -q 'state files rejected.*vols.toml:[0-9]*:[0-9]*' "$OUT/daemon.log" \
    || fail "no rejection with file:line in the log: $(tail -n 20 "$OUT/daemon.log")"
sleep 3
settle
[ "$(ls /sys/class/scsi_device | tr '\n' ' ')" = "$before" ] || fail "devices changed after a broken edit"
# The last good state (0 1 3) is still enforced: a broad rescan re-adds LUN 2, the daemon removes it.
echo "- - -" >"/sys/class/scsi_host/host$h1/scan"
echo "- - -" >"/sys/class/scsi_host/host$h2/scan"
wait_for 60 only_luns "$h1" "$h2" "0 1 3" || fail "last good state not enforced: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 3 || fail "maps: $(multipath -ll)"

say "edit 4: an unknown field"
n=$(log_lines 'state files rejected')
awk '{ print } /^lun = 3$/ { print "lunn = 3" }' /tmp/base.toml >/tmp/broken2.toml
grep -q '^lunn = 3' /tmp/broken2.toml || fail "could not make broken2"
lg_state_write vols.toml </tmp/broken2.toml
wait_for 30 sh -c "[ \"\$(grep -c 'state files rejected' '$OUT/daemon.log')\" -gt $n ]" || fail "unknown field not rejected"
grep 'state files rejected' "$OUT/daemon.log" | grep -q 'lunn' || fail "rejection does not name the unknown field"
sleep 3
settle
only_luns "$h1" "$h2" "0 1 3" || fail "devices changed after the unknown-field edit"
grep 'state files rejected' "$OUT/daemon.log" | sed 's/ MESSAGE_ID=.*//' | sort -u >"$OUT/rejections.txt"

say "edit 5: fixed (the draft of edit 1: LUN 2 declared again)"
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
wait_for 60 only_luns "$h1" "$h2" "0 1 2 3" || fail "fixed file not applied: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 4 || fail "maps after the fix: $(multipath -ll)"
grep -E 'state reloaded|state files rejected' "$OUT/daemon.log" | sed 's/ MESSAGE_ID=.*//' >"$OUT/reloads.txt"
lg_daemon_stop
say "edits applied; broken edits rejected with positions and changed nothing"
