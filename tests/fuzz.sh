#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, libFuzzer on the pinned stable toolchain; docs/decisions.md),
# seeds their corpora from the recorded fixtures, runs each for SECONDS and prints, per target,
# executions, coverage and corpus size. Exits non-zero on any crash, hang (an input taking more
# than 1 s), out-of-memory (2 GiB) or leak: the failing input is left in
# target/fuzz/artifacts/TARGET/ (replay it: target/fuzz/…/release/TARGET FILE).
# Usage: tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 30 s, every target)
# The corpus grown by a run stays in target/fuzz/corpus/TARGET and seeds the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
all=(state_file config uevent sysfs_attr control)
targets=("${@:-${all[@]}}")
triple=x86_64-unknown-linux-gnu
out=target/fuzz
export CARGO_TARGET_DIR="$PWD/$out"

# The flags `cargo fuzz build --sanitizer none` passes, all stable -C options: libFuzzer's
# sanitizer-coverage instrumentation (inline 8-bit counters, PC table, comparison tracing, stack
# depth; no branch folding, which would hide comparisons). Debug assertions and overflow checks
# come from fuzz/Cargo.toml's profile. --target keeps the flags off build scripts and proc macros.
sancov=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    -Cllvm-args=-sanitizer-coverage-stack-depth
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    --cfg=fuzzing
)
RUSTFLAGS="${sancov[*]}" cargo build --locked --release --quiet \
    --manifest-path fuzz/Cargo.toml --target "$triple" --bins
bin=$out/$triple/release

# Seeds, regenerated each run from the fixtures (nothing checked in). Named by content hash.
seeds=$out/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{state_file,config,uevent,sysfs_attr,control}
put() { # put TARGET < content
    local tmp
    tmp=$(mktemp "$seeds/$1/.tmp.XXXXXX")
    cat >"$tmp"
    mv "$tmp" "$seeds/$1/$(sha1sum <"$tmp" | cut -c1-16)"
}
# put_tagged TARGET TAGBYTE FILE: the sysfs_attr target's first byte picks the parser.
put_tagged() { { printf "\\x$2"; cat "$3"; } | put "$1"; }

for f in state/example-iscsi.toml; do put state_file <"$f"; done
for f in state/lunguard.toml.example debian/lunguard.toml; do put config <"$f"; done
printf 'plan\n' | put control
printf 'history 7\n' | put control
printf 'history 18446744073709551616\n' | put control
printf 'rm -rf /\n' | put control

for fx in tests/fixtures/*/; do
    # Every recorded event, in both wire formats. A block of uevents.txt is a header line
    # (`KERNEL[…] add /devices/… (scsi)`) and its KEY=value lines.
    props=$(mktemp)
    emit() {
        [ -n "$action" ] || return 0
        { printf '%s@%s\0' "$action" "$devpath"; cat "$props"; } | put uevent
        local len
        len=$(stat -c %s "$props")
        # libudev header: prefix, magic (big-endian), header size, properties offset and length
        # (native endian, x86-64: little), filter hashes; 40 bytes.
        {
            printf 'libudev\0\xfe\xed\xca\xfe\x28\0\0\0\x28\0\0\0'
            printf "\\x$(printf %02x $((len & 255)))\\x$(printf %02x $((len >> 8 & 255)))\0\0"
            head -c 20 /dev/zero
            cat "$props"
        } | put uevent
        action=
        : >"$props"
    }
    action=
    while IFS= read -r line; do
        case $line in
        KERNEL\[*|UDEV*\[*)
            emit
            read -r _ action devpath _ <<<"$line"
            ;;
        *=*) [ -z "$action" ] || printf '%s\0' "$line" >>"$props" ;;
        esac
    done <"$fx/uevents.txt"
    emit
    rm -f "$props"

    while IFS= read -r -d '' f; do
        case ${f##*/} in
        vpd_pg83) put_tagged sysfs_attr 00 "$f" ;;
        wwid) put_tagged sysfs_attr 01 "$f" ;;
        dev) put_tagged sysfs_attr 03 "$f" ;;
        mountinfo) put_tagged sysfs_attr 04 "$f" ;;
        swaps) put_tagged sysfs_attr 05 "$f" ;;
        targetname) put_tagged sysfs_attr 06 "$f" ;;
        name) put_tagged sysfs_attr 08 "$f" ;;
        state) put_tagged sysfs_attr 09 "$f" ;;
        esac
    done < <(find "$fx" -type f \( -name vpd_pg83 -o -name wwid -o -name dev -o -name mountinfo \
        -o -name swaps -o -name targetname -o -name name -o -name state \) -print0)
    while IFS= read -r -d '' d; do
        printf '\x02%s' "${d##*/}" | put sysfs_attr
    done < <(find "$fx/sys" -type d -regex '.*/[0-9]+:[0-9]+:[0-9]+:[0-9]+' -print0)
    while IFS= read -r -d '' f; do
        { printf '\x07'; tr -d '\n' <"$f"; printf ':'; cat "${f%/*}/persistent_port"; } | put sysfs_attr
    done < <(find "$fx/sys" -type f -name persistent_address -print0)
