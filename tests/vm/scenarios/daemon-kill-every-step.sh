# Issue 10, section 2 — SIGKILL right after the intent of step N is durable, for every N of three
# operations, in one boot (the daemon's test aid LUNGUARD_TEST_KILL_AFTER_INTENT=N):
#   attach  declare target $T2's LUN 0 (multipath, 2 portals): logins, narrowed scans, map
#   detach  drop it again: buffer flush, map flush, path deletes, logouts, node records
#   rogue   a broad `- - -` rescan re-adds $T's undeclared LUN 1: map flush, path deletes
# Each operation first runs once with the hook armed past any step (n=count): it converges without
# dying, and the hook's "intent I durable" lines say how many steps L it has. Then for N = 1, 2, ...,
# L the daemon starts (enforce, grace 0) with the hook at N and must die by SIGKILL (the hook's line
# names the action). After a kill it restarts without the hook and must converge,
# alert the interrupted action (action_interrupted, same action text), keep the declared LUN
# ($T LUN 0: map with 2 paths, checked after the kill and after the restart) and its checksummed
# pattern. The detach's subject carries a pattern too, written without sync just before the
# detach and read back after the next attach.
# Reduced run (CI): LG_KILL_STRIDE=k kills at N = 1, 1+k, 1+2k, ... and always at L, so every
# operation is still killed at its first and its last step (and at least twice when L > 1); the
# default k = 1 is every step (the release run, docs/testing.md). LG_KILL_STRIDE=k also skips
# nothing else: the login, flood and database parts run in both forms.
# Per-N results: $OUT/kill-every-step.txt, one line per run:
#   op=OP n=N|count killed=yes|no action="..." converged=yes interrupted_alerted=yes|- steps=L|-
#   node_records=R violations=K      (R: $T2's node records left, 0 after a detach)
# A detach killed between a logout and its "delete node record" step once left that node record
# behind (node records were not observed); the restart must now delete it: a record left after a
# detach converged is a violation (node_record_left).
# Then: SIGKILL while `iscsiadm --login` runs; SIGKILL during a uevent flood (change events on every
# disk and a broad rescan that re-adds the rogue LUN), restarted while the flood goes on; a damaged
# database.
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

# Both LUNs' WWIDs are in multipathd's wwids file before lunguard starts (another tool's entries):
# lunguard neither adds nor removes them, so each operation's steps are the device work this
# scenario kills (the wwids-file steps have their own scenario, daemon-claimants.sh).
mkdir -p /etc/multipath
for w in "$(lio_wwid "$T" 0)" "$(lio_wwid "$T2" 0)"; do run multipath -a "3${w#naa.}"; done
lg_config 0s
lg_draft base.toml keep "$T" 0 "$(lio_wwid "$T" 0)" "$P1" "$P2"
lg_state_write vols.toml <"$LG_DRAFT/base.toml"
cp "$LG_DRAFT/base.toml" "$LG_DRAFT/with-t2.toml"
STRIDE=${LG_KILL_STRIDE:-1}
case $STRIDE in '' | *[!0-9]* | 0) fail "LG_KILL_STRIDE=$STRIDE: a positive integer" ;; esac
echo "$STRIDE" >"$OUT/kill-stride.txt"
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
# $T2's node records (0 once detached)
t2_node_records() { iscsiadm -m node 2>/dev/null | grep -c " $T2\$" || true; }
rogue_gone() { [ "$(luns_on "$h1")" = 0 ] && [ "$(luns_on "$h2")" = 0 ] && [ "$(map_count)" = 1 ]; }

