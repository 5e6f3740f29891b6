# Issue 7, item 3 — a logout acts on exactly one session. Two open-iscsi ifaces (default and if2,
# the second with its own initiator name, hence its own LIO ACL) are logged in to the same portal
# $P2: two sessions. The default iface's session carries LUN 1, mounted; the if2 session carries
# LUN 2, idle. The state declares only LUN 0 on $P1, so $P2 is undeclared: LUN 2 is removed, LUN 1
# is kept (in use), and only the if2 session may be logged out. `iscsiadm -m node -T -p --logout`
# without -I would end both and pull the mounted LUN.
. /share/lib.sh
INIT2=iqn.2026-11.test.lunguard:initiator-if2
lio_up
lio_target "$T" 3 "$P1" "$P2"
acl2=$CFG/iscsi/$T/tpgt_1/acls/$INIT2
mkdir -p "$acl2/lun_2" || fail "acl for $INIT2"
ln -s "$CFG/iscsi/$T/tpgt_1/lun/lun_2" "$acl2/lun_2/map_2"
iscsid_up manual
run iscsiadm -m iface -I if2 -o new
run iscsiadm -m iface -I if2 -o update -n iface.initiatorname -v "$INIT2"
run iscsiadm -m discovery -t sendtargets -p "$P2" -I default -I if2
run iscsiadm -m node -T "$T" -p "$P2" -I default --login
run iscsiadm -m node -T "$T" -p "$P2" -I if2 --login
settle
sa=$(session_of "$T" "$P2" default) || fail "no default-iface session"
sb=$(session_of "$T" "$P2" if2) || fail "no if2 session"
ha=$(host_of "$T" "$P2" default) hb=$(host_of "$T" "$P2" if2)
say "sessions to $P2: session$sa (default, host$ha), session$sb (if2, host$hb)"
[ "$sa" != "$sb" ] || fail "one session for two ifaces"
echo "0 0 1" >"/sys/class/scsi_host/host$ha/scan"
echo "0 0 2" >"/sys/class/scsi_host/host$hb/scan"
settle
[ -e "/sys/class/scsi_device/$ha:0:0:1" ] && [ -e "/sys/class/scsi_device/$hb:0:0:2" ] \
    || fail "narrowed scans: $(ls /sys/class/scsi_device)"
sd1=$(ls "/sys/class/scsi_device/$ha:0:0:1/device/block")
modprobe ext4
run mkfs.ext4 -q "/dev/$sd1"
mkdir -p /mnt/data && run mount "/dev/$sd1" /mnt/data
echo "kept by the default iface" >/mnt/data/proof
sync
iscsiadm -m session >"$OUT/sessions-before.txt" 2>&1
lg_config 0s
lg_attach vols.toml vol-0 "$T" 0 "$(lio_wwid "$T" 0)" "$P1"
run lunguard check --config "$LG_CONF"
lunguard plan --config "$LG_CONF" | tee "$OUT/plan.txt"
lunguard apply --once --config "$LG_CONF" 2>&1 | tee "$OUT/apply.txt"
settle
iscsiadm -m session >"$OUT/sessions-after.txt" 2>&1
cat "$OUT/sessions-after.txt"
[ "$(session_of "$T" "$P2" default)" = "$sa" ] || fail "the default iface's session (mounted LUN) was logged out"
[ -e "/sys/class/scsi_device/$ha:0:0:1" ] || fail "the mounted LUN 1 is gone"
grep -q /mnt/data /proc/mounts || fail "the mount is gone"
[ "$(cat /mnt/data/proof)" = "kept by the default iface" ] || fail "the mounted file system is unreadable"
! session_of "$T" "$P2" if2 >/dev/null || fail "the if2 session was not logged out"
[ ! -e "/sys/class/scsi_device/$hb:0:0:2" ] || fail "LUN 2 of the if2 session is still there"
grep -q "logout session$sb ($T at $P2 via iface if2)" "$OUT/apply.txt" || fail "no logout of session$sb by sid"
! iscsiadm -m node -T "$T" -p "$P2" -I if2 >/dev/null 2>&1 || fail "the if2 node record was not deleted"
iscsiadm -m node -T "$T" -p "$P2" -I default >/dev/null 2>&1 || fail "the default node record was deleted"
session_of "$T" "$P1" default >/dev/null || fail "the declared session to $P1 was not logged in"
echo "$sa $sb" >"$OUT/sids.txt"
umount /mnt/data
say "only session$sb (if2) was logged out; session$sa with the mounted LUN stays"
