# Issue 3, proof 4 — in use: two unwanted LUNs, one mounted, one held open by a process. Neither
# may be removed; the plan says why. The state declares LUNs 0 and 3 only.
. /share/lib.sh
iscsi_mpath_up
m1=$(map_of "$h1:0:0:1") m2=$(map_of "$h1:0:0:2")
modprobe ext4
run mkfs.ext4 -q "/dev/mapper/$m2"
mkdir -p /mnt/in-use && run mount "/dev/mapper/$m2" /mnt/in-use
sleep 100000 <"/dev/mapper/$m1" &
holder=$!
lg_config 0s
for l in 0 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
before=$(ls /sys/class/scsi_device | tr '\n' ' ')
lunguard plan --config "$LG_CONF" | tee "$OUT/plan.txt"
# Issue 8: the open counts and the kernel's path states come from device-mapper's ioctls, not
# from a dmsetup process; dmsetup's own view is kept beside them for the test to compare.
lunguard -vv plan --config "$LG_CONF" >/dev/null 2>"$OUT/plan-debug.txt"
grep 'device-mapper' "$OUT/plan-debug.txt" >"$OUT/dm-ioctl.txt"
dmsetup info -c --noheadings --separator ' ' -o name,open "$m1" >"$OUT/dmsetup-open.txt"
grep -q 'asking dmsetup instead' "$OUT/plan-debug.txt" && fail "dmsetup was asked: $(cat "$OUT/dm-ioctl.txt")"
lunguard apply --once --config "$LG_CONF" | tee "$OUT/apply.txt"
rc_line=$(lunguard apply --once --config "$LG_CONF" >/dev/null; echo $?)
after=$(ls /sys/class/scsi_device | tr '\n' ' ')
[ "$before" = "$after" ] || fail "paths changed: before $before after $after"
[ -e "/dev/mapper/$m1" ] && [ -e "/dev/mapper/$m2" ] || fail "an in-use map was removed"
grep -q "in use" "$OUT/plan.txt" || fail "plan does not say in use"
grep -q "/mnt/in-use" "$OUT/plan.txt" || fail "plan does not name the mount point"
[ "$rc_line" = 1 ] || fail "apply exit status $rc_line, expected 1 (findings)"
kill "$holder"
umount /mnt/in-use
say "in-use LUNs kept; the plan says why"