# --- one run: start with the hook at N, kill or converge, restart, check ----------------------------
# run_n OP N CONVERGED_PREDICATE: appends a result line; returns 1 when the daemon was not killed.
# N=count arms the hook past any step: the run must converge, and sets STEPS to its intents.
V=0 STEPS=0
run_n() {
    rop=$1 rn=$2 pred=$3 log=$OUT/runs/$1-$2.log viol=0 hook=$2 steps=-
    [ "$rn" = count ] && hook=100000
    : >"$log"
    LUNGUARD_TEST_KILL_AFTER_INTENT=$hook lunguard -v daemon --config "$LG_CONF" >>"$log" 2>&1 &
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
        if ! wait_for 60 "$pred"; then
            echo "violation: $rop n=$rn not converged after the restart"; viol=$((viol + 1))
            if [ "$rop" = detach ] && [ "$(t2_node_records)" != 0 ]; then
                # Was the known gap; now the planner deletes such a record. Cleaned so the loop goes on.
                echo "violation: $rop n=$rn node_record_left: $(iscsiadm -m node -T "$T2" 2>&1 | tr '\n' ' ')"
                viol=$((viol + 1))
                iscsiadm -m node -T "$T2" -o delete >/dev/null 2>&1
            fi
        fi
        alerted=no
        # the restart's alert: "<action>: interrupted by the last stop (journal #id)"
        grep -F "$action: interrupted by the last stop" "$log" | grep -q 'LUNGUARD_KIND=action_interrupted' && alerted=yes
        [ "$alerted" = yes ] || { echo "violation: $rop n=$rn no action_interrupted alert for: $action"; viol=$((viol + 1)); }
    else
        "$pred" || { echo "violation: $rop n=$rn neither killed nor converged in 120 s"; viol=$((viol + 1)); }
        [ "$rn" = count ] || { echo "violation: $rop n=$rn not killed: fewer steps than counted"; viol=$((viol + 1)); }
        alerted=-
        # one line per durable intent but the armed one (which was never reached)
        steps=$(grep -c 'intent [0-9]* durable: ' "$log" || true)
        STEPS=$steps
    fi
    [ "$rn" != count ] || [ "$killed" = no ] || { echo "violation: $rop counting run killed at $hook"; viol=$((viol + 1)); }
    keeper_whole || { echo "violation: $rop n=$rn declared map $keep not whole"; viol=$((viol + 1)); }
    keep_ok || { echo "violation: $rop n=$rn declared LUN's pattern changed"; viol=$((viol + 1)); }
    kill -TERM "$pid"; wait "$pid"; src=$?
    [ "$src" = 0 ] || { echo "violation: $rop n=$rn exit status $src after TERM"; viol=$((viol + 1)); }
    echo "op=$rop n=$rn killed=$killed action=\"$action\" converged=$("$pred" && echo yes || echo no) interrupted_alerted=$alerted steps=$steps node_records=$(t2_node_records) violations=$viol" | tee -a "$RES"
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

# kill_ns L: where an operation of L steps is killed: 1, 1+k, 1+2k, ... below L, then L.
# (called in $(...): check_steps, in the scenario's shell, fails the scenario on a bad count)
check_steps() { [ "$STEPS" -ge 1 ] && [ "$STEPS" -le 30 ] || fail "$1: an operation of $STEPS steps?"; }
kill_ns() {
    kn=1
    while [ "$kn" -lt "$1" ]; do echo "$kn"; kn=$((kn + STRIDE)); done
    echo "$1"
}
first_of() { set -- $1; echo "${1:-}"; }
rest_of() { set -- $1; [ "$#" -gt 0 ] && shift; echo "$*"; }

start=$(uptime_s)
# --- attach and detach, interleaved: each op's run leaves the start of the other's ---------------------
# (once an op's list is done, its turn is a plain run without the hook)
plain() { # plain PREDICATE: a daemon without the hook brings the host there
    lg_daemon_up; wait_for 120 "$1" || fail "plain run: not $1"; lg_daemon_stop
}
a_todo=count d_todo=count ka=0 kd=0
while [ -n "$a_todo" ] || [ -n "$d_todo" ]; do
    t2_detached || fail "attach: T2 not detached before the run ($(t2_node_records) node records)"
    lg_state_write vols.toml <"$LG_DRAFT/with-t2.toml"
    if [ -n "$a_todo" ]; then
        n=$(first_of "$a_todo"); a_todo=$(rest_of "$a_todo")
        run_n attach "$n" t2_attached && ka=$((ka + 1))
        [ "$n" = count ] && { check_steps attach; a_todo=$(kill_ns "$STEPS"); }
    else
        plain t2_attached
    fi
    t2_pattern_ok || { echo "violation: T2's pattern changed across a detach/attach"; V=$((V + 1)); }
    t2_pattern_write
    lg_state_write vols.toml <"$LG_DRAFT/base.toml"
    if [ -n "$d_todo" ]; then
        n=$(first_of "$d_todo"); d_todo=$(rest_of "$d_todo")
        run_n detach "$n" t2_detached && kd=$((kd + 1))
        [ "$n" = count ] && { check_steps detach; d_todo=$(kill_ns "$STEPS"); }
    else
        plain t2_detached
    fi
done
# the last detach's pattern, after one more attach
lg_state_write vols.toml <"$LG_DRAFT/with-t2.toml"
plain t2_attached
t2_pattern_ok || { echo "violation: T2's pattern changed across the last detach/attach"; V=$((V + 1)); }
lg_state_write vols.toml <"$LG_DRAFT/base.toml"
plain t2_detached
echo "$T2_CHECKS" >"$OUT/t2-pattern-checks.txt"
say "attach and detach: $ka and $kd kills, $(since_s "$start") s"

# --- rogue LUN: a broad rescan re-adds $T's LUN 1 --------------------------------------------------------
r_todo=count kr=0
while [ -n "$r_todo" ]; do
    rogue_gone || fail "rogue: LUN 1 present before the rescan"
    for h in "$h1" "$h2"; do echo "- - -" >"/sys/class/scsi_host/host$h/scan"; done
    settle
    [ "$(luns_on "$h1")" = "0 1" ] && [ "$(luns_on "$h2")" = "0 1" ] || fail "rescan did not re-add LUN 1: $(ls /sys/class/scsi_device)"
    wait_for 30 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 2 ]' || fail "no map for the rogue LUN: $(multipath -ll)"
    n=$(first_of "$r_todo"); r_todo=$(rest_of "$r_todo")
    run_n rogue "$n" rogue_gone && kr=$((kr + 1))
    [ "$n" = count ] && { check_steps rogue; r_todo=$(kill_ns "$STEPS"); }
