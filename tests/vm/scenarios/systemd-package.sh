# Issue 9 — lunguard installed from its Debian package, run by a real systemd (PID 1), journald and
# udevd, on the real kernel; one boot, in this order (the systemd flavour: bash, not busybox ash;
# tests/vm/run.sh with LUNGUARD_VM_FLAVOUR=systemd shares the package as /share/lunguard.deb):
#   1 install    dpkg -i; the package enables and starts the service; `lunguard check` passes on
#                the fresh install (observe mode, empty state.d)
#   2 ready      `systemctl start` returned with ActiveState=active (Type=notify: READY=1 seen);
#                STATUS= text in `systemctl status`; started/ready alerts in the journal
#   3 guard      a LIO iSCSI target, 4 LUNs on 2 portals, multipathd's maps; the scenario sets
#                mode = "enforce" and grace = "1h" in the shipped conffile, declares LUNs 0, 1, 3
#                (the daemon's state.d watch: a state_reloaded alert) and reloads the service
#                (`systemctl reload`: HUP re-reads the config, mode included; same MainPID);
#                LUN 2 is reported unwanted and kept for the grace period; grace = "0s" in the
#                file, nothing happens until the next `systemctl reload`: then the guard, in
#                the enforce mode the first reload switched to, removes LUN 2 — under the
#                unit's sandbox as shipped, never restarted
#   4 marker     rogue rounds: a broad `iscsiadm -m session --rescan` brings LUNs 2 and 4 back
#                (quarantined from their add by the package's 59-lunguard-quarantine.rules, so
#                not mapped) and the guard removes them; the moment a marker appears in
#                /run/lunguard/removing the daemon is SIGSTOPped, a still-present marked device
#                gets a `change` event and `udevadm info` must show LUNGUARD_REMOVING=1 and
#                SYSTEMD_READY=0, and with the marker moved away for a moment no
#                LUNGUARD_REMOVING and no SYSTEMD_READY=0 but the quarantine's (LUNGUARD_QUARANTINE=1
#                with it; 40-lunguard-removing.rules in effect); SIGCONT, the removal finishes
#   4b attach    LUN 2 declared again: attached with narrowed scans; then the state file deleted:
#                maps flushed, paths deleted, both sessions logged out (iscsiadm) by the daemon;
#                the scenario logs in again and declares 0, 1, 3 for the rest; LUN 2's wwids
#                entry, taken out first, is registered by the daemon (multipath -a; the guest
#                starts without /etc/multipath, which the package must create for the unit) and
#                removed after the detach, multipathd's entries kept (history-register.txt)
#   5 watchdog   a runtime drop-in (/run/systemd/system/lunguard.service.d/) shortens WatchdogSec
#                to 5s for this test only; SIGSTOP of the main PID: systemd's watchdog kills it and
#                Restart=on-failure starts a new one (NRestarts+1, new MainPID, "Watchdog timeout")
#   6 stop       `systemctl stop` (shipped unit again): Result=success, exit status 0, a
#                daemon_stopping alert, /run/lunguard gone
#   7 upgrade    the same package repacked with a higher version, `dpkg -i`: restarted, database
#                and state kept (history, first-seen, files), still guarding
#   8 purge      `dpkg -P lunguard`: no file of the package, no /etc/lunguard, /var/lib/lunguard,
#                /run/lunguard, unit or enablement left
# Written to /share/out: version.txt, journal.json (`journalctl -u lunguard -o json`), journal-x.txt
# (`journalctl -u lunguard -x`), status.txt, show-*.txt, marker-on-DEV.txt/marker-off-DEV.txt, watchdog.txt, history-*.txt,
# purge-leftovers.txt, steps.txt (uptime at each step), security.txt (`systemd-analyze security`).
. /share/lib.sh
export SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
T0=$(uptime_s)
step() { say "== $*"; printf '%s %s\n' "$(since_s "$T0")" "$*" >>"$OUT/steps.txt"; }
show() { systemctl show lunguard -p "$1" --value; }
main_pid() { show MainPID; }
# jkind KIND: how many alerts of that kind the unit's daemon has sent to the journal
jkind() { journalctl -q --no-pager -o json _SYSTEMD_UNIT=lunguard.service "LUNGUARD_KIND=$1" | grep -c . || true; }
# wait_kind KIND N: until there are more than N alerts of that kind
wait_kind() { wait_for "${3:-60}" sh -c "[ \"\$(journalctl -q --no-pager -o json _SYSTEMD_UNIT=lunguard.service LUNGUARD_KIND=$1 | grep -c .)\" -gt $2 ]"; }
active() { [ "$(show ActiveState)" = active ]; }
# journal_out: the unit's journal for the host, as JSON and with the catalog's explanations
# (before the purge: that removes the catalog too). On a failure the trap writes it.
journal_out() {
    journalctl -u lunguard -o json --no-pager >"$OUT/journal.json"
    journalctl -u lunguard -x --no-pager >"$OUT/journal-x.txt"
}
trap '[ -f "$OUT/journal-x.txt" ] || journal_out' EXIT
CONF=/etc/lunguard/lunguard.toml

