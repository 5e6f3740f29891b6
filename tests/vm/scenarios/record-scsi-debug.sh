# Records fixtures: scsi_debug with two paths per LUN under dm-multipath, with and without
# user_friendly_names. Run by tests/vm/record-fixtures.sh.
. /share/lib.sh
uevents_start scsi-debug-mpath
scsi_debug_up 4
multipathd_up
wait_for 20 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 4 ]' || fail "expected 4 maps: $(multipath -ll)"
uevents_stop
record_fixture scsi-debug-mpath

run multipath -F
kill %1 2>/dev/null; killall multipathd; wait_for 10 sh -c '! pidof multipathd'
uevents_start scsi-debug-mpath-friendly
multipathd_up friendly
wait_for 20 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 4 ]' || fail "expected 4 maps: $(multipath -ll)"
uevents_stop
grep -q mpath /sys/block/dm-*/dm/name || fail "no friendly names: $(cat /sys/block/dm-*/dm/name)"
record_fixture scsi-debug-mpath-friendly
