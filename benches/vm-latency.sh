#!/usr/bin/env bash
# Issue 8, goal 6: the real kernel's add of a rogue LUN -> lunguard's `delete` write, as a
# distribution. Boots the test VM (TCG) with tests/vm/scenarios/daemon-rescan.sh (the daemon at
# grace 0; each round another tool's "- - -" rescan re-adds LUN 2 on both sessions) and writes the
# figures into docs/benchmarks-vm.md between its "figures" markers; the hand-written breakdown
# around them stays. benches/run.sh appends that file to docs/benchmarks.md. Prints and writes
# figures; asserts nothing about time.
#
#   bash benches/vm-latency.sh                 debug build, 20 rounds, daemon at -v
#   bash benches/vm-latency.sh --release       release build
#   bash benches/vm-latency.sh --vv            daemon at -vv: every uevent and each pass's phases
#                                              in the log (more log writes: slower rounds)
# Options: --rounds N (default 20), --out DIR (keep the guest's files there; default a temp dir),
#          --doc FILE (default docs/benchmarks-vm.md), --from DIR (no VM: re-read a kept DIR)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

profile=debug rounds=20 verbose=-v out="" doc=docs/benchmarks-vm.md from=""
while [ $# -gt 0 ]; do
    case "$1" in
        --release) profile=release ;;
        --vv) verbose=-vv ;;
        --rounds) rounds="$2"; shift ;;
        --out) out="$2"; shift ;;
        --doc) doc="$2"; shift ;;
        --from) from="$2"; shift ;;
        *) echo "usage: bash benches/vm-latency.sh [--release] [--vv] [--rounds N] [--out DIR] [--doc FILE] [--from DIR]" >&2; exit 2 ;;
    esac
    shift
done
cmd="bash benches/vm-latency.sh"
if [ "$profile" = release ]; then cmd="$cmd --release"; fi
if [ "$verbose" = -vv ]; then cmd="$cmd --vv"; fi
cmd="$cmd --rounds $rounds"
if [ -n "$from" ]; then
    dir=$from
    [ -f "$dir/run.txt" ] && cmd=$(cat "$dir/run.txt")
else
    if [ "$profile" = release ]; then cargo build --release --bin lunguard >&2; else cargo build --bin lunguard >&2; fi
    if [ -n "$out" ]; then dir=$out; rm -rf "$dir"; mkdir -p "$dir"; else
        dir=$(mktemp -d "${TMPDIR:-/tmp}/lunguard-vm-latency.XXXXXX"); trap 'rm -rf "$dir"' EXIT
    fi
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    # The VM's CPU time over its wall time: how much of a core TCG got on this (shared) host.
    exec 3>&2
    TIMEFORMAT='%R %U %S'
    { time LUNGUARD_VM_TIMEOUT=${LUNGUARD_VM_TIMEOUT:-900} LUNGUARD_BIN=target/$profile/lunguard \
        LUNGUARD_VM_ENV="LG_ROUNDS=$rounds LG_VERBOSE=$verbose" \
        tests/vm/run.sh tests/vm/scenarios/daemon-rescan.sh "$dir" >&3 2>&3; } 2>"$dir/time.txt"
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    share=$(awk '{ printf "%.0f", ($2 + $3) / $1 * 100 }' "$dir/time.txt")
    {
        echo "$cmd"
    } >"$dir/run.txt"
    echo "$profile build; host load average (1, 5, 15 min) $load0 before, $load1 after; the VM had $share % of a core on average (its CPU time over its wall time)" >"$dir/machine.txt"
fi