step "1 install"
# A host where multipath never built a map has no /etc/multipath; the unit's ReadWritePaths skips
# a missing path, so the daemon could never register a WWID unless the package creates it.
rm -rf /etc/multipath
run dpkg-deb -f /share/lunguard.deb Package Version Architecture
dpkg -i /share/lunguard.deb >"$OUT/dpkg-install.txt" 2>&1 || fail "dpkg -i: $(cat "$OUT/dpkg-install.txt")"
cat "$OUT/dpkg-install.txt"
V0=$(dpkg-query -W -f '${Version}' lunguard) || fail "lunguard not installed"
[ -x /usr/sbin/lunguard ] || fail "no /usr/sbin/lunguard"
[ -d /etc/multipath ] || fail "the package did not create /etc/multipath (the unit's writable path for multipath -a/-w)"
lunguard --version >"$OUT/version.txt" 2>&1 || fail "lunguard --version: $(cat "$OUT/version.txt")"
[ "$(systemctl is-enabled lunguard)" = enabled ] || fail "the package did not enable lunguard.service: $(systemctl is-enabled lunguard)"
wait_for 60 active || fail "the package did not start lunguard: $(systemctl status lunguard --no-pager)"
lunguard check >"$OUT/check-fresh.txt" 2>&1 || fail "lunguard check on the fresh install: $(cat "$OUT/check-fresh.txt")"
cp "$CONF" "$OUT/lunguard.toml.shipped"
grep -q '^mode = "observe"' "$CONF" || fail "the shipped config does not set mode = \"observe\""

step "2 ready and status"
run systemctl stop lunguard
run systemctl start lunguard
# Type=notify: `systemctl restart` returns once READY=1 came (or fails); active means READY.
systemctl show lunguard -p ActiveState -p SubState -p MainPID -p StatusText -p NRestarts -p Result \
    -p Type -p NotifyAccess -p WatchdogUSec >"$OUT/show-start.txt"
cat "$OUT/show-start.txt"
active || fail "not active after start: $(cat "$OUT/show-start.txt")"
[ -n "$(show StatusText)" ] || fail "no STATUS= text: $(cat "$OUT/show-start.txt")"
systemctl status lunguard --no-pager -n 0 >"$OUT/status.txt" 2>&1
grep -q "Status: \"$(show StatusText | head -c 20)" "$OUT/status.txt" || fail "systemctl status shows no Status: line: $(cat "$OUT/status.txt")"
wait_kind daemon_ready 0 || fail "no daemon_ready alert in the journal: $(journalctl -u lunguard --no-pager | tail -n 20)"
systemd-analyze security lunguard --no-pager >"$OUT/security.txt" 2>&1 || true
tail -n 1 "$OUT/security.txt"