done

# A hang is an input that takes more than 1 s. libFuzzer times inputs on the wall clock, and on a
# loaded machine a process can stall for seconds between two instructions; so a timeout is
# replayed alone (-runs=3, the same limit) and fails the run only if the input is slow again.
# A stall that does not reproduce is reported and fuzzing resumes for the rest of the budget.
fail=0
printf '%-11s %6s %10s %8s %6s %7s  %s\n' target secs execs exec/s cov corpus result
for t in "${targets[@]}"; do
    corpus=$out/corpus/$t
    art=$out/artifacts/$t
    rm -rf "$art"
    mkdir -p "$corpus" "$art"
    log=$out/$t.log
    : >"$log"
    left=$secs execs=0 cov= result=ok stalls=0
    while [ "$left" -gt 0 ]; do
        began=$SECONDS
        set +e
        "$bin/$t" -max_total_time="$left" -timeout=1 -rss_limit_mb=2048 -max_len=65536 \
            -print_final_stats=1 -artifact_prefix="$art/" "$corpus" "$seeds/$t" >"$log.run" 2>&1
        rc=$?
        set -e
        cat "$log.run" >>"$log"
        left=$((left - (SECONDS - began)))
        # (|| true: under pipefail a grep that finds nothing would end the script unreported.)
        e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.run" | tail -n1)
        execs=$((execs + ${e:-0}))
        c=$(grep -o 'cov: [0-9]*' "$log.run" | tail -n1 | cut -d' ' -f2 || true)
        cov=${c:-$cov}
        [ "$rc" -ne 0 ] || break
        slow=$(grep -o "timeout-[0-9a-f]*" "$log.run" | tail -n1 || true)
        if [ "$rc" -eq 70 ] && [ -n "$slow" ] &&
            "$bin/$t" -timeout=1 -runs=3 "$art/$slow" >>"$log" 2>&1; then
            stalls=$((stalls + 1))
            mv "$art/$slow" "$art/stall-${slow#timeout-}"
            continue
        fi
        fail=1
        result="FAILED (exit $rc): $(grep -m1 -E '^==[0-9]+== ERROR|ALARM|panicked|deadly signal|out-of-memory' "$log.run" || true)"
        result+=" artifacts: $(ls "$art" | tr '\n' ' ')log: $log"
        break
    done
    rm -f "$log.run"
    [ "$stalls" -eq 0 ] || result+=" ($stalls machine stalls over 1 s replayed fast: $art/stall-*)"
    rate=$((execs / (secs > 0 ? secs : 1)))
    n=$(find "$corpus" -type f | wc -l)
    printf '%-11s %6s %10s %8s %6s %7s  %s\n' "$t" "$secs" "$execs" "$rate" "${cov:-?}" "$n" "$result"
done
exit "$fail"
