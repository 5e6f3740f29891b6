# Issue 10, part 1 — the drop matrix of the seeds (os-brick's attach/detach under packet loss), on the
# real kernel. The daemon runs with the shipped configuration (debian/lunguard.toml) except
# mode = "enforce". Packet loss is applied per portal with tc netem on lo (docs/decisions.md).
#
# Cells (name:loss on portal 1:loss on portal 2): 0/10/20/100 % on both portals, 20 % and 100 % on
# portal 1 only and on portal 2 only. Each cell has its own LIO target (one 8 MiB LUN on both
# portals), so leftovers and alerts are attributable to one cell. Each cell runs $LG_CYCLES cycles
# of: declare the LUN (multipath, 2 portals) -> wait attached -> write a checksummed 128 KiB pattern
# at the cycle's own offset -> remove the intent -> wait detached. Then the loss is turned off, the
# daemon gets $LG_SETTLE s to converge, leftovers are counted, the LUN is declared again on the
# clean network and every pattern written is read back, and the LUN is detached.
#
# Knobs (LUNGUARD_VM_ENV): LG_CYCLES (default 2), LG_CELLS (cell names, default all 8),
# LG_ATTACH_WAIT / LG_DETACH_WAIT / LG_SETTLE (seconds; 90 / 120 / 30).
# Output: $OUT/matrix.tsv (one line per cell), $OUT/cycles.tsv (one per cycle), $OUT/header.txt
# (kernel, timeouts), $OUT/qdisc-CELL.txt (netem's drop counters), $OUT/daemon.log.
# The scenario fails only when its own machinery fails; attach/detach failures are results.
. /share/lib.sh
LG_CYCLES=${LG_CYCLES:-2}
LG_CELLS=${LG_CELLS:-all-0 all-10 all-20 all-100 p1-20 p2-20 p1-100 p2-100}
LG_ATTACH_WAIT=${LG_ATTACH_WAIT:-90}
LG_DETACH_WAIT=${LG_DETACH_WAIT:-120}
LG_SETTLE=${LG_SETTLE:-30}
PAT_KIB=128

cell_loss() { # cell_loss NAME: "P1% P2%"
    case $1 in
        all-0) echo "0 0" ;; all-10) echo "10 10" ;; all-20) echo "20 20" ;; all-100) echo "100 100" ;;
        p1-20) echo "20 0" ;; p2-20) echo "0 20" ;; p1-100) echo "100 0" ;; p2-100) echo "0 100" ;;
        *) fail "unknown cell $1" ;;
    esac
}

# --- open-iscsi timeouts (the SUSE seed: fail in a timely fashion rather than after minutes) -------
# Set before iscsid starts; lunguard's `iscsiadm -m node -o new` copies them into each node record.
ISCSI_TUNING='node.conn[0].timeo.login_timeout = 5
node.session.initial_login_retry_max = 2
node.session.timeo.replacement_timeout = 15
node.conn[0].timeo.noop_out_interval = 5
node.conn[0].timeo.noop_out_timeout = 5'
conf=/etc/iscsi/iscsid.conf
echo "$ISCSI_TUNING" | while IFS= read -r line; do
    k=${line%% =*}
    grep -vF "$k =" "$conf" >"$conf.new"; mv "$conf.new" "$conf"
done
echo "$ISCSI_TUNING" >>"$conf"

# --- packet loss per portal: prio qdisc on lo, u32 filters send one portal's packets (both
# directions) to a band whose qdisc is netem loss X%. Initiator->target packets of both portals
# leave from 127.0.0.1, so portal 1 is matched by address AND the iSCSI port.
# Busybox has a tc applet that it prefers over PATH (see lib.sh): iproute2's is called by path.
tc() { /sbin/tc "$@"; }
drop_set() { # drop_set P1% P2%
    tc qdisc del dev lo root 2>/dev/null
    [ "$1" = 0 ] && [ "$2" = 0 ] && return 0
    run tc qdisc add dev lo root handle 1: prio bands 5
    if [ "$1" != 0 ]; then
        run tc qdisc add dev lo parent 1:4 handle 40: netem loss "$1%"
        run tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dst 127.0.0.1/32 match ip dport 3260 0xffff flowid 1:4
        run tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip src 127.0.0.1/32 match ip sport 3260 0xffff flowid 1:4
    fi
    if [ "$2" != 0 ]; then
        run tc qdisc add dev lo parent 1:5 handle 50: netem loss "$2%"
        run tc filter add dev lo parent 1: protocol ip prio 2 u32 match ip dst 127.0.0.2/32 flowid 1:5
        run tc filter add dev lo parent 1: protocol ip prio 2 u32 match ip src 127.0.0.2/32 flowid 1:5
    fi
}