step "3 lab, enforce, reload"
lio_up
# LUN 4 stays a bare disk (multipath blacklists its WWID): its paths get no SYSTEMD_READY=0 from
# multipath's rules, so step 4 can tell the removing rule's SYSTEMD_READY=0 from multipath's.
lio_target "$T" 5 "$P1" "$P2"
printf 'blacklist {\n    wwid "^3%s$"\n}\n' "$(lio_wwid "$T" 4 | sed 's/^naa\.//')" >>/etc/multipath.conf
sed -i "s/^node.session.scan = .*/node.session.scan = manual/" /etc/iscsi/iscsid.conf
grep -q '^node.session.scan = manual' /etc/iscsi/iscsid.conf || echo "node.session.scan = manual" >>/etc/iscsi/iscsid.conf
run modprobe iscsi_tcp
run systemctl restart iscsid.service
run systemctl restart multipathd.service
iscsi_login "$T" "$P1" "$P2"
scan_luns "$P1" 0 1 2 3 4
scan_luns "$P2" 0 1 2 3 4
wait_for 60 maps_are 4 || fail "expected 4 maps: $(multipath -ll 2>&1)"
h1=$(session_host "$P1") h2=$(session_host "$P2")
only_luns "$h1" "$h2" "0 1 2 3 4" || fail "LUNs before: $(ls /sys/class/scsi_device)"
# The shipped conffile, edited the way an operator would (docs/operations.md: "switch to enforce,
# then systemctl reload"): enforce, a grace period of 1h for now. A reload that switched the mode
# once kept the dry run (the actuator was chosen at start); this step is what found it.
sed -i 's/^mode = .*/mode = "enforce"/' "$CONF"
set_grace() {
    if grep -q '^grace *=' "$CONF"; then sed -i "s/^grace *=.*/grace = \"$1\"/" "$CONF"
    elif grep -q '^\[policy\]' "$CONF"; then sed -i "/^\[policy\]/a grace = \"$1\"" "$CONF"
    else printf '\n[policy]\ngrace = "%s"\n' "$1" >>"$CONF"; fi
}
set_grace 1h
lunguard check >"$OUT/check-enforce.txt" 2>&1 || fail "lunguard check: $(cat "$OUT/check-enforce.txt")"
pid=$(main_pid)
run systemctl reload lunguard
# Then the declaration: the daemon's state.d watch reloads it and, now in enforce mode with the
# 1h grace, LUN 2 (and the bare LUN 4) are reported unwanted and kept.
rm -rf "$LG_DRAFT"
for l in 0 1 3; do lg_draft vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
n_unw=$(jkind unwanted_device)
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
wait_kind unwanted_device "$n_unw" || fail "LUN 2 not reported unwanted: $(journalctl -u lunguard --no-pager | tail -n 30)"
journalctl -q --no-pager -o cat _SYSTEMD_UNIT=lunguard.service LUNGUARD_KIND=unwanted_device | tail -n 3 >"$OUT/unwanted-grace.txt"
grep -q 'grace period' "$OUT/unwanted-grace.txt" || fail "no grace period in: $(cat "$OUT/unwanted-grace.txt")"
only_luns "$h1" "$h2" "0 1 2 3 4" || fail "LUN 2 or 4 removed within the 1h grace period: $(ls /sys/class/scsi_device)"
# The config file is not watched: only SIGHUP makes the daemon see grace = "0s".
set_grace 0s
lunguard check >/dev/null 2>&1 || fail "lunguard check with grace 0s"
sleep 2
only_luns "$h1" "$h2" "0 1 2 3 4" || fail "LUN 2 or 4 removed before the reload: $(ls /sys/class/scsi_device)"
n_rm=$(jkind device_removed)
run systemctl reload lunguard
wait_for 60 only_luns "$h1" "$h2" "0 1 3" || fail "the guard did not remove the undeclared LUNs 2 and 4 after reload: $(ls /sys/class/scsi_device); $(journalctl -u lunguard --no-pager | tail -n 40)"
wait_kind device_removed "$n_rm" || fail "no device_removed alert"
[ "$(main_pid)" = "$pid" ] || fail "reload restarted the daemon ($pid -> $(main_pid))"
[ "$(jkind state_reloaded)" -gt 0 ] || fail "no state_reloaded alert at all"
only_luns "$h1" "$h2" "0 1 3" || fail "declared LUNs touched: $(ls /sys/class/scsi_device)"
wait_for 30 maps_are 3 || fail "maps after the removal: $(multipath -ll 2>&1)"

