# Issue 4, proof 1, and issue 8, goal 6 — the daemon runs (grace 0); another tool's full "- - -"
# rescan re-adds a LUN nobody declared; the guard removes it. Repeated $LG_ROUNDS times (default
# 20; LUNGUARD_VM_ENV="LG_ROUNDS=5" for a quick run) and timed per round, on the kernel's clock:
#   add     the kernel's `add` uevent of the rogue LUN's first path (H1:0:0:2, scsi), as received
#           by `udevadm monitor --kernel` (CLOCK_MONOTONIC, microseconds);
#   delete  the first `remove` uevent under that path's devpath (its bsg node): the kernel sends it
#           from inside our write to `device/delete` (__scsi_remove_device), before sd's own
#           teardown, so it lags the write by the kernel's first steps of the removal only.
# Written: latency-ms.txt (one line a round, add -> delete of path 1), rounds.txt (the detail:
# both paths, udev's delay, whether multipathd built a map first), events.txt (the monitor's log),
# clock-offset.txt (CLOCK_REALTIME - CLOCK_MONOTONIC in ns, to put the daemon's log on the same
# clock), dmesg.txt. LG_VERBOSE=-vv logs every uevent and each pass's phases (the breakdown).
. /share/lib.sh
ROUNDS=${LG_ROUNDS:-20}
echo "$ROUNDS" >"$OUT/rounds-wanted.txt"
iscsi_mpath_up
lg_config 0s
for l in 0 1 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
lg_daemon_up "${LG_VERBOSE:--v}"
wait_for 60 no_lun "$h1" "$h2" 2 || fail "the daemon did not remove the undeclared LUN 2 at start"
settle
udevadm monitor --kernel --udev >/tmp/events.txt 2>&1 &
mon=$!
sleep 1
# The realtime base's offset from the monotonic one (kernel/time/timer_list.c: .get_time then .offset).
awk '/get_time:.*ktime_get_real/ { getline; print $2; exit }' /proc/timer_list >"$OUT/clock-offset.txt"
t0=$(uptime_s)
round=1
while [ "$round" -le "$ROUNDS" ]; do
    echo "- - -" >"/sys/class/scsi_host/host$h1/scan"
    echo "- - -" >"/sys/class/scsi_host/host$h2/scan"
    wait_for 60 no_lun "$h1" "$h2" 2 || fail "round $round: LUN 2 still there: $(ls /sys/class/scsi_device)"
    settle
    round=$((round + 1))
done
say "$ROUNDS rounds in $(since_s "$t0") s"
# TERM and wait: the monitor writes its buffered lines out as it exits (a bare kill lost the last
# round's removal once, on a loaded host).
sleep 1
kill "$mon"
wait "$mon" 2>/dev/null || true
for l in 0 1 3; do
    for h in "$h1" "$h2"; do [ -e "/sys/class/scsi_device/$h:0:0:$l" ] || fail "declared $h:0:0:$l removed"; done
done
[ "$(ls /sys/block | grep -c ^dm-)" = 3 ] || fail "maps: $(multipath -ll)"
cp /tmp/events.txt "$OUT/"
dmesg >"$OUT/dmesg.txt"
# KERNEL[123.456789] add      /devices/platform/host2/session1/target2:0:0/2:0:0:2 (scsi)
# UDEV  [123.654321] add      /devices/platform/host2/session1/target2:0:0/2:0:0:2 (scsi)
# A round starts at path 1's kernel add. rounds.txt, one line a round (times in s, "-" if none):
#   round  add->delete-ms  add1 delete1 add2 delete2  udev-add1 (udev done with path 1: the
#   daemon hears of it then)  dm-add (multipathd's map)  map|bare (a map came before delete1)
awk -v h1="$h1" -v h2="$h2" '
    function lun(h) { return "/target" h ":0:0/" h ":0:0:2" }
    function under(p, h) { return p ~ (lun(h) "$") || p ~ (lun(h) "/") }
    function v(x) { return x == "" ? "-" : sprintf("%.6f", x) }
    function done_round() {
        if (n > 0 && a1 != "" && d1 != "")
            printf "%d %.1f %s %s %s %s %s %s %s\n", n, (d1 - a1) * 1000, v(a1), v(d1), v(a2), v(d2), v(u1), v(dm),
                (dm != "" && dm < d1 ? "map" : "bare")
    }
    $1 == "UDEV" { if (n > 0 && $3 == "add" && $4 ~ (lun(h1) "$") && u1 == "") { u1 = $2; gsub(/[][]/, "", u1); u1 += 0 } next }
    $1 !~ /^KERNEL\[/ { next }
    {
        t = substr($1, 8); sub(/\]/, "", t); t += 0; act = $2; p = $3
        if (act == "add" && p ~ (lun(h1) "$")) { done_round(); n++; a1 = t; d1 = a2 = d2 = u1 = dm = ""; next }
        if (n == 0) next
        if (act == "add" && p ~ (lun(h2) "$") && a2 == "") a2 = t
        if (act == "add" && p ~ /\/block\/dm-[0-9]+$/ && dm == "") dm = t
        if (act == "remove" && under(p, h1) && d1 == "") d1 = t
        if (act == "remove" && under(p, h2) && d2 == "") d2 = t
    }
    END { done_round() }' /tmp/events.txt >"$OUT/rounds.txt"
cut -d' ' -f2 "$OUT/rounds.txt" >"$OUT/latency-ms.txt"
n=$(wc -l <"$OUT/latency-ms.txt")
[ "$n" = "$ROUNDS" ] || fail "expected $ROUNDS measurements, got $n: $(cat "$OUT/rounds.txt")"
sorted=$(sort -n "$OUT/latency-ms.txt" | tr '\n' ' ')
say "add -> delete (ms, sorted): $sorted"
say "multipathd built a map before the delete in $(grep -c ' map$' "$OUT/rounds.txt") of $n rounds"
lg_daemon_stop
grep -q 'daemon_stopping\|stopping' "$OUT/daemon.log" || fail "no stopping record"