# --- what exists of one target ---------------------------------------------------------------------
devs_of() { # devs_of WWID: SCSI devices with that WWID
    n=0
    for d in /sys/class/scsi_device/*; do
        [ -e "$d/device/wwid" ] && [ "$(cat "$d/device/wwid" 2>/dev/null)" = "$1" ] && n=$((n + 1))
    done
    echo "$n"
}
dm_of() { # dm_of WWID: the dm-N holding that WWID's map (empty if none)
    for d in /sys/block/dm-*; do
        [ -e "$d/dm/uuid" ] || continue
        case $(cat "$d/dm/uuid") in *"${1#naa.}") echo "${d##*/}"; return 0 ;; esac
    done
    return 0
}
paths_of() { d=$(dm_of "$1"); [ -n "$d" ] && ls "/sys/block/$d/slaves" | wc -l || echo 0; }
sessions_of() { # sessions_of IQN
    n=0
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s/targetname" ] && [ "$(cat "$s/targetname")" = "$1" ] && n=$((n + 1))
    done
    echo "$n"
}
nodes_of() { ls "/etc/iscsi/nodes/$1" 2>/dev/null | wc -l; }
# maps without any path, of any target: a half-done removal
pathless_maps() {
    n=0
    for d in /sys/block/dm-*; do
        [ -e "$d/dm/uuid" ] || continue
        case $(cat "$d/dm/uuid") in mpath-*) [ "$(ls "$d/slaves" | wc -l)" = 0 ] && n=$((n + 1)) ;; esac
    done
    echo "$n"
}
attached() { [ "$(paths_of "$1")" -ge "$2" ] && [ "$(paths_of "$1")" -ge 1 ]; } # attached WWID MINPATHS
detached() { [ "$(devs_of "$2")" = 0 ] && [ -z "$(dm_of "$2")" ] && [ "$(sessions_of "$1")" = 0 ]; }
# failed_logins_since LINE IQN: portals with an attach_failed alert for IQN after log line LINE
failed_logins_since() {
    tail -n "+$(($1 + 1))" "$OUT/daemon.log" | grep 'LUNGUARD_KIND=attach_failed' | grep -E "TARGET=$2( |\$)" |
        sed -n 's/.* PORTAL=\([^ ]*\).*/\1/p' | sort -u | wc -l
}
loglen() { wc -l <"$OUT/daemon.log"; }
# alert kinds (with counts) of lines FROM..TO of the daemon log (the cell's window: only its target is
# declared or present then)
alerts_between() {
    sed -n "$(($1 + 1)),${2}p" "$OUT/daemon.log" | grep 'LUNGUARD_KIND=' |
        sed -n 's/.* LUNGUARD_KIND=\([a-z_]*\).*/\1/p' | sort | uniq -c |
        awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 } END { if (NR == 0) printf "-" }'
}

declare_lun() { # declare_lun IQN WWID
    rm -rf "$LG_DRAFT"
    lg_draft cell.toml vol "$1" 0 "$2" "$P1" "$P2"
    lg_state_write cell.toml <"$LG_DRAFT/cell.toml"
}
remove_intent() { : | lg_state_write cell.toml; } # the file stays, empty: no attachment

# wait_attached IQN WWID WANT SECONDS: a map with WANT paths (WANT >= 1), or with at least one at the
# deadline; when WANT = 0 (no portal reachable) the wait also ends once the daemon has alerted a
# failed login on both portals. Succeeds if the LUN is usable through a map.
wait_attached() {
    n=$(($4 * 5)) from=$(loglen)
    while [ "$n" -gt 0 ]; do
        if [ "$3" -ge 1 ]; then
            attached "$2" "$3" && return 0
        elif [ "$(failed_logins_since "$from" "$1")" -ge 2 ]; then
            break
        fi
        sleep 0.2; n=$((n - 1))
    done
    attached "$2" 1
}