done
say "rogue: $kr kills, $(since_s "$start") s"

# --- SIGKILL during a uevent flood ---------------------------------------------------------------------
# A change event on every disk and map, LG_FLOOD_ROUNDS rounds (default 25; the reduced CI run
# uses fewer: udev works through each round for long seconds under TCG), each a kernel and a udev
# event, with a broad
# rescan in round 3 that re-adds the rogue LUN; the daemon is SIGKILLed once the rogue LUN is there
# and the flood still runs (the writer, or udev's queue of its events), and restarted while it goes
# on. Then: converged (rogue removed, $T2 still detached), the declared map whole, its pattern
# intact. (An unbounded flood of 2,500 events left udev busy for minutes under TCG.)
: >"$OUT/runs/flood.log"
rm -f /tmp/flood-sent
lunguard -v daemon --config "$LG_CONF" >>"$OUT/runs/flood.log" 2>&1 &
pid=$!
wait_for 120 grep -q 'first full observation' "$OUT/runs/flood.log" || fail "flood: daemon not ready"
(
    i=0 sent=0
    while [ "$i" -lt "${LG_FLOOD_ROUNDS:-25}" ]; do
        for u in /sys/block/sd*/uevent /sys/block/dm-*/uevent; do
            echo change >"$u" 2>/dev/null && sent=$((sent + 1))
        done
        [ "$i" = 3 ] && for h in "$h1" "$h2"; do echo "- - -" >"/sys/class/scsi_host/host$h/scan"; done
        i=$((i + 1))
    done
    echo "$sent" >/tmp/flood-sent
) &
fpid=$!
rogue_there() { [ "$(luns_on "$h1")" = "0 1" ]; }
wait_for 60 rogue_there || say "flood: the rogue LUN was not seen on host$h1 (removed already?)"
sleep 1
# in progress: the writer still writes, or udev still has its events queued
in_flood() { kill -0 "$fpid" 2>/dev/null || ! udevadm settle --timeout=0 >/dev/null 2>&1; }
flood_running=no; in_flood && flood_running=yes
kill -KILL "$pid"; wait "$pid"; frc=$?
[ "$frc" = 137 ] || { echo "violation: flood: exit $frc after SIGKILL"; V=$((V + 1)); }
[ "$flood_running" = yes ] || { echo "violation: flood: over before the kill"; V=$((V + 1)); }
keeper_whole || { echo "violation: flood: declared map not whole after the kill"; V=$((V + 1)); }
echo "--- restart" >>"$OUT/runs/flood.log"
lunguard -v daemon --config "$LG_CONF" >>"$OUT/runs/flood.log" 2>&1 &
pid=$!
restarted_in_flood=no; in_flood && restarted_in_flood=yes
# Its first pass (ready is logged after it) works through the flood's udev backlog and removes the
# rogue LUN: under TCG on a loaded 2-core host it took over 120 s, once over 300 s, while the host
# converged. Recorded (ready_s), not a violation: what must hold is checked below.
r0=$(uptime_s)
if wait_for 300 sh -c "sed -n '/^--- restart/,\$p' '$OUT/runs/flood.log' | grep -q 'first full observation'"; then
    ready_s=$(since_s "$r0")