step "4 rogue rounds with the removing marker"
[ -d /run/lunguard/removing ] || fail "no /run/lunguard/removing after a removal"
# A declared, unmarked disk: the control (the rule must not fire there).
ctl=$(ls "/sys/class/scsi_device/$h1:0:0:0/device/block")
udevadm info "/dev/$ctl" >"$OUT/marker-control.txt"
caught=0 round=0
# mark_ab MM DEV: `udevadm info` of a marked device with its marker (marker-on-DEV.txt), then with
# the marker moved away for a moment (marker-off-DEV.txt): the rule is the only difference.
mark_ab() {
    udevadm trigger --action=change --settle "/sys/dev/block/$1"
    udevadm info "/dev/$2" >"$OUT/marker-on-$2.txt" 2>&1
    mv "/run/lunguard/removing/$1" /tmp/held-marker
    udevadm trigger --action=change --settle "/sys/dev/block/$1"
    udevadm info "/dev/$2" >"$OUT/marker-off-$2.txt" 2>&1
    mv /tmp/held-marker "/run/lunguard/removing/$1"
    # Without its marker a rogue disk keeps only the quarantine's SYSTEMD_READY=0 (issue 12).
    grep -q '^E: LUNGUARD_REMOVING=1$' "$OUT/marker-on-$2.txt" &&
        grep -q '^E: SYSTEMD_READY=0$' "$OUT/marker-on-$2.txt" &&
        ! grep -q '^E: LUNGUARD_REMOVING' "$OUT/marker-off-$2.txt" &&
        { ! grep -q '^E: SYSTEMD_READY=0$' "$OUT/marker-off-$2.txt" ||
            grep -q '^E: LUNGUARD_QUARANTINE=1$' "$OUT/marker-off-$2.txt"; }
}
while [ "$round" -lt 8 ] && [ "$caught" = 0 ]; do
    round=$((round + 1))
    pid=$(main_pid)
    rm -f /tmp/inw.err /tmp/inw.done
    ( inotifywait -e create --format %f /run/lunguard/removing 2>/tmp/inw.err >/tmp/inw.out && kill -STOP "$pid"
      touch /tmp/inw.done ) &
    w=$!
    wait_for 10 grep -q 'Watches established' /tmp/inw.err || fail "inotifywait did not start: $(cat /tmp/inw.err)"
    iscsiadm -m session --rescan >/dev/null || fail "iscsiadm -m session --rescan"
    wait_for 60 test -e /tmp/inw.done || fail "round $round: no marker created: $(ls /sys/class/scsi_device)"
    if grep -q '^State:.*stopped' "/proc/$pid/status"; then
        ls -l /run/lunguard/removing >"$OUT/marker-files-$round.txt"
        for m in /run/lunguard/removing/*; do
            mm=${m##*/}
            [ -e "/sys/dev/block/$mm" ] || continue
            dev=$(basename "$(readlink -f "/sys/dev/block/$mm")")
            if mark_ab "$mm" "$dev"; then caught=$((caught + 1)); fi
        done
        kill -CONT "$pid"
    fi
    wait "$w" 2>/dev/null
    wait_for 60 only_luns "$h1" "$h2" "0 1 3" || fail "round $round: LUNs 2 and 4 not removed: $(ls /sys/class/scsi_device)"
    say "round $round: $caught marked device(s) caught mid-removal, rule on/off"
