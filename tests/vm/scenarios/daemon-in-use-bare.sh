# Issue 7, item 1 — in-use checks fail closed, as shipped. Four single-path (bare, no multipathd)
# LUNs of one target, declared and attached: one opened by a process of another uid through a node
# chowned to that uid (libvirt + qemu), one mounted only inside another mount namespace, one used as
# swap, one idle. Every intent is then removed.
#   Phase 1: the daemon under the unit's OLD bounding set (CAP_SYS_ADMIN CAP_NET_ADMIN, the one
#            this issue found unsafe). Without CAP_SYS_PTRACE no /proc/PID/fd of a process with
#            more capabilities than lunguard (init, iscsid, any full root process) nor of another
#            user is readable, so whether a bare disk is open is unknown: every removal is refused,
#            naming pids (fail closed; the old code read "unreadable" as "not open").
#   Phase 2: the daemon under the shipped unit's bounding set: the idle disk is detached; the three
#            are kept with an alert each ("open by pid", "claimed in the kernel", "swap"); the
#            session stays.
#   Phase 3: released (process ended, namespace gone, swapoff): the detach finishes and the session
#            is logged out.
. /share/lib.sh
lio_up
lio_target "$T" 4 "$P1"
iscsid_up manual
iscsi_login "$T" "$P1"
scan_luns "$P1" 0 1 2 3
h=$(session_host "$P1")
disk() { ls "/sys/class/scsi_device/$h:0:0:$1/device/block" 2>/dev/null; }
d0=$(disk 0) d1=$(disk 1) d2=$(disk 2) d3=$(disk 3)
[ -n "$d0" ] && [ -n "$d1" ] && [ -n "$d2" ] && [ -n "$d3" ] || fail "LUNs 0-3 not attached: $(ls /sys/class/scsi_device)"
say "bare disks: $d0 (other uid) $d1 (other mount namespace) $d2 (swap) $d3 (idle)"

# lunguard attaches them (and so takes the target as its own), then the uses appear.
lg_config 0s
lg_config_add "[daemon]" 'resync_interval = "3s"'
for l in 0 1 2 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1"; done
run lunguard apply --once --config "$LG_CONF" >"$OUT/apply-attach.txt" 2>&1

# LUN 0: the node chowned to uid 1000, held open by a process running as that uid.
chown 1000:1000 "/dev/$d0" && chmod 600 "/dev/$d0"
/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups sh -c "exec sleep 100000 <'/dev/$d0'" &
user_pid=$!
# LUN 1: ext4 mounted only in a private mount namespace.
modprobe ext4
run mkfs.ext4 -q "/dev/$d1"
mkdir -p /mnt/ns
unshare -m --propagation private sh -c "mount '/dev/$d1' /mnt/ns && touch /tmp/ns-mounted && exec sleep 100000" &
ns_pid=$!
# LUN 2: swap.
run mkswap "/dev/$d2" >/dev/null
run swapon "/dev/$d2"
wait_for 10 test -f /tmp/ns-mounted || fail "the namespace's mount failed"
wait_for 10 sh -c "ls -l /proc/$user_pid/fd/0 | grep -q '/dev/$d0'" || fail "uid 1000 process has no fd on $d0"
grep -q "/mnt/ns" /proc/self/mountinfo && fail "the namespace's mount leaks into the root namespace"
echo "$user_pid" >"$OUT/user-pid.txt"
echo "$d0 $d1 $d2 $d3" >"$OUT/disks.txt"

# Every intent removed.
: | lg_state_write vols.toml

# --- phase 1: the old bounding set -----------------------------------------------------------------
LG_WRAP="/usr/bin/setpriv --bounding-set -all,+sys_admin,+net_admin"
lg_daemon_up -v
grep CapBnd "/proc/$LG_PID/status" >"$OUT/capbnd-old.txt"
sleep 8 # several resync passes
for l in 0 1 2 3; do [ -e "/sys/class/scsi_device/$h:0:0:$l" ] || fail "phase 1: LUN $l was removed while its use could not be known"; done
lg_daemon_stop
cp "$OUT/daemon.log" "$OUT/daemon-phase1.log"
: >"$OUT/daemon.log"

# --- phase 2: the shipped unit's bounding set --------------------------------------------------------
LG_WRAP="/usr/bin/setpriv --bounding-set $(unit_bounding_set)"
lg_daemon_up -v
grep CapBnd "/proc/$LG_PID/status" >"$OUT/capbnd-unit.txt"
wait_for 60 sh -c "[ ! -e /sys/class/scsi_device/$h:0:0:3 ]" \
    || fail "phase 2: the idle disk was not detached: $(tail -n 40 "$OUT/daemon.log")"
sleep 8 # several resync passes
for l in 0 1 2; do [ -e "/sys/class/scsi_device/$h:0:0:$l" ] || fail "phase 2: LUN $l (in use) was removed"; done
[ -n "$(ls /sys/class/iscsi_session 2>/dev/null)" ] || fail "phase 2: the session was logged out under in-use disks"
cp "$OUT/daemon.log" "$OUT/daemon-phase2.log"

# --- phase 3: released ------------------------------------------------------------------------------
kill "$user_pid" "$ns_pid"
run swapoff "/dev/$d2"
wait_for 90 sh -c "[ -z \"\$(ls /sys/class/iscsi_session 2>/dev/null)\" ]" \
    || fail "phase 3: not detached and logged out: $(ls /sys/class/scsi_device) $(tail -n 40 "$OUT/daemon.log")"
ls /sys/class/scsi_device >"$OUT/devices-after.txt" 2>&1
lg_daemon_stop
say "in-use bare disks kept under both bounding sets, detached once released"
