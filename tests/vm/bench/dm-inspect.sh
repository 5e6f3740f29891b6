# Issue 8 goal 4, measured on the real kernel: what `lunguard plan` costs in processes, CPU and
# time when device-mapper is asked through its ioctls ("after", /share/bin/lunguard) rather than
# by spawning dmsetup ("before", /share/extra/lunguard-before). 4 multipath maps over 8 iSCSI
# paths, all declared (nothing to remove: the pass only observes, inspects and plans).
# Run by tests/vm/bench-dm-inspect.sh, which summarises $OUT/rounds.txt. Prints; asserts nothing.
. /share/lib.sh
X=/share/extra
ROUNDS=$(cat "$X/rounds" 2>/dev/null || echo 20)
iscsi_mpath_up
lg_config 0s
for l in 0 1 2 3; do lg_attach vols.toml "vol-$l" "$T" "$l" "$(lio_wwid "$T" "$l")" "$P1" "$P2"; done
settle

forks() { awk '/^processes/ {print $2}' /proc/stat; }
# CPU of the shell's reaped children (lunguard and whatever it ran), in clock ticks.
child_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
# Busybox's date has no %N; the monotonic clock in ns is the first line of /proc/timer_list.
now_us() { awk '/^now at/ {print int($3 / 1000); exit}' /proc/timer_list; }
[ -n "$(now_us)" ] || fail "no clock in /proc/timer_list"

# one NAME CMD...: one measured run, appended to rounds.txt as `NAME forks ticks micros`.
one() {
    name=$1; shift
    f0=$(forks); c0=$(child_ticks); t0=$(now_us)
    "$@" >/dev/null 2>&1
    t1=$(now_us); c1=$(child_ticks); f1=$(forks)
    echo "$name $((f1 - f0)) $((c1 - c0)) $((t1 - t0))" >>"$OUT/rounds.txt"
}
for b in "$X/lunguard-before" lunguard; do
    "$b" plan --config "$LG_CONF" >"$OUT/plan-$(basename "$b").txt" 2>&1 || fail "$b plan: $(cat "$OUT/plan-$(basename "$b").txt")"
done
: >"$OUT/rounds.txt"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    # The measuring itself forks (subshells, awk, date): `true` in place of lunguard is the baseline.
    one baseline true
    one before "$X/lunguard-before" plan --config "$LG_CONF"
    one after lunguard plan --config "$LG_CONF"
    i=$((i + 1))
done
# The three dmsetup queries the "before" pass made, alone.
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    one dmsetup sh -c 'dmsetup info -c --noheadings --separator "	" -o name,open; dmsetup status --target multipath; dmsetup table --target multipath'
    i=$((i + 1))
done
# The daemon's own figure for the ioctl queries (debug log).
lunguard -vv plan --config "$LG_CONF" 2>&1 >/dev/null | grep 'device-mapper answered' >"$OUT/ioctl-debug.txt"
if [ -x "$X/strace" ]; then
    for b in before after; do
        bin=lunguard; [ "$b" = before ] && bin=$X/lunguard-before
        LD_LIBRARY_PATH=$X/lib "$X/strace" -f -c -e trace=process,ioctl -o "$OUT/strace-$b.txt" \
            "$bin" plan --config "$LG_CONF" >/dev/null 2>&1
    done
fi
say "done"
