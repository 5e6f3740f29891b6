# Issue 10, section 2 — SIGKILL right after the intent of step N is durable, for every N of three
# operations, in one boot (the daemon's test aid LUNGUARD_TEST_KILL_AFTER_INTENT=N):
#   attach  declare target $T2's LUN 0 (multipath, 2 portals): logins, narrowed scans, map
#   detach  drop it again: buffer flush, map flush, path deletes, logouts, node records
#   rogue   a broad `- - -` rescan re-adds $T's undeclared LUN 1: map flush, path deletes
# For N = 1, 2, ... the daemon starts (enforce, grace 0) with the hook at N and either dies by
# SIGKILL (the hook's line names the action) or converges without dying (N is past the last step:
# that ends the operation's loop). After a kill it restarts without the hook and must converge,
# alert the interrupted action (action_interrupted, same action text), keep the declared LUN
# ($T LUN 0: map with 2 paths, checked after the kill and after the restart) and its checksummed
# pattern. The detach's subject carries a pattern too, written without sync just before the
# detach and read back after the next attach.
# Per-N results: $OUT/kill-every-step.txt, one line per run:
#   op=OP n=N killed=yes|no action="..." converged=yes interrupted_alerted=yes|- gap=- violations=K
# Known gap, recorded as gap=node_record_left and not as a violation: killed after a logout ran
# and before its "delete node record" step ran, the restart sees no
# session (node records are not observed, only sessions), releases the target and leaves that
# portal's node record behind (nothing is logged in; iscsid would log in again at boot only if
# node.startup = automatic). The scenario then deletes it by hand.
. /share/lib.sh
T2=iqn.2026-11.test.lunguard:target2
lio_up
lio_target "$T" 2 "$P1" "$P2"
lio_target "$T2" 1 "$P1" "$P2"
iscsid_up manual
iscsi_login "$T" "$P1" "$P2"
# discovery also recorded $T2's nodes: the attach starts from nothing
run iscsiadm -m node -T "$T2" -o delete
scan_luns "$P1" 0
scan_luns "$P2" 0
multipathd_up
wait_for 30 maps_are 1 || fail "keeper map: $(multipath -ll)"
h1=$(host_of "$T" "$P1") h2=$(host_of "$T" "$P2")
keep=$(map_of "$h1:0:0:0")
[ -n "$keep" ] || fail "no map for the declared LUN"
# The declared LUN's pattern: 4 MiB from a seeded generator (awk's srand), written through the map.
awk 'BEGIN { srand(10); for (i = 0; i < 262144; i++) printf "%08x%08x", int(rand() * 4294967295), i }' |
    head -c 4194304 >/tmp/keep-pattern
dd if=/tmp/keep-pattern of="/dev/mapper/$keep" bs=64k conv=fsync 2>/dev/null || fail "writing the pattern"
keep_sum=$(sha256sum </tmp/keep-pattern | cut -d' ' -f1)
keep_ok() { [ "$(dd if="/dev/mapper/$keep" bs=64k count=64 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$keep_sum" ]; }
keep_ok || fail "pattern not readable back at start"

lg_config 0s
lg_draft base.toml keep "$T" 0 "$(lio_wwid "$T" 0)" "$P1" "$P2"
lg_state_write vols.toml <"$LG_DRAFT/base.toml"
cp "$LG_DRAFT/base.toml" "$LG_DRAFT/with-t2.toml"
( LG_STATE=$LG_DRAFT; lg_attach with-t2.toml subject "$T2" 0 "$(lio_wwid "$T2" 0)" "$P1" "$P2" )
run lunguard check --config "$LG_CONF"
RES=$OUT/kill-every-step.txt
: >"$RES"
mkdir -p "$OUT/runs"

# --- predicates -------------------------------------------------------------------------------------
keeper_whole() { [ -e "/dev/mapper/$keep" ] && [ "$(map_of "$h1:0:0:0")" = "$keep" ] && [ "$(map_of "$h2:0:0:0")" = "$keep" ] &&
    [ "$(ls "/sys/block/$(basename "$(readlink -f "/dev/mapper/$keep")")/slaves" | wc -l)" = 2 ]; }