# nearest-rank percentile of a sorted column
pct() { awk -v q="$1" '{ v[NR] = $1 } END { i = int(q * NR); if (i < q * NR) i++; if (i < 1) i = 1; printf "%.0f", v[i] }'; }
dist() { # dist FILE: "p50 | p99 | min | max" (ms) of the numbers in FILE
    local s; s=$(sort -n "$1")
    echo "$(pct 0.5 <<<"$s") | $(pct 0.99 <<<"$s") | $(head -n 1 <<<"$s" | awk '{printf "%.0f", $1}') | $(tail -n 1 <<<"$s" | awk '{printf "%.0f", $1}')"
}
r=$dir/rounds.txt
n=$(wc -l <"$r")
cut -d' ' -f2 "$r" >"$dir/d-path1"
awk '$6 != "-" { d = ($6 > $4 ? $6 : $4); printf "%.1f\n", (d - $3) * 1000 }' "$r" >"$dir/d-lun"
awk '$7 != "-" { printf "%.1f\n", ($7 - $3) * 1000 }' "$r" >"$dir/d-udev"
awk '$8 != "-" { printf "%.1f\n", ($8 - $3) * 1000 }' "$r" >"$dir/d-map"
maps=$(grep -c ' map$' "$r" || true)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
kernel=$(sed -n 's/.*Linux version \([^ ]*\).*/\1/p' "$dir/dmesg.txt" 2>/dev/null | head -n 1 || true)

fig=$(mktemp)
{
    echo "<!-- figures: written by \`$cmd\`; edit outside these markers -->"
    echo "Measured $(date -u +%Y-%m-%d): $(cat "$dir/machine.txt" 2>/dev/null || echo "build unknown"). Host: $(nproc) cores, $cpu. Guest: QEMU TCG, 1 vCPU, 1 GiB, Debian 12 kernel ${kernel:-?}; LIO iSCSI over loopback, 2 sessions, multipathd (\`find_multipaths greedy\`)."
    echo
    p50=$(sort -n "$dir/d-path1" | pct 0.5)
    met=no; if [ "$p50" -le 100 ]; then met=yes; fi
    echo "| $n rounds (ms) | p50 | p99 | min | max | goal met (p50 ≤ 100 ms) |"
    echo "|---|---|---|---|---|---|"
    echo "| **kernel \`add\` of path 1 → \`delete\` written for it** | $(dist "$dir/d-path1") | $met |"
    echo "| kernel \`add\` of path 1 → both paths' \`delete\` written | $(dist "$dir/d-lun") | — |"
    if [ -s "$dir/d-udev" ]; then echo "| kernel \`add\` → udev done with it (the daemon hears of it then) | $(dist "$dir/d-udev") | — |"; fi
    if [ -s "$dir/d-map" ]; then echo "| kernel \`add\` → multipathd's map (\`add\` of dm-N), rounds with a map | $(dist "$dir/d-map") | — |"; fi
    echo
    echo "multipathd built a map over the rogue LUN before lunguard's delete in **$maps of $n** rounds"
    echo "(then the pass flushes the map first)."
    if grep -q 'pass prepared: ' "$dir/daemon.log" 2>/dev/null; then
        echo
        echo "Phases of every pass (the daemon's \`pass prepared\` / \`pass executed\` debug lines), ms:"
        echo
        echo "| phase | passes | median | max |"
        echo "|---|---|---|---|"
        grep -oE 'pass (prepared|executed): .*' "$dir/daemon.log" | tr ' ' '\n' |
            sed -n 's/^\([a-z_]*\)=\([0-9.]*\)ms$/\1 \2/p' |
            awk '{ n[$1]++; v[$1, n[$1]] = $2; if (!($1 in o)) { o[$1] = ++k; name[k] = $1 } }
                 END { for (i = 1; i <= k; i++) { p = name[i]; m = n[p]
                         for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[p, b] < v[p, a]) { t = v[p, a]; v[p, a] = v[p, b]; v[p, b] = t }
                         printf "| %s | %d | %.0f | %.0f |\n", p, m, v[p, int((m + 1) / 2)], v[p, m] } }'
    fi
    echo "<!-- /figures -->"
} >"$fig"
if [ -f "$doc" ] && grep -q '^<!-- figures' "$doc"; then
    awk -v f="$fig" '
        /^<!-- figures/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /^<!-- \/figures -->/ { skip = 0; next }
        !skip' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
else
    { echo "## Goal 6 — real kernel"; echo; cat "$fig"; } >"$doc"
fi
cat "$fig"
rm -f "$fig"
echo "vm-latency: wrote $doc" >&2
