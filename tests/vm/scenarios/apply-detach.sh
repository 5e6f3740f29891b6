# Issue 3, proof 5 — detach: a LUN is attached and written to; its attachment is removed from the
# state file; `apply --once` flushes, removes both paths and logs out the session. When the
# attachment comes back, the data written before the detach is intact.
. /share/lib.sh
lio_up
lio_target "$T" 2 "$P1" "$P2"
iscsid_up manual
multipathd_up
lg_config 0s
lg_attach vols.toml vol-1 "$T" 1 "$(lio_wwid "$T" 1)" "$P1" "$P2"
lunguard apply --once --config "$LG_CONF" | tee "$OUT/attach.txt"
settle
wait_for 20 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 1 ]' || fail "no map after attach: $(multipath -ll)"
h1=$(session_host "$P1") || fail "no session"
map=$(map_of "$h1:0:0:1")
[ -n "$map" ] || fail "no map for LUN 1"
# Buffered writes, no sync: the detach must flush them before it removes anything.
dd if=/dev/urandom of=/tmp/pattern bs=4k count=256 2>/dev/null
want=$(md5sum </tmp/pattern | cut -d' ' -f1)
dd if=/tmp/pattern of="/dev/mapper/$map" bs=4k count=256 2>/dev/null || fail "write failed"

: >"$LG_STATE/vols.toml"   # the attachment is gone; the file stays, empty
lunguard apply --once --config "$LG_CONF" | tee "$OUT/detach.txt"
settle
[ "$(ls /sys/class/scsi_device 2>/dev/null | wc -l)" = 0 ] || fail "paths left: $(ls /sys/class/scsi_device)"
[ "$(ls /sys/block | grep -c ^dm-)" = 0 ] || fail "map left: $(multipath -ll)"
iscsiadm -m session >/dev/null 2>&1 && fail "sessions left: $(iscsiadm -m session)"
grep -q 'remove .*of map' "$OUT/detach.txt" || fail "no path removal in the detach output"
grep -qi 'logout' "$OUT/detach.txt" || fail "no logout in the detach output"

lg_attach vols.toml vol-1 "$T" 1 "$(lio_wwid "$T" 1)" "$P1" "$P2"
lunguard apply --once --config "$LG_CONF" | tee "$OUT/reattach.txt"
settle
wait_for 20 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 1 ]' || fail "no map after re-attach"
h1=$(session_host "$P1") || fail "no session after re-attach"
map=$(map_of "$h1:0:0:1")
got=$(dd if="/dev/mapper/$map" bs=4k count=256 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "data changed across detach/attach: $got != $want"
say "detached cleanly (flush, paths, logout); data intact after re-attach"