done
echo "$round $caught" >"$OUT/marker-rounds.txt"
[ "$caught" -gt 0 ] || fail "no round caught a marked device with LUNGUARD_REMOVING=1 and SYSTEMD_READY=0 that lost both (but the quarantine's) without its marker ($round rounds): $(cat "$OUT"/marker-o*.txt 2>/dev/null | grep -e '^P:' -e LUNGUARD -e SYSTEMD_READY)"
# The package's quarantine rule under systemd-udevd: the rogue disks caught were quarantined from
# their add, the declared control disk never.
grep -l '^E: LUNGUARD_QUARANTINE=1$' "$OUT"/marker-off-*.txt >/dev/null 2>&1 \
    || fail "no rogue disk was quarantined: $(cat "$OUT"/marker-off-*.txt | grep -e '^P:' -e LUNGUARD)"
grep -q LUNGUARD_QUARANTINE "$OUT/marker-control.txt" && fail "the declared control disk was quarantined"
only_luns "$h1" "$h2" "0 1 3" || fail "declared LUNs touched: $(ls /sys/class/scsi_device)"

step "4b attach and detach under the sandbox"
# LUN 2 declared again: attached by narrowed scans (writes to /sys/class/scsi_host/hostN/scan);
# then every attachment deleted: maps flushed, paths deleted, both sessions logged out (iscsiadm
# run by the daemon, talking to iscsid) — all from inside the unit's sandbox.
# LUN 2's entry, which multipathd wrote when it mapped it in step 3, taken out: the daemon must
# register it again (multipath -a from inside the sandbox) and, after the detach, remove it
# (multipath -w), its own entry only: the other LUNs' entries are multipathd's and stay.
id2="3$(lio_wwid "$T" 2 | sed 's/^naa\.//')"
run multipath -w "$id2"
grep -qx "/$id2/" /etc/multipath/wwids && fail "multipath -w left $id2 in the wwids file"
n_att=$(jkind attach_done)
rm -rf "$LG_DRAFT"
for l in 0 1 2 3; do lg_draft vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
wait_for 90 only_luns "$h1" "$h2" "0 1 2 3" || fail "declared LUN 2 not attached: $(ls /sys/class/scsi_device); $(journalctl -u lunguard --no-pager | tail -n 30)"
wait_for 60 maps_are 4 || fail "maps after the attach: $(multipath -ll 2>&1)"
wait_kind attach_done "$n_att" || fail "no attach_done alert"
lunguard history --kind register_wwid >"$OUT/history-register.txt" 2>&1 || true
grep -q "$id2.*changed" "$OUT/history-register.txt" \
    || fail "the daemon did not register LUN 2's WWID: $(cat "$OUT/history-register.txt"); $(journalctl -u lunguard --no-pager | grep -i wwid | tail -n 5)"
grep -qx "/$id2/" /etc/multipath/wwids || fail "$id2 not in the wwids file after the attach"
n_out=$(jkind session_logged_out)
rm -f /etc/lunguard/state.d/vols.toml
wait_for 120 sh -c '! ls /sys/class/iscsi_session/ | grep -q session' \
    || fail "sessions not logged out after the attachments were deleted: $(ls /sys/class/iscsi_session); $(journalctl -u lunguard --no-pager | tail -n 30)"
[ "$(map_count)" = 0 ] || fail "maps left after the detach: $(multipath -ll 2>&1)"
wait_kind session_logged_out "$n_out" || fail "no session_logged_out alert"
wait_for 30 sh -c "! grep -qx '/$id2/' /etc/multipath/wwids" \
    || fail "the daemon did not remove its wwids entry $id2 after the detach: $(cat /etc/multipath/wwids); $(lunguard history --kind forget_wwid 2>&1)"
for l in 0 1 3; do
    id="3$(lio_wwid "$T" "$l" | sed 's/^naa\.//')"
    grep -qx "/$id/" /etc/multipath/wwids || fail "multipathd's entry for LUN $l removed: $(cat /etc/multipath/wwids)"
