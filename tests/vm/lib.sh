# Helpers for VM scenarios (busybox ash, run as root in the guest). Each scenario starts with
#   . /share/lib.sh
# and fails with `fail MESSAGE` (exit 1). /share/out is copied back to the host by run.sh.
set -u
# Knobs from the host (run.sh's LUNGUARD_VM_ENV), e.g. LG_ROUNDS=5.
[ -f /share/env ] && . /share/env
OUT=/share/out
mkdir -p "$OUT"
INITIATOR=iqn.2026-11.test.lunguard:initiator
CFG=/sys/kernel/config/target
# Debian's busybox-static runs its own applets before PATH ("prefer applets"); its lsscsi and
# modprobe ignore the real tools' options, so the real ones are called by path.
lsscsi() { /usr/bin/lsscsi "$@"; }
modprobe() { /sbin/modprobe "$@"; }
rmmod() { /sbin/rmmod "$@"; }
lsmod() { /sbin/lsmod "$@"; }

say() { echo "scenario: $*"; }
fail() { echo "SCENARIO-FAIL: $*"; exit 1; }
# run CMD...: echo and run a command, failing the scenario if it fails.
run() { echo "+ $*"; "$@" || fail "command failed ($?): $*"; }
settle() { udevadm settle --timeout=30; }

