# Issue 12 — nobody claims an unwanted LUN. One boot, the daemon running with grace 30 s.
# Part 1, multipathd's wwids file follows the intents (find_multipaths strict, no quarantine rule):
#   (a) the daemon registers a declared LUN's WWID (multipath -a) before its narrowed scan, and
#       multipathd maps it; LUN 2, declared too, was registered by another tool first;
#   (b) a broad rescan brings back LUN 1 on both sessions: multipathd does not map it during the
#       grace, and lunguard deletes its bare paths after it (no map flush);
#   (c) a detach of LUN 0 removes its WWID from the file (multipath -w); the detach of LUN 2 leaves
#       the other tool's entry, and an unrelated entry stays throughout.
# Part 2, quarantine from the first uevent (rules/59-lunguard-quarantine.rules installed, with
#   sg3-utils-udev's rules as on a Debian host with multipath-tools, and lvm2):
#   target $T2 has two LUNs, each carrying an LVM volume group (vg_decl on LUN 0, vg_rogue on LUN 1).
#   (d) LUN 0 is declared: its narrowed scan adds it unquarantined and udev's LVM rules activate
#       vg_decl as usual;
#   (e) a broad rescan adds LUN 1: quarantined from its add (no ID_FS_TYPE, SYSTEMD_READY=0), vg_rogue
#       is not activated during the grace, and the LUN is removed after it;
#   (f) the daemon stops: the list is gone and the rule does nothing — the same rescan now lets
#       LVM activate vg_rogue (what the quarantine prevented).
. /share/lib.sh
GRACE=30
T2=iqn.2026-11.test.lunguard:target2
mp() { w=$(lio_wwid "$1" "$2"); echo "3${w#naa.}"; } # multipath form of a LIO LUN's WWID
WWIDS=/etc/multipath/wwids
listed() { grep -qx "/$1/" "$WWIDS" 2>/dev/null; }
RES=$OUT/claimants.txt
: >"$RES"
note() { echo "$*" | tee -a "$RES"; }

lio_up
lio_target "$T" 3 "$P1" "$P2"
lio_target "$T2" 2 "$P1"
iscsid_up manual
mkdir -p /etc/multipath
sed -i 's/find_multipaths .*/find_multipaths strict/' /etc/multipath.conf
multipathd_up
FOREIGN=36001405000000000000000000000f00d
run multipath -a "$FOREIGN"
run multipath -a "$(mp "$T" 2)"

say "part 1: the daemon attaches LUNs 0 and 2 of $T (multipath, strict)"
lg_config "${GRACE}s"
for l in 0 2; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
run lunguard check --config "$LG_CONF"
lg_daemon_up -vv
wait_for 90 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" = 2 ]' || fail "(a) maps: $(multipath -ll 2>&1; tail -n 40 "$OUT/daemon.log")"
h1=$(host_of "$T" "$P1") h2=$(host_of "$T" "$P2")
wait_for 30 maps_are 2 || fail "(a) two maps of two paths: $(multipath -ll)"
only_luns "$h1" "$h2" "0 2" || fail "(a) LUNs: $(ls /sys/class/scsi_device)"
listed "$(mp "$T" 0)" || fail "(a) LUN 0's WWID not registered: $(cat "$WWIDS")"
[ "$(log_lines 'register .* in multipathd.s wwids file')" -ge 1 ] || fail "(a) no register step in the log"
grep 'wwids file' "$OUT/daemon.log" | grep -q "$(mp "$T" 2)" && fail "(a) LUN 2 was registered by another tool: lunguard must not claim it"
note "a_registered=yes maps=$(map_count)"

say "(b) broad rescan re-adds LUN 1: no map during the grace, bare paths deleted after it"
t_add=$(uptime_s)
echo "- - -" >"/sys/class/scsi_host/host$h1/scan"
echo "- - -" >"/sys/class/scsi_host/host$h2/scan"
settle
[ -e "/sys/class/scsi_device/$h1:0:0:1" ] || fail "(b) the rescan did not re-add LUN 1"
sleep 10
[ -e "/sys/class/scsi_device/$h1:0:0:1" ] || fail "(b) LUN 1 removed within the grace"
[ -z "$(map_of "$h1:0:0:1")" ] && [ -z "$(map_of "$h2:0:0:1")" ] || fail "(b) multipathd mapped the rogue LUN: $(multipath -ll)"
listed "$(mp "$T" 1)" && fail "(b) the rogue LUN's WWID is in the wwids file"
mapped_in_grace=$(map_count)
wait_for 60 sh -c "! [ -e /sys/class/scsi_device/$h1:0:0:1 ] && ! [ -e /sys/class/scsi_device/$h2:0:0:1 ]" \
    || fail "(b) LUN 1 not removed after the grace: $(ls /sys/class/scsi_device)"
