#!/usr/bin/env bash
# Checks the built Debian package (after `cargo deb --locked`): exactly the expected files with
# the expected owners and modes, the control fields, the conffiles, the maintainer scripts,
# a stripped binary that names its version and commit, a `lunguard check` that passes on the
# freshly unpacked /etc/lunguard, man pages that render without warnings, and lintian.
# Fails (never skips) when the package or a tool is missing.
# Usage: tests/package-contents.sh [PATH.deb]   (default target/debian/lunguard_<version>_amd64.deb)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
deb=${1:-target/debian/lunguard_${version}_amd64.deb}
T="timeout 120"
fail=0
bad() { echo "package-contents: FAIL: $*" >&2; fail=1; }

[ -f "$deb" ] || { echo "package-contents: FAIL: no package at $deb (build it: cargo deb --locked)" >&2; exit 1; }
for tool in dpkg-deb readelf man lintian; do
    command -v "$tool" >/dev/null || { echo "package-contents: FAIL: $tool missing (bash tests/host-deps.sh)" >&2; exit 1; }
done

# --- Files: "mode owner path", regular files only, from the source tree -------------------
expected() {
    f() { printf '%s root %s\n' "$1" "$2"; }
    f -rwxr-xr-x ./usr/sbin/lunguard
    f -rw-r--r-- ./usr/lib/systemd/system/lunguard.service
    f -rw-r--r-- ./usr/lib/systemd/catalog/lunguard.catalog
    f -rw-r--r-- ./usr/lib/modules-load.d/lunguard.conf
    for r in rules/*.rules; do f -rw-r--r-- "./usr/lib/udev/rules.d/${r#rules/}"; done
    f -rw-r--r-- ./etc/lunguard/lunguard.toml
    f -rw-r--r-- ./etc/lunguard/state.d/README
    for m in docs/man/*.[58]; do
        f -rw-r--r-- "./usr/share/man/man${m##*.}/${m#docs/man/}.gz"
    done
    f -rw-r--r-- ./usr/share/bash-completion/completions/lunguard
    f -rw-r--r-- ./usr/share/zsh/vendor-completions/_lunguard
    f -rw-r--r-- ./usr/share/fish/vendor_completions.d/lunguard.fish
    f -rw-r--r-- ./usr/share/lintian/overrides/lunguard
    for d in copyright changelog.gz LICENSE-MIT LICENSE-APACHE README.md; do
        f -rw-r--r-- "./usr/share/doc/lunguard/$d"
    done
    for d in docs/*.md; do f -rw-r--r-- "./usr/share/doc/lunguard/${d#docs/}"; done
    f -rw-r--r-- ./usr/share/doc/lunguard/examples/lunguard.toml.example
    f -rw-r--r-- ./usr/share/doc/lunguard/examples/example-iscsi.toml
}
# Owners as "root" whether tar stored names (root/root) or ids (0/0, what cargo-deb writes).
listing=$($T dpkg-deb -c "$deb" | awk '{ if ($2 == "0/0" || $2 == "root/root") $2 = "root"; print }')
actual_files=$(awk '$1 !~ /^d/ {print $1, $2, $6}' <<<"$listing" | sort)
if ! diff_out=$(diff <(expected | sort) <(echo "$actual_files")); then
    bad "file list differs (< expected, > in the package):"$'\n'"$diff_out"
fi
# Directories: root-owned 0755, and /etc/lunguard/state.d among them (lunguard check needs it).
odd_dirs=$(awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root") {print}' <<<"$listing")
[ -z "$odd_dirs" ] || bad "directories not root-owned 0755:"$'\n'"$odd_dirs"
grep -q ' \./etc/lunguard/state\.d/$' <<<"$listing" || bad "no /etc/lunguard/state.d/ directory"

# --- Control fields and conffiles ------------------------------------------------------------
field() { $T dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = lunguard ] || bad "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || bad "Version: $(field Version), Cargo.toml says $version"
[ "$(field Architecture)" = amd64 ] || bad "Architecture: $(field Architecture)"
[ "$(field Section)" = admin ] || bad "Section: $(field Section)"
[[ "$(field Depends)" == *libc6* ]] || bad "Depends: $(field Depends) (no libc6)"
[ "$(field Recommends)" = "open-iscsi, multipath-tools" ] || bad "Recommends: $(field Recommends)"
head -n1 debian/changelog | grep -qF "lunguard ($version)" ||
    bad "debian/changelog's newest entry is not version $version"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$T dpkg-deb -e "$deb" "$work/control"
printf '/etc/lunguard/lunguard.toml\n/etc/lunguard/state.d/README\n' |
    diff - "$work/control/conffiles" >/dev/null || bad "conffiles: $(cat "$work/control/conffiles")"

# --- Maintainer scripts ------------------------------------------------------------------------
for s in postinst prerm postrm; do
    [ -x "$work/control/$s" ] || { bad "no executable $s"; continue; }
    sh -n "$work/control/$s" || bad "$s: shell syntax error"
    ! grep -q '#DEBHELPER#' "$work/control/$s" || bad "$s: #DEBHELPER# left unreplaced"
done
want() { grep -qF -- "$2" "$work/control/$1" || bad "$1 lacks: $2"; }
want postinst 'deb-systemd-helper enable lunguard.service'   # enabled on first install
want postinst '_dh_action=restart'                           # restarted on upgrade
want postinst '_dh_action=start'                             # started on install
want postinst 'modprobe -a sd_mod dm_mod'                    # majors registered before the start (device policy)
want prerm 'deb-systemd-invoke stop lunguard.service'        # stopped on remove
want postrm 'deb-systemd-helper purge lunguard.service'      # enablement forgotten on purge
want postrm 'rm -rf /var/lib/lunguard /etc/lunguard /run/lunguard'
# Upgrade keeps the database and the state: only purge deletes them, and prerm stops only on
# remove (an upgrade restarts instead).
grep -q '\[ "$1" = remove \]' "$work/control/prerm" || bad "prerm stops on more than remove"
awk '/^purge\)/{p=1} /;;/{p=0} /rm -rf/ && !p {exit 1}' "$work/control/postrm" ||
    bad "postrm deletes files outside its purge branch"

# --- Unpacked: binary, config, man pages -----------------------------------------------------
$T dpkg-deb -x "$deb" "$work/root"
bin="$work/root/usr/sbin/lunguard"
if $T readelf -S --wide "$bin" | grep -qE ' \.(symtab|debug_info) '; then bad "binary not stripped"; fi
v=$($T "$bin" --version) || bad "lunguard --version failed"
[[ "$v" =~ ^lunguard\ ${version//./\\.}\ \(commit\ ([0-9a-f]{7,}|unknown)\)$ ]] || bad "--version says: $v"
# A fresh install: the shipped config (mode = "observe") and the empty state directory pass.
cfg="$work/root/etc/lunguard/lunguard.toml"
grep -qx 'mode = "observe"' "$cfg" || bad "the conffile does not set mode = \"observe\""
out=$($T "$bin" check --config "$cfg" --state-dir "$work/root/etc/lunguard/state.d" 2>&1) ||
    bad "lunguard check on the unpacked /etc/lunguard failed: $out"
for page in "$work"/root/usr/share/man/man*/*.gz; do
    warn=$(MANWIDTH=80 $T man --warnings -l "$page" 2>&1 >/dev/null) || bad "man -l ${page#"$work"/root} failed"
    [ -z "$warn" ] || bad "man -l ${page#"$work"/root}: $warn"
done

# --- lintian: no errors or warnings (deliberate info tags are overridden in the package) -------
if ! lint=$($T lintian --fail-on error,warning "$deb" 2>&1); then
    bad "lintian:"$'\n'"$lint"
fi

if [ "$fail" = 0 ]; then
    echo "package-contents: ok: $deb ($(wc -l <<<"$actual_files") files)"
fi
exit "$fail"
