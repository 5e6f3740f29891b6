# Issue 4, proof 1 — the daemon runs (grace 0); another tool's full "- - -" rescan re-adds a LUN
# nobody declared; the guard flushes and removes it. Repeated 5 times; the time from the kernel's
# add uevent to its remove uevent (which follows our delete write) is recorded per round.
. /share/lib.sh
iscsi_mpath_up
lg_config 0s
for l in 0 1 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
lg_daemon_start
wait_for 60 no_lun "$h1" "$h2" 2 || fail "the daemon did not remove the undeclared LUN 2 at start"
settle
udevadm monitor --kernel --subsystem-match=scsi >/tmp/scsi-events.txt 2>&1 &
mon=$!
sleep 1
for round in 1 2 3 4 5; do
    echo "- - -" >"/sys/class/scsi_host/host$h1/scan"
    echo "- - -" >"/sys/class/scsi_host/host$h2/scan"
    wait_for 60 no_lun "$h1" "$h2" 2 || fail "round $round: LUN 2 still there: $(ls /sys/class/scsi_device)"
    settle
    sleep 1
done
kill "$mon"
for l in 0 1 3; do
    for h in "$h1" "$h2"; do [ -e "/sys/class/scsi_device/$h:0:0:$l" ] || fail "declared $h:0:0:$l removed"; done
done
[ "$(ls /sys/block | grep -c ^dm-)" = 3 ] || fail "maps: $(multipath -ll)"
# KERNEL[123.456] add      /devices/platform/host2/session1/target2:0:0/2:0:0:2 (scsi)
awk -v h="$h1" '
    $0 ~ (":0:0:2 \\(scsi\\)$") && $0 ~ ("/" h ":0:0:2 ") {
        t = substr($1, 8); sub(/\]/, "", t)
        if ($2 == "add") a = t
        if ($2 == "remove" && a != "") { printf "%d\n", (t - a) * 1000; a = "" }
    }' /tmp/scsi-events.txt >"$OUT/latency-ms.txt"
cp /tmp/scsi-events.txt "$OUT/"
say "add -> remove (ms): $(tr '\n' ' ' <"$OUT/latency-ms.txt")"
[ "$(wc -l <"$OUT/latency-ms.txt")" -ge 5 ] || fail "expected 5 measurements"
lg_daemon_stop
grep -q 'daemon_stopping\|stopping' "$OUT/daemon.log" || fail "no stopping record"