t2_attached() {
    a=$(host_of "$T2" "$P1") && b=$(host_of "$T2" "$P2") || return 1
    [ "$(luns_on "$a")" = 0 ] && [ "$(luns_on "$b")" = 0 ] || return 1
    m=$(map_of "$a:0:0:0") && [ -n "$m" ] && [ "$(map_of "$b:0:0:0")" = "$m" ]
}
t2_detached() {
    session_of "$T2" "$P1" >/dev/null && return 1
    session_of "$T2" "$P2" >/dev/null && return 1
    iscsiadm -m node -T "$T2" >/dev/null 2>&1 && return 1
    [ "$(map_count)" = 1 ]
}
# sessions and map gone, but node records of $T2 left (nothing logged in)
t2_detached_but_node_records() {
    session_of "$T2" "$P1" >/dev/null && return 1
    session_of "$T2" "$P2" >/dev/null && return 1
    [ "$(map_count)" = 1 ] && iscsiadm -m node -T "$T2" >/dev/null 2>&1
}
rogue_gone() { [ "$(luns_on "$h1")" = 0 ] && [ "$(luns_on "$h2")" = 0 ] && [ "$(map_count)" = 1 ]; }

# --- one run: start with the hook at N, kill or converge, restart, check ----------------------------
# run_n OP N CONVERGED_PREDICATE: appends a result line; returns 1 when the daemon was not killed.
V=0
run_n() {
    rop=$1 rn=$2 pred=$3 log=$OUT/runs/$1-$2.log viol=0
    : >"$log"
    LUNGUARD_TEST_KILL_AFTER_INTENT=$rn lunguard -v daemon --config "$LG_CONF" >>"$log" 2>&1 &
    pid=$!
    killed=no t=0
    # 0.2 s polls, at most 120 s: the hook's line (then the exit status) or convergence held 3 s.
    held=0
    while [ "$t" -lt 600 ]; do
        if grep -q 'raising SIGKILL before' "$log"; then killed=yes; break; fi
        if grep -q 'first full observation' "$log" && "$pred"; then
            held=$((held + 1)); [ "$held" -ge 15 ] && break
        else held=0; fi
        sleep 0.2; t=$((t + 1))
    done
    action=-
    if [ "$killed" = yes ]; then
        wait "$pid"; rc=$?
        [ "$rc" = 137 ] || { echo "violation: $rop n=$rn exit status $rc, expected 137 (SIGKILL)"; viol=$((viol + 1)); }
        action=$(sed -n 's/^.*raising SIGKILL before: //p' "$log" | head -n 1)
        keeper_whole || { echo "violation: $rop n=$rn declared map $keep not whole after the kill"; viol=$((viol + 1)); }
        echo "--- restart" >>"$log"
        lunguard -v daemon --config "$LG_CONF" >>"$log" 2>&1 &
        pid=$!
        # the restart's ready line (the interrupted alert comes before it), then convergence
        wait_for 120 sh -c "sed -n '/^--- restart/,\$p' '$log' | grep -q 'first full observation'" ||
            { echo "violation: $rop n=$rn restart not ready"; viol=$((viol + 1)); }
        gap=-
        if ! wait_for 60 "$pred"; then
            if [ "$rop" = detach ] && t2_detached_but_node_records; then
                # Known gap (see the header): recorded, then cleaned by hand so the loop goes on.
                gap=node_record_left
                iscsiadm -m node -T "$T2" -o delete >/dev/null 2>&1
            else
                echo "violation: $rop n=$rn not converged after the restart"; viol=$((viol + 1))
            fi
        fi
        alerted=no
        # the restart's alert: "<action>: interrupted by the last stop (journal #id)"
        grep -F "$action: interrupted by the last stop" "$log" | grep -q 'LUNGUARD_KIND=action_interrupted' && alerted=yes
        [ "$alerted" = yes ] || { echo "violation: $rop n=$rn no action_interrupted alert for: $action"; viol=$((viol + 1)); }
    else
        "$pred" || { echo "violation: $rop n=$rn neither killed nor converged in 120 s"; viol=$((viol + 1)); }
        alerted=- gap=-
    fi
    keeper_whole || { echo "violation: $rop n=$rn declared map $keep not whole"; viol=$((viol + 1)); }
    keep_ok || { echo "violation: $rop n=$rn declared LUN's pattern changed"; viol=$((viol + 1)); }
    kill -TERM "$pid"; wait "$pid"; src=$?
    [ "$src" = 0 ] || { echo "violation: $rop n=$rn exit status $src after TERM"; viol=$((viol + 1)); }
    echo "op=$rop n=$rn killed=$killed action=\"$action\" converged=$("$pred" && echo yes || echo no) interrupted_alerted=$alerted gap=$gap violations=$viol" | tee -a "$RES"
    V=$((V + viol))
    [ "$killed" = yes ]
}
# t2_pattern_write / t2_pattern_ok: the detach subject's pattern (buffered, no sync: the detach's
# buffer flush must write it).
t2_pattern_write() {
    a=$(host_of "$T2" "$P1") || fail "no T2 session"
    m=$(map_of "$a:0:0:0")
    dd if=/dev/urandom of=/tmp/t2-pattern bs=64k count=32 2>/dev/null
    dd if=/tmp/t2-pattern of="/dev/mapper/$m" bs=64k count=32 2>/dev/null || fail "writing T2's pattern"
    t2_sum=$(sha256sum </tmp/t2-pattern | cut -d' ' -f1)
}
T2_CHECKS=0
# t2_read: the subject's first 2 MiB through its map, hashed; empty when dd failed (a read error
# is not a changed pattern: it is retried once after the devices settle, and logged).
t2_read() {
    a=$(host_of "$T2" "$P1") || return 0
    m=$(map_of "$a:0:0:0")
    [ -n "$m" ] || return 0
    dd if="/dev/mapper/$m" of=/tmp/t2-read bs=64k count=32 iflag=direct 2>/tmp/t2-read.err || { cat /tmp/t2-read.err >&2; return 0; }
    sha256sum </tmp/t2-read | cut -d' ' -f1
}
t2_pattern_ok() {
    [ -n "${t2_sum:-}" ] || return 0
    T2_CHECKS=$((T2_CHECKS + 1))
    got=$(t2_read)
    if [ -z "$got" ]; then
        echo "t2 pattern: read failed, retrying"; settle; sleep 2; got=$(t2_read)
    fi
    [ "$got" = "$t2_sum" ] && return 0
    echo "t2 pattern: got ${got:-<read failed>}, want $t2_sum; differing bytes: $(cmp -l /tmp/t2-read /tmp/t2-pattern 2>/dev/null | wc -l)"
    return 1
}