# --- the lab ---------------------------------------------------------------------------------------
lio_up
i=0
for c in $LG_CELLS; do
    cell_loss "$c" >/dev/null
    lio_target "iqn.2026-11.test.lunguard:drop-$c" 1 "$P1" "$P2"
    i=$((i + 1))
done
iscsid_up manual
multipathd_up
run modprobe sch_prio
run modprobe sch_netem
run modprobe cls_u32

mkdir -p "$LG_STATE" /var/lib/lunguard
chmod 755 /etc/lunguard "$LG_STATE"
sed 's/^mode = "observe"/mode = "enforce"/' /share/lunguard.toml >"$LG_CONF"
chmod 644 "$LG_CONF"
grep -q '^mode = "enforce"' "$LG_CONF" || fail "could not set mode = enforce in the shipped config"
diff /share/lunguard.toml "$LG_CONF" >"$OUT/config.diff"
: >"$LG_STATE/cell.toml"; chmod 644 "$LG_STATE/cell.toml"
run lunguard check --config "$LG_CONF"
lg_daemon_up -v

{
    echo "kernel	$(uname -r)"
    echo "open-iscsi	$(iscsiadm --version 2>&1 | head -n 1)"
    echo "multipath	$(multipath -h 2>&1 | head -n 1)"
    echo "cycles	$LG_CYCLES"
    echo "waits	attach ${LG_ATTACH_WAIT}s, detach ${LG_DETACH_WAIT}s, settle ${LG_SETTLE}s"
    echo "iscsid.conf	$(echo "$ISCSI_TUNING" | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
    echo "multipath.conf	$(grep -E 'polling_interval|find_multipaths' /etc/multipath.conf | tr -s ' ' | tr '\n' ';')"
    echo "config	shipped debian/lunguard.toml, mode = \"enforce\""
} >"$OUT/header.txt"
printf 'cell\tcycle\tattached\tattach_s\tpaths\twritten\tdetached\tdetach_s\tcycle_s\n' >"$OUT/cycles.tsv"
printf 'cell\tloss_p1\tloss_p2\tcycles\tattaches\tdetaches\tattach_pct\tdetach_pct\ts_per_cycle\tleft_devices\tleft_maps\tleft_sessions\tleft_nodes\twritten\tverified\tlost\tunverified\tpathless_maps\tfailed_cycles\tunalerted_failures\talerts\n' >"$OUT/matrix.tsv"