took=$(since_s "$t_add")
at_least "$took" "$GRACE" || fail "(b) removed after $took s, before the ${GRACE}s grace"
grep -q "flush map $(mp "$T" 1)" "$OUT/daemon.log" && fail "(b) a map of the rogue LUN was flushed"
note "b_rogue_mapped=no maps_during_grace=$mapped_in_grace b_removed_after_s=$took"

say "(c) detach LUN 0, then LUN 2"
lg_draft only2.toml vol-2 "$T" 2 "$(lio_wwid "$T" 2)" "$P1" "$P2"
lg_state_write vols.toml <"$LG_DRAFT/only2.toml"
wait_for 60 sh -c "! [ -e /sys/class/scsi_device/$h1:0:0:0 ] && ! [ -e /sys/class/scsi_device/$h2:0:0:0 ]" \
    || fail "(c) LUN 0 not detached: $(ls /sys/class/scsi_device)"
wait_for 30 sh -c "! grep -qx '/$(mp "$T" 0)/' $WWIDS" || fail "(c) LUN 0's WWID still in the file: $(cat "$WWIDS")"
lg_state_write vols.toml </dev/null
wait_for 60 sh -c "! [ -e /sys/class/scsi_device/$h1:0:0:2 ]" || fail "(c) LUN 2 not detached"
wait_for 30 sh -c "[ -z \"\$(ls /sys/class/iscsi_session)\" ]" || fail "(c) sessions left: $(ls /sys/class/iscsi_session)"
sleep 3
listed "$(mp "$T" 2)" || fail "(c) the other tool's entry for LUN 2 was removed"
listed "$FOREIGN" || fail "(c) the unrelated entry was removed"
cp "$WWIDS" "$OUT/wwids-after-detach.txt"
note "c_forgotten=yes foreign_kept=yes"
grep -E "wwids file" "$OUT/daemon.log" >"$OUT/wwids-log.txt" || true

say "part 2: LVM on both LUNs of $T2, made outside lunguard's scope"
run iscsiadm -m discovery -t sendtargets -p "$P1"
run iscsiadm -m node -T "$T2" -p "$P1" -o update -n node.session.scan -v manual
run iscsiadm -m node -T "$T2" -p "$P1" --login
hb=$(host_of "$T2" "$P1")
echo "0 0 0" >"/sys/class/scsi_host/host$hb/scan"
echo "0 0 1" >"/sys/class/scsi_host/host$hb/scan"
settle
d0=$(ls "/sys/class/scsi_device/$hb:0:0:0/device/block") d1=$(ls "/sys/class/scsi_device/$hb:0:0:1/device/block")
run pvcreate -q "/dev/$d0" "/dev/$d1"
run vgcreate -q -s 1M vg_decl "/dev/$d0"
run vgcreate -q -s 1M vg_rogue "/dev/$d1"
run lvcreate -q -y -n lv0 -L 4M vg_decl
run lvcreate -q -y -n lv0 -L 4M vg_rogue
run vgchange -q -an vg_decl vg_rogue
for l in 0 1; do echo 1 >"/sys/class/scsi_device/$hb:0:0:$l/device/delete"; done
settle
run iscsiadm -m node -T "$T2" -p "$P1" --logout
run iscsiadm -m node -T "$T2" -p "$P1" -o delete
active() { dmsetup info -c --noheadings -o name 2>/dev/null | grep -qx "$1-lv0"; }
active vg_decl || active vg_rogue && fail "volume groups active before the attach"