start=$(uptime_s)
# --- attach and detach, interleaved: each op's run leaves the start of the other's ---------------------
# (once an op's loop has ended, its turn is a plain run without the hook)
ka=1 kd=1 adone=0 ddone=0
plain() { # plain PREDICATE: a daemon without the hook brings the host there
    lg_daemon_up; wait_for 120 "$1" || fail "plain run: not $1"; lg_daemon_stop
}
while [ "$adone" = 0 ] || [ "$ddone" = 0 ]; do
    t2_detached || fail "attach $ka: T2 not detached before the run"
    lg_state_write vols.toml <"$LG_DRAFT/with-t2.toml"
    if [ "$adone" = 0 ]; then
        run_n attach "$ka" t2_attached || adone=1
        ka=$((ka + 1))
    else
        plain t2_attached
    fi
    t2_pattern_ok || { echo "violation: T2's pattern changed across a detach/attach"; V=$((V + 1)); }
    t2_pattern_write
    lg_state_write vols.toml <"$LG_DRAFT/base.toml"
    if [ "$ddone" = 0 ]; then
        run_n detach "$kd" t2_detached || ddone=1
        kd=$((kd + 1))
    else
        plain t2_detached
    fi
    [ "$ka" -le 30 ] && [ "$kd" -le 30 ] || fail "more than 30 steps?"
done
# the last detach's pattern, after one more attach
lg_state_write vols.toml <"$LG_DRAFT/with-t2.toml"
plain t2_attached
t2_pattern_ok || { echo "violation: T2's pattern changed across the last detach/attach"; V=$((V + 1)); }
lg_state_write vols.toml <"$LG_DRAFT/base.toml"
plain t2_detached
echo "$T2_CHECKS" >"$OUT/t2-pattern-checks.txt"
say "attach and detach: $((ka - 2)) and $((kd - 2)) kills, $(since_s "$start") s"

# --- rogue LUN: a broad rescan re-adds $T's LUN 1 --------------------------------------------------------
kr=1
while :; do
    rogue_gone || fail "rogue $kr: LUN 1 present before the rescan"
    for h in "$h1" "$h2"; do echo "- - -" >"/sys/class/scsi_host/host$h/scan"; done
    settle
    [ "$(luns_on "$h1")" = "0 1" ] && [ "$(luns_on "$h2")" = "0 1" ] || fail "rescan did not re-add LUN 1: $(ls /sys/class/scsi_device)"
    wait_for 30 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 2 ]' || fail "no map for the rogue LUN: $(multipath -ll)"
    run_n rogue "$kr" rogue_gone || break
    kr=$((kr + 1)); [ "$kr" -le 30 ] || fail "rogue: more than 30 steps?"