done
# Back to the lab of step 3 for the rest: logged in again (by the scenario, while the target is
# out of scope), LUNs 0, 1, 3 scanned, then declared.
iscsi_login "$T" "$P1" "$P2"
h1=$(session_host "$P1") h2=$(session_host "$P2")
scan_luns "$P1" 0 1 3
scan_luns "$P2" 0 1 3
wait_for 60 maps_are 3 || fail "maps after the re-login: $(multipath -ll 2>&1)"
rm -rf "$LG_DRAFT"
for l in 0 1 3; do lg_draft vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
lg_state_write vols.toml <"$LG_DRAFT/vols.toml"
lunguard check >/dev/null 2>&1 || fail "lunguard check after the detach round: $(lunguard check 2>&1)"

step "5 watchdog"
mkdir -p /run/systemd/system/lunguard.service.d
# For this test only: the shipped 3min would make the scenario wait 3 minutes.
printf '[Service]\nWatchdogSec=5s\n' >/run/systemd/system/lunguard.service.d/50-vm-watchdog.conf
run systemctl daemon-reload
run systemctl restart lunguard
[ "$(show WatchdogUSec)" = 5s ] || fail "drop-in not in effect: WatchdogUSec=$(show WatchdogUSec)"
pid=$(main_pid) nr=$(show NRestarts)
tw=$(uptime_s)
kill -STOP "$pid"
wait_for 90 sh -c "[ \"\$(systemctl show lunguard -p MainPID --value)\" != $pid ] && [ \"\$(systemctl show lunguard -p MainPID --value)\" != 0 ] && [ \"\$(systemctl show lunguard -p ActiveState --value)\" = active ]" \
    || fail "the watchdog did not restart the stopped daemon: $(systemctl status lunguard --no-pager)"
{
    echo "stopped-pid $pid"
    echo "new-pid $(main_pid)"
    echo "nrestarts-before $nr"
    echo "nrestarts-after $(show NRestarts)"
    echo "seconds $(since_s "$tw")"
    journalctl -u lunguard --no-pager -o cat --since "-2min" | grep -iE 'watchdog|ABRT|Scheduled restart|Failed with result'
} >"$OUT/watchdog.txt"
cat "$OUT/watchdog.txt"
[ "$(show NRestarts)" -gt "$nr" ] || fail "NRestarts did not grow"
grep -q 'Watchdog timeout' "$OUT/watchdog.txt" || fail "no watchdog timeout in the journal"
rm -f /run/systemd/system/lunguard.service.d/50-vm-watchdog.conf
rmdir /run/systemd/system/lunguard.service.d
run systemctl daemon-reload
run systemctl restart lunguard
[ "$(show WatchdogUSec)" = 3min ] || fail "shipped WatchdogSec not back: $(show WatchdogUSec)"

step "6 stop"
n_stop=$(jkind daemon_stopping)
run systemctl stop lunguard
systemctl show lunguard -p ActiveState -p Result -p ExecMainStatus -p ExecMainCode >"$OUT/show-stop.txt"
cat "$OUT/show-stop.txt"
[ "$(show Result)" = success ] || fail "stop: $(cat "$OUT/show-stop.txt")"
[ "$(show ExecMainStatus)" = 0 ] || fail "stop: exit status $(show ExecMainStatus)"
[ "$(show ActiveState)" = inactive ] || fail "stop: $(show ActiveState)"
wait_kind daemon_stopping "$n_stop" 10 || fail "no daemon_stopping alert for the stop"
[ ! -e /run/lunguard ] || fail "/run/lunguard left after stop: $(ls -lR /run/lunguard)"