else
    ready_s=over300
fi
wait "$fpid"
sent=$(cat /tmp/flood-sent 2>/dev/null || echo 0)
# udev drains its queue before the next part (a login's multipath waits on it)
for _ in 1 2 3 4; do udevadm settle --timeout=60 && break; done
wait_for 120 rogue_gone || { echo "violation: flood: rogue LUN not removed: $(ls /sys/class/scsi_device)"; V=$((V + 1)); }
t2_detached || { echo "violation: flood: $T2 not detached"; V=$((V + 1)); }
keeper_whole || { echo "violation: flood: declared map not whole"; V=$((V + 1)); }
keep_ok || { echo "violation: flood: declared LUN's pattern changed"; V=$((V + 1)); }
kill -TERM "$pid"; wait "$pid"; frc=$?
[ "$frc" = 0 ] || { echo "violation: flood: exit status $frc after TERM"; V=$((V + 1)); }
echo "op=flood-kill killed=yes flood_running=$flood_running restarted_in_flood=$restarted_in_flood change_events=$sent ready_s=$ready_s converged=$(rogue_gone && t2_detached && keeper_whole && keep_ok && echo yes || echo no)" | tee -a "$RES"
say "flood: $(since_s "$start") s"

# --- SIGKILL while a login runs (iscsiadm in flight, not just its intent) ------------------------------
lg_state_write vols.toml <"$LG_DRAFT/with-t2.toml"
: >"$OUT/runs/login-mid.log"
# The hook armed past any step only prints "intent 1 durable: login ..." when the login's intent is
# on disk and its iscsiadm calls start (the info line "login ..." comes after the login is done,
# too late: the kill then fell after the outcome too, and no interrupted step was alerted).
LUNGUARD_TEST_KILL_AFTER_INTENT=100000 lunguard -v daemon --config "$LG_CONF" >>"$OUT/runs/login-mid.log" 2>&1 &
pid=$!
wait_for 120 grep -q 'intent 1 durable: login ' "$OUT/runs/login-mid.log" || fail "no login started: $(tail -n 20 "$OUT/runs/login-mid.log")"
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