done
say "rogue: $((kr - 1)) kills, $(since_s "$start") s"

# --- SIGKILL while a login runs (iscsiadm in flight, not just its intent) ------------------------------
lg_state_write vols.toml <"$LG_DRAFT/with-t2.toml"
: >"$OUT/runs/login-mid.log"
lunguard -v daemon --config "$LG_CONF" >>"$OUT/runs/login-mid.log" 2>&1 &
pid=$!
wait_for 120 grep -q 'action="login"' "$OUT/runs/login-mid.log" || fail "no login started: $(tail -n 20 "$OUT/runs/login-mid.log")"
kill -KILL "$pid"; wait "$pid"; rc=$?
in_flight=$(ps | grep -c '[i]scsiadm.*--login' || true)
[ "$rc" = 137 ] || fail "login-mid: exit $rc"
keeper_whole || { echo "violation: login-mid: declared map not whole after the kill"; V=$((V + 1)); }
echo "--- restart" >>"$OUT/runs/login-mid.log"
lunguard -v daemon --config "$LG_CONF" >>"$OUT/runs/login-mid.log" 2>&1 &
pid=$!
wait_for 120 t2_attached || { echo "violation: login-mid: not converged"; V=$((V + 1)); }
sleep 1
grep -q 'login .*: interrupted by the last stop .*LUNGUARD_KIND=action_interrupted' "$OUT/runs/login-mid.log" ||
    { echo "violation: login-mid: no action_interrupted alert"; V=$((V + 1)); }
kill -TERM "$pid"; wait "$pid"
keep_ok || { echo "violation: login-mid: pattern"; V=$((V + 1)); }
echo "op=login-mid killed=yes iscsiadm_in_flight=$in_flight converged=$(t2_attached && echo yes || echo no)" | tee -a "$RES"
lg_state_write vols.toml <"$LG_DRAFT/base.toml"
plain t2_detached

# --- a damaged database: refused, nothing done, until moved aside ----------------------------------------
for h in "$h1" "$h2"; do echo "- - -" >"/sys/class/scsi_host/host$h/scan"; done
settle
[ "$(luns_on "$h1")" = "0 1" ] || fail "rescan did not re-add LUN 1"
db=/var/lib/lunguard/db
# 64 KiB of random bytes over the start of sled's log (a damaged disk block)
dd if=/dev/urandom of="$db/db" bs=4k count=16 conv=notrunc 2>/dev/null || fail "damaging $db/db"
: >"$OUT/runs/damaged.log"
lunguard -v daemon --config "$LG_CONF" >>"$OUT/runs/damaged.log" 2>&1 &
pid=$!
wait "$pid"; drc=$?
sleep 2
rogue_kept=no; [ "$(luns_on "$h1")" = "0 1" ] && [ "$(luns_on "$h2")" = "0 1" ] && rogue_kept=yes
keeper_whole || { echo "violation: damaged: declared map not whole"; V=$((V + 1)); }
grep -q "the database $db is damaged" "$OUT/runs/damaged.log" || { echo "violation: damaged: no clear error"; V=$((V + 1)); }
mv "$db" "$db.damaged"
: >"$OUT/runs/moved-aside.log"
lunguard -v daemon --config "$LG_CONF" >>"$OUT/runs/moved-aside.log" 2>&1 &
pid=$!
wait_for 120 rogue_gone || { echo "violation: moved aside: rogue LUN not removed"; V=$((V + 1)); }
kill -TERM "$pid"; wait "$pid"
keep_ok || { echo "violation: damaged: pattern"; V=$((V + 1)); }
echo "op=damaged-db exit=$drc rogue_kept=$rogue_kept after_move_aside=$(rogue_gone && echo converged || echo not)" | tee -a "$RES"
grep -m1 'is damaged' "$OUT/runs/damaged.log" >"$OUT/damaged-message.txt"
echo "$(since_s "$start")" >"$OUT/kill-every-step-seconds.txt"
echo "$V" >"$OUT/violations.txt"
cat "$RES"
[ "$V" = 0 ] || fail "$V violations (see above)"
say "killed at every step of attach, detach and rogue removal; converged, nothing declared lost"