step "7 upgrade"
run systemctl start lunguard
lunguard history >"$OUT/history-before.txt" 2>&1
grep -q . "$OUT/history-before.txt" || fail "empty history before the upgrade"
sha256sum "$CONF" /etc/lunguard/state.d/* >/tmp/state.sha
pid=$(main_pid)
rm -rf /tmp/up && run dpkg-deb -R /share/lunguard.deb /tmp/up
V1="$V0+vmtest1"
sed -i "s/^Version: .*/Version: $V1/" /tmp/up/DEBIAN/control
dpkg --compare-versions "$V1" gt "$V0" || fail "$V1 is not newer than $V0"
run dpkg-deb -b /tmp/up /tmp/lunguard-upgrade.deb
dpkg -i /tmp/lunguard-upgrade.deb </dev/null >"$OUT/dpkg-upgrade.txt" 2>&1 || fail "upgrade: $(cat "$OUT/dpkg-upgrade.txt")"
[ "$(dpkg-query -W -f '${Version}' lunguard)" = "$V1" ] || fail "version after upgrade: $(dpkg-query -W lunguard)"
wait_for 60 active || fail "not running after the upgrade: $(systemctl status lunguard --no-pager)"
[ "$(main_pid)" != "$pid" ] || fail "the upgrade did not restart the daemon (still $pid)"
sha256sum -c --quiet /tmp/state.sha || fail "config or state files changed by the upgrade"
lunguard history >"$OUT/history-after.txt" 2>&1
while IFS= read -r line; do
    grep -qF -- "$line" "$OUT/history-after.txt" || fail "history line lost by the upgrade: $line"
done <"$OUT/history-before.txt"
lunguard check >/dev/null 2>&1 || fail "lunguard check after the upgrade"
n_rm=$(jkind device_removed)
iscsiadm -m session --rescan >/dev/null
wait_for 60 only_luns "$h1" "$h2" "0 1 3" || fail "after the upgrade the guard did not remove LUNs 2 and 4"
wait_kind device_removed "$n_rm" || fail "no device_removed alert after the upgrade"

systemctl status lunguard --no-pager >>"$OUT/status.txt" 2>&1
journal_out
journalctl --list-catalog 2>/dev/null | grep -c 'lunguard:' >"$OUT/catalog-installed.txt" || true
[ "$(cat "$OUT/catalog-installed.txt")" -gt 0 ] || fail "journald's catalog has no lunguard entry"

step "8 purge"
dpkg -L lunguard >"$OUT/package-files.txt" || fail "dpkg -L lunguard"
dpkg -P lunguard >"$OUT/dpkg-purge.txt" 2>&1 || fail "dpkg -P: $(cat "$OUT/dpkg-purge.txt")"
! dpkg-query -W lunguard >/dev/null 2>&1 || fail "still known to dpkg after purge"
systemctl show lunguard -p LoadState -p ActiveState >"$OUT/show-purged.txt"
{
    for p in /etc/lunguard /var/lib/lunguard /run/lunguard /usr/sbin/lunguard; do [ ! -e "$p" ] || echo "$p"; done
    # Every file the package had (directories it shared with others stay, e.g. /usr/sbin).
    while IFS= read -r p; do [ ! -e "$p" ] || [ -d "$p" ] || echo "$p"; done <"$OUT/package-files.txt"
    # Anything else named after lunguard, except this VM's own driver, the test target's IQN
    # (iqn...test.lunguard:...) in iscsiadm's records and udev's device database (/run/udev: tags
    # of devices that still exist, udev's state, not a file of the package).
    find / /run -xdev \( -path /proc -o -path /sys -o -path /share -o -path /run/udev -o -path /tmp \) -prune -o \
        -name '*lunguard*' -print | grep -v -e lunguard-vm -e 'test\.lunguard' || true
    journalctl --list-catalog 2>/dev/null | grep 'lunguard:' || true
} >"$OUT/purge-leftovers.txt"
[ ! -s "$OUT/purge-leftovers.txt" ] || fail "left after purge: $(cat "$OUT/purge-leftovers.txt")"
grep -q '^LoadState=not-found' "$OUT/show-purged.txt" || fail "unit still loadable after purge: $(cat "$OUT/show-purged.txt")"
step "done"
