#!/usr/bin/env bash
# Issue 8 goal 4: process spawns, CPU and wall time of `lunguard plan` in the VM (real kernel, 4
# multipath maps over 8 iSCSI paths), before and after asking device-mapper through its ioctls
# instead of spawning dmsetup. Medians of interleaved rounds; prints, asserts nothing.
#
# Usage: tests/vm/bench-dm-inspect.sh BEFORE_BIN [AFTER_BIN] [OUT_DIR] [ROUNDS]
#   BEFORE_BIN  a lunguard built from a commit that still spawns dmsetup every pass
#   AFTER_BIN   default target/debug/lunguard
# The host's strace (and its libraries) is copied into the guest when there is one, for the
# syscall counts (`strace -f -c -e trace=process,ioctl`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
before=${1:?usage: bench-dm-inspect.sh BEFORE_BIN [AFTER_BIN] [OUT_DIR] [ROUNDS]}
after=${2:-$top/target/debug/lunguard}
out=${3:-$(mktemp -d /tmp/lunguard-bench-out.XXXXXX)}
extra=$(mktemp -d /tmp/lunguard-bench.XXXXXX)
trap 'rm -rf "$extra"' EXIT
cp "$before" "$extra/lunguard-before"
echo "${4:-20}" >"$extra/rounds"
if st=$(command -v strace); then
    mkdir -p "$extra/lib"
    cp "$st" "$extra/strace"
    ldd "$st" | awk '/=> \// {print $3}' | grep -v -e '/libc\.so' -e '/ld-linux' | xargs -r cp -t "$extra/lib"
fi
LUNGUARD_BIN=$after LUNGUARD_VM_EXTRA=$extra LUNGUARD_VM_TIMEOUT=${LUNGUARD_VM_TIMEOUT:-1200} \
    "$here/run.sh" "$here/bench/dm-inspect.sh" "$out"
# Medians per run kind, the baseline (the measuring's own forks and time) subtracted.
awk '
    { n[$1]++; f[$1, n[$1]] = $2; c[$1, n[$1]] = $3; t[$1, n[$1]] = $4 }
    function med(a, k,   m, i, j, v, x) {
        m = n[k]; for (i = 1; i <= m; i++) v[i] = a[k, i]
        for (i = 2; i <= m; i++) { x = v[i]; for (j = i - 1; j > 0 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
        return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
    }
    END {
        bf = med(f, "baseline"); bc = med(c, "baseline"); bt = med(t, "baseline")
        printf "%-8s %6s %14s %12s %14s\n", "run", "rounds", "spawns/pass", "CPU ms", "wall ms"
        split("before after dmsetup", ks, " ")
        for (i = 1; i <= 3; i++) { k = ks[i]; if (!n[k]) continue
            printf "%-8s %6d %14d %12.0f %14.1f\n", k, n[k], med(f, k) - bf, (med(c, k) - bc) * 10, (med(t, k) - bt) / 1000 }
    }' "$out/rounds.txt"
echo "ioctl queries (the after binary's debug log, one pass):"
sed 's/^.*device-mapper answered/  device-mapper answered/' "$out/ioctl-debug.txt"
for b in before after; do
    [ -f "$out/strace-$b.txt" ] || continue
    echo "strace -f -c -e trace=process,ioctl, $b:"
    grep -E 'calls|execve|clone|wait4|ioctl|total' "$out/strace-$b.txt" | sed 's/^/  /'
done
echo "(out: $out)"