for c in $LG_CELLS; do
    set -- $(cell_loss "$c"); l1=$1 l2=$2
    iqn=iqn.2026-11.test.lunguard:drop-$c wwid=$(lio_wwid "iqn.2026-11.test.lunguard:drop-$c" 0)
    want=0; [ "$l1" != 100 ] && want=$((want + 1)); [ "$l2" != 100 ] && want=$((want + 1))
    say "cell $c: loss $l1 % on $P1, $l2 % on $P2 ($LG_CYCLES cycles, $iqn)"
    cell_from=$(loglen) cell_t0=$(uptime_s)
    drop_set "$l1" "$l2"
    attaches=0 detaches=0 failed=0 unalerted=0 written=0
    rm -f /tmp/patterns
    k=0
    while [ "$k" -lt "$LG_CYCLES" ]; do
        t0=$(uptime_s) cyc_from=$(loglen)
        declare_lun "$iqn" "$wwid"
        ok=0 w=0 paths=0
        if wait_attached "$iqn" "$wwid" "$want" "$LG_ATTACH_WAIT"; then
            ok=1 attaches=$((attaches + 1)) paths=$(paths_of "$wwid")
        fi
        ta=$(since_s "$t0")
        if [ "$ok" = 1 ]; then
            dm=$(dm_of "$wwid")
            head -c $((PAT_KIB * 1024)) /dev/urandom >/tmp/pat
            sum=$(sha256sum </tmp/pat | cut -d' ' -f1)
            if timeout 60 dd if=/tmp/pat of="/dev/$dm" bs="${PAT_KIB}k" seek="$((k * 2))" count=1 \
                oflag=direct conv=fsync,notrunc 2>>"$OUT/dd.log"; then
                w=1 written=$((written + 1))
                echo "$k $sum" >>/tmp/patterns
            fi
        else
            failed=$((failed + 1))
            # every failed attach must have been alerted for this target in this cycle
            tail -n "+$((cyc_from + 1))" "$OUT/daemon.log" |
                grep -E 'LUNGUARD_KIND=(attach_failed|key_degraded|action_failed)' | grep -qE "TARGET=$iqn( |\$)" ||
                unalerted=$((unalerted + 1))
        fi
        t1=$(uptime_s)
        remove_intent
        d=0
        if [ "$ok" = 1 ]; then
            wait_for "$LG_DETACH_WAIT" detached "$iqn" "$wwid" && { d=1; detaches=$((detaches + 1)); }
        else
            # nothing usable was attached; still give the daemon the bounded wait to undo any part
            wait_for "$LG_DETACH_WAIT" detached "$iqn" "$wwid"
        fi
        td=$(since_s "$t1")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$k" "$ok" "$ta" "$paths" "$w" "$d" "$td" \
            "$(since_s "$t0")" >>"$OUT/cycles.tsv"
        say "cell $c cycle $k: attached=$ok (${ta}s, $paths paths) written=$w detached=$d (${td}s)"
        k=$((k + 1))
    done
    cell_s=$(since_s "$cell_t0")
    tc -s qdisc show dev lo >"$OUT/qdisc-$c.txt" 2>&1
    drop_set 0 0
    # the daemon gets a bounded time on the clean network to finish whatever it left undone
    clean() { detached "$iqn" "$wwid" && [ "$(nodes_of "$iqn")" = 0 ]; }
    wait_for "$LG_SETTLE" clean || true
    ld=$(devs_of "$wwid") lm=0; [ -n "$(dm_of "$wwid")" ] && lm=1
    ls=$(sessions_of "$iqn") ln=$(nodes_of "$iqn") pl=$(pathless_maps)
    [ "$ln" = 0 ] || find "/etc/iscsi/nodes/$iqn" >"$OUT/nodes-left-$c.txt"
    cell_to=$(loglen)
    # re-attach on the clean network and read every pattern back
    verified=0 lost=0 unverified=0
    if [ -s /tmp/patterns ]; then
        declare_lun "$iqn" "$wwid"
        if wait_attached "$iqn" "$wwid" 2 "$LG_ATTACH_WAIT"; then
            dm=$(dm_of "$wwid")
            while read -r k sum; do
                got=$(timeout 60 dd if="/dev/$dm" bs="${PAT_KIB}k" skip="$((k * 2))" count=1 iflag=direct 2>/dev/null |
                    sha256sum | cut -d' ' -f1)
                if [ "$got" = "$sum" ]; then verified=$((verified + 1)); else lost=$((lost + 1)); say "cell $c: pattern $k differs"; fi
            done </tmp/patterns
        else
            unverified=$written
            say "cell $c: re-attach on the clean network failed; $written patterns unverified"
        fi
        remove_intent
        wait_for "$LG_DETACH_WAIT" detached "$iqn" "$wwid" || say "cell $c: detach after the re-read did not finish"
    fi
    ap=$(awk -v a="$attaches" -v n="$LG_CYCLES" 'BEGIN { printf "%.0f", 100 * a / n }')
    dp=$(awk -v a="$attaches" -v d="$detaches" 'BEGIN { if (a == 0) print "-"; else printf "%.0f", 100 * d / a }')
    spc=$(awk -v s="$cell_s" -v n="$LG_CYCLES" 'BEGIN { printf "%.1f", s / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$c" "$l1" "$l2" "$LG_CYCLES" "$attaches" "$detaches" "$ap" "$dp" "$spc" "$ld" "$lm" "$ls" "$ln" \
        "$written" "$verified" "$lost" "$unverified" "$pl" "$failed" "$unalerted" \
        "$(alerts_between "$cell_from" "$cell_to")" >>"$OUT/matrix.tsv"
    say "cell $c done: $(tail -n 1 "$OUT/matrix.tsv")"
done
lg_daemon_stop
cat "$OUT/matrix.tsv"
