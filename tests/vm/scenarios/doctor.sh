# Issue 11 — lunguard doctor on the real tools (open-iscsi 2.1, multipath-tools 0.9 `multipath -t`,
# the real daemons): a host misconfigured the ways the field reports describe gets each finding;
# the same host fixed as the findings say (the iscsiadm fix line run as printed) gets none.
. /share/lib.sh
lio_up
lio_target "$T" 2 "$P1" "$P2"
iscsid_up auto
multipathd_up
lg_config 0s
W=$(lio_wwid "$T" 1)
lg_attach vols.toml vol-1 "$T" 1 "$W" "$P1" "$P2"
# iscsid.conf: set KEY VALUE, replacing the line or appending it.
iscsi_set() {
    if grep -q "^$1 = " /etc/iscsi/iscsid.conf; then
        sed -i "s|^$1 = .*|$1 = $2|" /etc/iscsi/iscsid.conf
    else
        echo "$1 = $2" >>/etc/iscsi/iscsid.conf
    fi
}
mkdir -p /usr/lib/systemd/system /etc/systemd/system/lunguard.service.d
cp /share/lunguard.service /usr/lib/systemd/system/lunguard.service

say "misconfigured"
iscsi_set node.startup automatic
iscsi_set node.session.timeo.replacement_timeout 120
# A node record created while scan = auto (discovery copies iscsid.conf's settings).
run iscsiadm -m discovery -t sendtargets -p "$P1"
cat >/etc/multipath.conf <<'EOT'
defaults {
    user_friendly_names no
    find_multipaths greedy
    no_path_retry queue
    flush_on_last_del no
    polling_interval 2
}
EOT
printf '[Service]\nProtectSystem=no\n' >/etc/systemd/system/lunguard.service.d/override.conf
multipath -t >"$OUT/multipath-t-bad.txt" 2>&1
lunguard doctor --config "$LG_CONF" --json >"$OUT/doctor-bad.json"; echo "doctor exit $?" >"$OUT/doctor-bad.rc"
lunguard doctor --config "$LG_CONF" >"$OUT/doctor-bad.txt"
cat "$OUT/doctor-bad.txt"
grep -q 'doctor exit 1' "$OUT/doctor-bad.rc" || fail "doctor on the misconfigured host: $(cat "$OUT/doctor-bad.rc")"

say "fixed as the findings say"
iscsi_set node.session.scan manual
iscsi_set node.startup manual
iscsi_set node.session.timeo.replacement_timeout 15
# Each node record's fix, run as printed.
sed -n 's/^  fix: \(iscsiadm -m node .*\)$/\1/p' "$OUT/doctor-bad.txt" >/tmp/fixes
[ "$(wc -l </tmp/fixes)" = 2 ] || fail "expected a fix line per portal's node record: $(cat /tmp/fixes)"
while IFS= read -r fix; do
    echo "+ $fix"
    # shellcheck disable=SC2086 # the fix line is a command with arguments, as printed
    $fix || fail "the printed fix failed: $fix"
done </tmp/fixes
cat >/etc/multipath.conf <<'EOT'
defaults {
    user_friendly_names no
    find_multipaths strict
    no_path_retry 12
    flush_on_last_del yes
    polling_interval 2
}
EOT
mkdir -p /etc/multipath
printf '/3%s/\n' "${W#naa.}" >>/etc/multipath/wwids
rm /etc/systemd/system/lunguard.service.d/override.conf
multipathd reconfigure >/dev/null 2>&1 || true
lunguard doctor --config "$LG_CONF" >"$OUT/doctor-good.txt"; echo "doctor exit $?" >"$OUT/doctor-good.rc"
cat "$OUT/doctor-good.txt"
lunguard doctor --config "$LG_CONF" --json >"$OUT/doctor-good.json"
grep -q 'doctor exit 0' "$OUT/doctor-good.rc" || fail "doctor on the fixed host: $(cat "$OUT/doctor-good.rc")"

say "the guard on the healthy host, with metrics for node_exporter"
prom=/var/lib/prometheus/node-exporter/lunguard.prom
mkdir -p "$(dirname "$prom")"
lg_config_add "[daemon]" "metrics_textfile = \"$prom\""
lg_daemon_up
wait_for 90 grep -q '^lunguard_attachments{state="converged"} 1$' "$prom" \
    || fail "vol-1 never converged: $(cat "$prom" 2>/dev/null | grep attachments)"
# Another tool's broad rescan brings LUN 0 back; the guard removes it (grace 0s).
for p in "$P1" "$P2"; do iscsiadm -m session -r "$(session_of "$T" "$p")" --rescan >/dev/null 2>&1; done
wait_for 90 grep -q '^lunguard_unwanted_removed_total [1-9]' "$prom" \
    || fail "the rescanned LUN was not removed: $(grep unwanted "$prom")"
wait_for 30 sh -c "lunguard plan --config '$LG_CONF' | grep -q 'plan: nothing to do'" || fail "not converged"
cp "$prom" "$OUT/metrics.prom"
lunguard health --config "$LG_CONF" >"$OUT/health.txt" || fail "health: $(cat "$OUT/health.txt")"
lg_daemon_stop
say "doctor: every finding on the misconfigured host, none once fixed; the guard's metrics"