# wait_for SECONDS CMD...: poll until CMD succeeds (0.2 s steps).
wait_for() {
    n=$(( $1 * 5 )); shift
    while [ "$n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2; n=$((n - 1))
    done
    return 1
}

# --- scsi_debug: two hosts, one target, LUNs with the same WWID on both (two paths per LUN) --------
scsi_debug_up() { # scsi_debug_up NLUNS
    run modprobe sd_mod
    run modprobe scsi_debug vpd_use_hostno=0 add_host=2 num_tgts=1 max_luns="$1"
    settle
}

# --- multipath -----------------------------------------------------------------------------------
multipathd_up() { # multipathd_up [friendly]: start multipathd with user_friendly_names yes|no
    ufn=no; [ "${1:-}" = friendly ] && ufn=yes
    sed -i "s/user_friendly_names .*/user_friendly_names $ufn/" /etc/multipath.conf
    run modprobe dm_multipath
    modprobe dm_service_time; modprobe dm_round_robin; modprobe scsi_dh_alua
    multipathd -d -s >/tmp/multipathd.log 2>&1 &
    wait_for 20 multipathd show daemon || fail "multipathd did not start: $(cat /tmp/multipathd.log)"
    multipath >/dev/null 2>&1
    settle
}
map_count() { ls /sys/block | grep -c '^dm-' || true; }

# --- LIO iSCSI target over loopback (configfs only) ------------------------------------------------
lio_up() {
    run modprobe target_core_mod
    run modprobe iscsi_target_mod
    [ -d "$CFG/iscsi" ] || mkdir "$CFG/iscsi"
}
# lio_target IQN NLUNS PORTAL...: a target with NLUNS ramdisk LUNs (8 MiB each), reachable on each
# portal, and an ACL for $INITIATOR that maps every LUN. Each backstore gets a unit serial: raw
# configfs LIO has none, and without it the LUN has no VPD 0x83 identifier, hence no WWID.
lio_target() {
    iqn=$1 n=$2; shift 2
    tpg=$CFG/iscsi/$iqn/tpgt_1
    mkdir -p "$tpg" || fail "mkdir $tpg"
    i=0
    while [ "$i" -lt "$n" ]; do
        lio_lun "$iqn" "$i"
        i=$((i + 1))
    done
    for p in "$@"; do mkdir "$tpg/np/$p" || fail "portal $p"; done
    echo 0 >"$tpg/attrib/authentication"
    echo 0 >"$tpg/attrib/generate_node_acls"
    echo 1 >"$tpg/enable"
}
# lio_tid IQN: a stable number per target (the rd_mcp HBA index must be numeric)
lio_tid() { printf '%d' "0x$(echo "$1" | md5sum | cut -c1-6)"; }
# lio_lun IQN LUN: create a ramdisk backstore and export it as LUN to $INITIATOR.
lio_lun() {
    iqn=$1 l=$2 tid=$(lio_tid "$1")
    tpg=$CFG/iscsi/$iqn/tpgt_1
    bs=$CFG/core/rd_mcp_$tid/lun$l
    mkdir -p "$bs" || fail "mkdir $bs"
    echo rd_pages=2048 >"$bs/control"
    echo "$(printf '%08x' "$tid")$(printf '%04d' "$l")0000feed" >"$bs/wwn/vpd_unit_serial"
    echo 1 >"$bs/enable"
    mkdir -p "$tpg/lun/lun_$l"
    ln -s "$bs" "$tpg/lun/lun_$l/lio_$l"
    lio_map "$iqn" "$l"
}
# lio_wwid IQN LUN: the WWID the kernel will report for that LUN (LIO's NAA 6 designator: the
# 6001405 prefix, then the unit serial's hex digits, zero-padded to 25).
lio_wwid() {
    serial="$(printf '%08x' "$(lio_tid "$1")")$(printf '%04d' "$2")0000feed"
    echo "naa.6001405${serial}00000"
}
lio_map() { # lio_map IQN LUN: export LUN to $INITIATOR
    acl=$CFG/iscsi/$1/tpgt_1/acls/$INITIATOR
    mkdir -p "$acl/lun_$2"
    ln -s "$CFG/iscsi/$1/tpgt_1/lun/lun_$2" "$acl/lun_$2/map_$2"
}
lio_unmap() { # lio_unmap IQN LUN: take LUN away from $INITIATOR (what a storage array's "terminate connection" does)
    acl=$CFG/iscsi/$1/tpgt_1/acls/$INITIATOR
    rm -f "$acl/lun_$2/map_$2"
    rmdir "$acl/lun_$2"
}

# --- open-iscsi initiator -------------------------------------------------------------------------
iscsid_up() { # iscsid_up [manual|auto]: node.session.scan for new node records
    scan=${1:-manual}
    echo "InitiatorName=$INITIATOR" >/etc/iscsi/initiatorname.iscsi
    sed -i "s/^node.session.scan = .*/node.session.scan = $scan/" /etc/iscsi/iscsid.conf
    grep -q '^node.session.scan' /etc/iscsi/iscsid.conf || echo "node.session.scan = $scan" >>/etc/iscsi/iscsid.conf
    run modprobe iscsi_tcp
    run modprobe sd_mod
    iscsid
    wait_for 10 iscsiadm -m session -P 0 2>&1 | grep -qv 'can not connect' || true
}
iscsi_login() { # iscsi_login IQN PORTAL...: discovery + login on each portal
    iqn=$1; shift
    for p in "$@"; do
        run iscsiadm -m discovery -t sendtargets -p "$p"
        run iscsiadm -m node -T "$iqn" -p "$p" --login
    done
    settle
}
session_host() { # session_host PORTAL: the scsi host number of the session on that portal
    for s in /sys/class/iscsi_session/session*; do
        c=$(ls -d "$s"/device/connection*/iscsi_connection/connection* 2>/dev/null | head -n 1)
        [ -n "$c" ] || continue
        a=$(cat "$c/persistent_address"):$(cat "$c/persistent_port")
        if [ "$a" = "$1" ]; then
            readlink -f "$s/device" | sed -n 's|.*/host\([0-9]*\)/session.*|\1|p'
            return 0
        fi
    done
    return 1
}

# --- recording fixtures ---------------------------------------------------------------------------
# copy_tree SRC DST: sysfs subtree into a plain tree. Regular files keep their contents (unreadable or
# write-only attributes become empty files), symlinks keep their relative link text. power/, trace/,
# mq/, queue/ and integrity/ are left out: large, and nothing lunguard reads.
copy_tree() {
    src=$1 dst=$2
    find "$src" \( -name power -o -name trace -o -name mq -o -name queue -o -name integrity \) -prune -o -print |
    while IFS= read -r f; do
        d=$dst${f#"$src"}
        if [ -L "$f" ]; then
            mkdir -p "$(dirname "$d")"; ln -sfn "$(readlink "$f")" "$d"
        elif [ -d "$f" ]; then
            mkdir -p "$d"
        else
            cat "$f" >"$d" 2>/dev/null || : >"$d"
        fi
    done
}
# record_fixture NAME: snapshot what lunguard reads into $OUT/fixtures/NAME (with the uevents recorded
# by the last uevents_start NAME / uevents_stop, if any)
record_fixture() {
    settle
    fx=$OUT/fixtures/$1
    rm -rf "$fx"; mkdir -p "$fx/sys" "$fx/proc/self" "$fx/commands"
    for c in scsi_host scsi_device scsi_disk iscsi_session iscsi_connection iscsi_host block; do
        [ -d "/sys/class/$c" ] && copy_tree "/sys/class/$c" "$fx/sys/class/$c"
    done
    copy_tree /sys/block "$fx/sys/block"
    # The device directories the class links point at: SCSI hosts (with their sessions, targets and
    # LUNs) and device-mapper devices.
    for h in /sys/class/scsi_host/host*; do
        [ -e "$h" ] || continue
        dev=$(readlink -f "$h/device")
        copy_tree "$dev" "$fx$dev"
    done
    for b in /sys/block/dm-*; do
        [ -e "$b" ] || continue
        dev=$(readlink -f "$b")
        copy_tree "$dev" "$fx$dev"
    done
    cat /proc/self/mountinfo >"$fx/proc/self/mountinfo"
    cat /proc/swaps >"$fx/proc/swaps"
    # lsscsi 0.31 takes -t or -u, not both.
    lsscsi -t >"$fx/commands/lsscsi-t.txt" 2>&1
    lsscsi -u >"$fx/commands/lsscsi-u.txt" 2>&1
    lsscsi -s >"$fx/commands/lsscsi-s.txt" 2>&1
    multipath -ll >"$fx/commands/multipath-ll.txt" 2>&1
    iscsiadm -m session -P 3 >"$fx/commands/iscsiadm-session-P3.txt" 2>&1
    dmsetup info -c >"$fx/commands/dmsetup-info-c.txt" 2>&1
    dmsetup table >"$fx/commands/dmsetup-table.txt" 2>&1
    uname -r >"$fx/commands/uname-r.txt"
    [ -f "/tmp/uevents.$1" ] && cp "/tmp/uevents.$1" "$fx/uevents.txt"
    say "recorded fixture $1: $(find "$fx" | wc -l) entries"
}
# Uevent recording: start before a transition, stop after it; kernel and udev sources with SEQNUM.
uevents_start() { udevadm monitor --kernel --udev --property >"/tmp/uevents.$1" 2>&1 & UEV_PID=$!; sleep 0.5; }
uevents_stop() { settle; sleep 0.5; kill "$UEV_PID" 2>/dev/null; wait "$UEV_PID" 2>/dev/null; }

# --- lunguard configuration in the guest ------------------------------------------------------------
LG_CONF=/etc/lunguard/lunguard.toml
LG_STATE=/etc/lunguard/state.d
# lg_config [GRACE]: enforce mode, a fresh database, the given grace period (default 0s)
lg_config() {
    mkdir -p "$LG_STATE" /var/lib/lunguard
    chmod 755 /etc/lunguard "$LG_STATE"
    cat >"$LG_CONF" <<EOT
mode = "enforce"
state_dir = "$LG_STATE"
database = "/var/lib/lunguard/db"
control_socket = "/run/lunguard/control.sock"
[policy]
grace = "${1:-0s}"
EOT
    chmod 644 "$LG_CONF"
}
# lg_attach FILE NAME TARGET LUN WWID PORTAL...: append an attachment (multipath when >1 portal)
lg_attach() {
    f=$LG_STATE/$1 name=$2 target=$3 lun=$4 wwid=$5; shift 5
    ps=$(for p in "$@"; do printf '"%s", ' "$p"; done | sed 's/, $//')
    mp=false; [ "$#" -gt 1 ] && mp=true
    {
        echo "[[attachment]]"
        echo "name = \"$name\""
        echo "transport = \"iscsi\""
        echo "target = \"$target\""
        echo "portals = [$ps]"
        echo "lun = $lun"
        [ -n "$wwid" ] && echo "wwid = \"$wwid\""
        echo "multipath = $mp"
        echo
    } >>"$f"
    chmod 644 "$f"
}
# wwid_of H:C:T:L
wwid_of() { cat "/sys/class/scsi_device/$1/device/wwid"; }
# map_of H:C:T:L: the dm name of the map holding that path (empty if none)
map_of() {
    disk=$(ls "/sys/class/scsi_device/$1/device/block" 2>/dev/null) || return 0
    for d in /sys/block/dm-*; do
        [ -e "$d/slaves/$disk" ] && cat "$d/dm/name"
    done
    return 0
}
# scan_luns PORTAL LUN...: the narrowed scan, exactly these LUNs on that portal's session
scan_luns() {
    h=$(session_host "$1") || fail "no session on $1"; shift
    for l in "$@"; do echo "0 0 $l" >"/sys/class/scsi_host/host$h/scan"; done
    settle
}

# iscsi_mpath_up [friendly]: the common starting point of the apply scenarios — LIO target $T with
# 4 LUNs on portals $P1 and $P2, logged in with scan = manual, LUNs 0-3 scanned on both sessions,
# multipathd with 4 maps. Sets h1 and h2 (the sessions' SCSI hosts).
T=iqn.2026-11.test.lunguard:target1
P1=127.0.0.1:3260 P2=127.0.0.2:3260
iscsi_mpath_up() {
    lio_up
    lio_target "$T" 4 "$P1" "$P2"
    iscsid_up manual
    iscsi_login "$T" "$P1" "$P2"
    scan_luns "$P1" 0 1 2 3
    scan_luns "$P2" 0 1 2 3
    multipathd_up "${1:-}"
    wait_for 30 sh -c '[ "$(ls /sys/block | grep -c ^dm-)" -ge 4 ]' || fail "expected 4 maps: $(multipath -ll)"
    h1=$(session_host "$P1") h2=$(session_host "$P2")
}

# lg_daemon_start: lunguard daemon in the background (log: $OUT/daemon.log), waits for READY.
lg_daemon_start() {
    lunguard -v daemon --config "$LG_CONF" >>"$OUT/daemon.log" 2>&1 &
    LG_PID=$!
    wait_for 60 grep -q 'first full observation' "$OUT/daemon.log" \
        || fail "daemon not ready: $(tail -n 30 "$OUT/daemon.log")"
}
# lg_daemon_stop: TERM, and the exit status must be 0.
lg_daemon_stop() {
    kill -TERM "$LG_PID"
    wait "$LG_PID"; rc=$?
    [ "$rc" = 0 ] || fail "daemon exit status $rc after TERM: $(tail -n 30 "$OUT/daemon.log")"
}
# no_lun HOST_A HOST_B LUN: the LUN is on neither session (and has no map)
no_lun() { [ ! -e "/sys/class/scsi_device/$1:0:0:$3" ] && [ ! -e "/sys/class/scsi_device/$2:0:0:$3" ]; }

# --- daemon scenarios (issue 4) ---------------------------------------------------------------------
# lg_daemon_up [FLAGS...]: start the daemon in the background like lg_daemon_start, with the given
# verbosity flags (default -v; -vv also logs every uevent and each "map in use" retry). Waits for
# a ready line that was not in the log before, so it also serves restarts.
lg_daemon_up() {
    [ "$#" -gt 0 ] || set -- -v
    n0=$(grep -c 'first full observation' "$OUT/daemon.log" 2>/dev/null) || n0=0
    # $LG_WRAP: a command the daemon runs under (e.g. setpriv with the unit's bounding set); it
    # must exec lunguard so that $! is the daemon's pid.
    ${LG_WRAP:-} lunguard "$@" daemon --config "$LG_CONF" >>"$OUT/daemon.log" 2>&1 &
    LG_PID=$!
    wait_for 60 sh -c "[ \"\$(grep -c 'first full observation' '$OUT/daemon.log')\" -gt $n0 ]" \
        || fail "daemon not ready: $(tail -n 30 "$OUT/daemon.log")"
}
# lg_daemon_kill9: SIGKILL the daemon (no cleanup of any kind runs) and reap it.
lg_daemon_kill9() {
    kill -KILL "$LG_PID"
    wait "$LG_PID"; rc=$?
    [ "$rc" = 137 ] || fail "daemon exit status $rc after KILL, expected 137"
}
# lg_state_write FILE: replace a state file the way editors and `sed -i` do: stdin goes to a temp
# file in the state directory (not named *.toml), which is then renamed over FILE.
lg_state_write() {
    tmp=$LG_STATE/.$1.tmp$$
    cat >"$tmp" || fail "writing $tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$LG_STATE/$1" || fail "mv $tmp $LG_STATE/$1"
}
# lg_draft FILE NAME TARGET LUN WWID PORTAL...: lg_attach into a draft directory ($LG_DRAFT), to be
# installed with `lg_state_write FILE <"$LG_DRAFT/FILE"`.
LG_DRAFT=/tmp/lunguard-draft
lg_draft() { mkdir -p "$LG_DRAFT"; ( LG_STATE=$LG_DRAFT; lg_attach "$@" ); }
# lg_config_add LINES: append to the config written by lg_config (its last section is [policy], so
# bare keys land there; start with a [section] line for others).
lg_config_add() { printf '%s\n' "$@" >>"$LG_CONF"; }
# luns_on HOST: the LUN numbers present on that SCSI host, sorted, space-separated
luns_on() {
    ls /sys/class/scsi_device 2>/dev/null | sed -n "s/^$1:0:0:\([0-9]*\)$/\1/p" | sort -n | tr '\n' ' ' | sed 's/ $//'
}
# only_luns HOST_A HOST_B "LUN LUN...": exactly these LUNs on both hosts (a wait_for predicate)
only_luns() { [ "$(luns_on "$1")" = "$3" ] && [ "$(luns_on "$2")" = "$3" ]; }
# maps_are N: exactly N device-mapper devices, each with 2 paths (a wait_for predicate)
maps_are() {
    [ "$(map_count)" = "$1" ] || return 1
    for d in /sys/block/dm-*; do
        [ -e "$d" ] || continue
        [ "$(ls "$d/slaves" | wc -l)" = 2 ] || return 1
    done
}
# log_lines PATTERN: lines of the daemon log matching PATTERN (grep -E), 0 if none
log_lines() { grep -cE "$1" "$OUT/daemon.log" 2>/dev/null || true; }

# --- the shipped unit's sandbox (issue 7) -----------------------------------------------------------
# unit_bounding_set: the unit's CapabilityBoundingSet= as setpriv's --bounding-set argument
# ("-all,+sys_admin,+net_admin,..."): what systemd leaves root when it starts lunguard.
unit_bounding_set() {
    caps=$(sed -n 's/^CapabilityBoundingSet=//p' /share/lunguard.service | tr ' ' '\n' | grep . |
        sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | tr '\n' ',' | sed 's/,$//')
    [ -n "$caps" ] || fail "no CapabilityBoundingSet= in /share/lunguard.service"
    echo "-all,$caps"
}

# --- sessions by target, portal and iface (issue 7) -------------------------------------------------
# session_of IQN PORTAL [IFACE]: the sid of the session to IQN at PORTAL (through IFACE, if given)
session_of() {
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s/targetname" ] || continue
        [ "$(cat "$s/targetname")" = "$1" ] || continue
        [ -z "${3:-}" ] || [ "$(cat "$s/ifacename" 2>/dev/null)" = "$3" ] || continue
        c=$(ls -d "$s"/device/connection*/iscsi_connection/connection* 2>/dev/null | head -n 1)
        [ -n "$c" ] || continue
        [ "$(cat "$c/persistent_address"):$(cat "$c/persistent_port")" = "$2" ] || continue
        echo "${s##*/session}"
        return 0
    done
    return 1
}
# host_of IQN PORTAL [IFACE]: the SCSI host number of that session
host_of() {
    sid=$(session_of "$@") || return 1
    readlink -f "/sys/class/iscsi_session/session$sid/device" | sed -n 's|.*/host\([0-9]*\)/session.*|\1|p'
}
# uptime_s: seconds since boot with centiseconds (busybox date has no sub-second format)
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# since_s T: seconds (2 decimals) from uptime T to now
since_s() { awk -v t="$1" '{ printf "%.2f\n", $1 - t }' /proc/uptime; }
# at_least A B: A >= B (decimal numbers)
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
