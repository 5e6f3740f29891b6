# Issue 3, proof 2 — declarative attach: LIO exports 8 LUNs on 2 portals; the state file asks for
# LUNs 2 and 5. With no session at the start, `lunguard apply --once` logs in with
# node.session.scan = manual and scans exactly those LUNs: the host ends with exactly 2 multipath
# maps of 2 paths each, with the declared WWIDs, and no other LUN of the target.
. /share/lib.sh
lio_up
lio_target "$T" 8 "$P1" "$P2"
iscsid_up auto   # the default iscsid.conf autoscans: lunguard must not rely on it being manual
multipathd_up
lg_config 0s
for l in 2 5; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
run lunguard check --config "$LG_CONF"
[ "$(ls /sys/class/scsi_device 2>/dev/null | wc -l)" = 0 ] || fail "devices before attach"
lunguard apply --once --config "$LG_CONF" | tee "$OUT/apply.txt"
settle
wait_for 20 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 2 ]' || fail "maps not formed: $(multipath -ll)"
ls /sys/class/scsi_device | tee "$OUT/devices.txt"
[ "$(ls /sys/class/scsi_device | wc -l)" = 4 ] || fail "expected exactly 4 paths: $(ls /sys/class/scsi_device)"
for p in "$P1" "$P2"; do
    h=$(session_host "$p") || fail "no session on $p"
    for l in 2 5; do
        [ -e "/sys/class/scsi_device/$h:0:0:$l" ] || fail "missing path $h:0:0:$l"
        [ "$(wwid_of "$h:0:0:$l")" = "$(lio_wwid "$T" "$l")" ] || fail "WWID of $h:0:0:$l"
    done
    scan=$(iscsiadm -m node -T "$T" -p "$p" | grep '^node.session.scan')
    [ "$scan" = "node.session.scan = manual" ] || fail "node record for $p: $scan"
done
[ "$(ls /sys/block | grep -c ^dm-)" = 2 ] || fail "expected 2 maps: $(multipath -ll)"
for d in /sys/block/dm-*; do
    [ "$(ls "$d/slaves" | wc -l)" = 2 ] || fail "$(cat "$d/dm/name") has $(ls "$d/slaves" | wc -l) paths"
done
multipath -ll 2>/dev/null | tee "$OUT/multipath-after.txt"
lunguard plan --config "$LG_CONF" | tee "$OUT/plan-after.txt"
grep -q 'plan: nothing to do' "$OUT/plan-after.txt" || fail "not converged after apply"
say "declared LUNs attached with narrowed scans; nothing else"
