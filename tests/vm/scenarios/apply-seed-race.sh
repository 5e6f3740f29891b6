# Issue 3, proof 1 — the seed race (shared/seeds/openstack-faulty-device.txt): LUN 2 is detached
# cleanly (map flushed, both paths deleted) by another tool, then that tool's broad rescan
# (echo "- - -" > scan) brings it back because the target still exports it. The state files
# declare LUNs 0, 1 and 3. `lunguard apply --once` must remove exactly LUN 2's paths and map.
# With FRIENDLY=1 (apply-friendly-names.sh) multipathd names maps mpathX.
. /share/lib.sh
iscsi_mpath_up ${FRIENDLY:+friendly}
lg_config 0s
for l in 0 1 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(wwid_of "$h1:0:0:$l")" "$P1" "$P2"; done
run lunguard check --config "$LG_CONF"

# The race.
map2=$(map_of "$h1:0:0:2")
[ -n "$map2" ] || fail "no map for LUN 2"
run multipath -f "$map2"
for h in $h1 $h2; do echo 1 >"/sys/class/scsi_device/$h:0:0:2/device/delete"; done
settle
for h in $h1 $h2; do echo "- - -" >"/sys/class/scsi_host/host$h/scan"; done
settle
wait_for 20 sh -c "[ -n \"\$(. /share/lib.sh; map_of $h1:0:0:2)\" ]" || fail "leftover map did not form"
leftover=$(map_of "$h1:0:0:2")
say "leftover: $leftover over $h1:0:0:2 and $h2:0:0:2"
echo "$leftover" >"$OUT/leftover-map.txt"
before=$(ls /sys/class/scsi_device | sort | tr '\n' ' ')

lunguard plan --config "$LG_CONF" | tee "$OUT/plan.txt"
lunguard apply --once --config "$LG_CONF" | tee "$OUT/apply.txt"
settle
after=$(ls /sys/class/scsi_device | sort | tr '\n' ' ')
say "before: $before"
say "after:  $after"
for h in $h1 $h2; do
    [ ! -e "/sys/class/scsi_device/$h:0:0:2" ] || fail "leftover path $h:0:0:2 still there"
    for l in 0 1 3; do
        [ -e "/sys/class/scsi_device/$h:0:0:$l" ] || fail "intended path $h:0:0:$l was removed"
    done
done
[ "$(ls /sys/block | grep -c ^dm-)" = 3 ] || fail "expected 3 maps left: $(multipath -ll)"
for l in 0 1 3; do [ -n "$(map_of "$h1:0:0:$l")" ] || fail "map of LUN $l gone"; done
[ "$(iscsiadm -m session 2>/dev/null | wc -l)" = 2 ] || fail "sessions changed: $(iscsiadm -m session)"
# A second pass has nothing left to do.
lunguard plan --config "$LG_CONF" | tee "$OUT/plan-after.txt"
multipath -ll >"$OUT/multipath-after.txt" 2>/dev/null
say "seed race leftover removed; intended LUNs untouched"