say "(d) declare $T2 LUN 0 (single path); the quarantine rule is installed"
cp /share/rules/59-lunguard-quarantine.rules /usr/share/lunguard-test/sg3-rules/*.rules /etc/udev/rules.d/
udevadm control --reload
lg_draft lvm.toml vol-lvm "$T2" 0 "$(lio_wwid "$T2" 0)" "$P1"
lg_state_write vols.toml <"$LG_DRAFT/lvm.toml"
wait_for 60 active vg_decl || fail "(d) vg_decl not activated by udev: $(dmsetup ls; ls /sys/class/scsi_device; tail -n 30 "$OUT/daemon.log")"
hb=$(host_of "$T2" "$P1")
[ -e "/run/lunguard/quarantine/hosts/host$hb" ] || fail "(d) host$hb not in the quarantine list: $(find /run/lunguard/quarantine)"
[ -e "/run/lunguard/quarantine/declared/$hb:0:0:0" ] || fail "(d) the declared address is not listed"
d0=$(ls "/sys/class/scsi_device/$hb:0:0:0/device/block")
udevadm info -q property -n "/dev/$d0" >"$OUT/declared-udev.txt"
grep -q '^ID_FS_TYPE=LVM2_member$' "$OUT/declared-udev.txt" || fail "(d) declared LUN not probed: $(cat "$OUT/declared-udev.txt")"
grep -q '^LUNGUARD_QUARANTINE=' "$OUT/declared-udev.txt" && fail "(d) the declared LUN was quarantined"
note "d_declared_activated=yes"

say "(e) broad rescan adds LUN 1 carrying vg_rogue"
t_add=$(uptime_s)
echo "- - -" >"/sys/class/scsi_host/host$hb/scan"
settle
[ -e "/sys/class/scsi_device/$hb:0:0:1" ] || fail "(e) the rescan did not add LUN 1"
d1=$(ls "/sys/class/scsi_device/$hb:0:0:1/device/block")
udevadm info -q property -n "/dev/$d1" >"$OUT/rogue-udev.txt"
grep -q '^LUNGUARD_QUARANTINE=1$' "$OUT/rogue-udev.txt" || fail "(e) not quarantined: $(cat "$OUT/rogue-udev.txt")"
grep -q '^SYSTEMD_READY=0$' "$OUT/rogue-udev.txt" || fail "(e) SYSTEMD_READY not 0"
grep -q '^ID_FS_TYPE=' "$OUT/rogue-udev.txt" && fail "(e) blkid probed the quarantined LUN"
# sg3-utils-udev ran (its SCSI_IDENT_* are there); the identities multipathd reads were unset.
grep -q '^SCSI_IDENT_LUN_NAA_REG' "$OUT/rogue-udev.txt" || fail "(e) sg3-utils-udev's rules did not run"
grep -qE '^(ID_WWN|ID_SERIAL)=' "$OUT/rogue-udev.txt" && fail "(e) the rogue LUN kept an identity for multipathd"
samples=0
until at_least "$(since_s "$t_add")" $((GRACE - 3)); do
    active vg_rogue && fail "(e) vg_rogue activated $(since_s "$t_add") s into the grace"
    [ -e "/sys/class/scsi_device/$hb:0:0:1" ] || fail "(e) LUN 1 removed $(since_s "$t_add") s into the ${GRACE}s grace"
    samples=$((samples + 1))
    sleep 1
done
wait_for 60 sh -c "! [ -e /sys/class/scsi_device/$hb:0:0:1 ]" || fail "(e) LUN 1 not removed after the grace: $(tail -n 30 "$OUT/daemon.log")"
took=$(since_s "$t_add")
active vg_rogue && fail "(e) vg_rogue active"
active vg_decl || fail "(e) vg_decl lost"
note "e_rogue_quarantined=yes rogue_activated=no samples=$samples e_removed_after_s=$took"

say "(f) the daemon stops: the rule does nothing"
lg_daemon_stop
[ -e /run/lunguard/quarantine ] && fail "(f) the quarantine list outlived the daemon: $(find /run/lunguard/quarantine)"
echo "- - -" >"/sys/class/scsi_host/host$hb/scan"
settle
[ -e "/sys/class/scsi_device/$hb:0:0:1" ] || fail "(f) the rescan did not add LUN 1"
wait_for 30 active vg_rogue || fail "(f) without lunguard, LVM did not activate vg_rogue (the control failed)"
udevadm info -q property -n "/dev/$(ls "/sys/class/scsi_device/$hb:0:0:1/device/block")" | grep -q '^LUNGUARD_QUARANTINE=' \
    && fail "(f) quarantined without lunguard"
note "f_without_lunguard_activated=yes"
say "claimants: $(tr '\n' ' ' <"$RES")"
