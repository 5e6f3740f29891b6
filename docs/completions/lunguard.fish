# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lunguard_global_optspecs
    string join \n v/verbose h/help V/version
end

function __fish_lunguard_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lunguard_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lunguard_using_subcommand
    set -l cmd (__fish_lunguard_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lunguard -n "__fish_lunguard_needs_command" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_needs_command" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_needs_command" -s V -l version -d 'Print version'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "status" -d 'Show the kernel\'s view: iSCSI targets and sessions, SCSI paths grouped by WWID, multipath maps with their holders and mounts, and any problems reading them'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "check" -d 'Validate the config file and the state files without changing anything: print a summary, or every problem as file:line:column: message'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "plan" -d 'Show what one reconcile pass would do and why: each attachment\'s state (converged, missing, wrong WWID, degraded), each unwanted device (waiting for grace, in use, to be removed) and the ordered steps. Changes nothing but the stored desired state'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "apply" -d 'Bring the host to the declared state once: attach missing LUNs (narrowed scans only), flush and remove unwanted ones, log out of sessions nobody needs, then print a summary. In `mode = "observe"` nothing is changed. The guard loop is `lunguard daemon`'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "attach" -d 'Declare one LUN: write NAME.toml in the state directory (checked with every other state file first, written atomically, root-owned, mode 0644), which a running daemon picks up and attaches with narrowed scans. With --wait, block until the daemon reports it converged, or exit 1 with the reason'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "detach" -d 'Remove one declaration that `attach` wrote (NAME.toml, atomically); a running daemon then flushes and removes the LUN and logs out of a session nobody needs. With --wait, block until the daemon reports it gone, or exit 1 with the reason (e.g. still in use)'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "doctor" -d 'Audit this host against the field reports lunguard was built for: open-iscsi\'s scans and timeouts, multipath\'s map handling, the services the guard needs, lunguard\'s own unit, state files and database. Each finding says what is wrong, which failure it leads to and the exact fix (docs/doctor.md). Changes nothing'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "health" -d 'Is the daemon alive: it answers on its control socket and its latest pass is recent. For liveness probes (exit 0 alive, 1 stale or before its first pass, 2 no daemon)'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "history" -d 'Show the action journal: every intent recorded before acting and its outcome (changed, already converged, failed, or none when lunguard stopped mid-action)'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "daemon" -d 'Run the guard: subscribe to uevents, watch the state directory, then keep the host as declared — a debounced pass after every relevant kernel event or state edit, a full resync on netlink overflow and periodically. Findings and actions go to journald. Signals: TERM/INT finish the action in flight and exit 0; HUP reloads config and state; USR1 writes a status dump to the log. Runs under systemd as Type=notify (READY after the first full pass, WATCHDOG, STATUS, STOPPING)'
complete -c lunguard -n "__fish_lunguard_needs_command" -f -a "demo" -d 'Watch the guard work on a machine without SCSI: the real daemon loop against a built-in simulated host (an iSCSI array with 4 LUNs on 2 portals, multipathd) — a declared attach by narrowed scans, a detach, then another process\'s broad rescan bringing LUNs back and the guard removing them, with the alert lines journald would get. Under a minute; touches nothing outside a scratch directory'
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l sysfs-root -d 'Read sysfs from DIR instead of /sys' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l proc-root -d 'Read procfs from DIR instead of /proc' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l dev-root -d 'Resolve /dev paths (swap devices) under DIR instead of /dev' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l iscsi-nodes-root -d 'Read open-iscsi\'s node records from DIR instead of /etc/iscsi/nodes (missing: none)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l fixture -d 'Read a recorded fixture: DIR/sys, DIR/proc and (if present) DIR/dev and DIR/etc/iscsi/nodes' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l config -d 'Compare with the state files of this config (default /etc/lunguard/lunguard.toml; its state directory is used when it exists)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l state-dir -d 'Compare with the state files in DIR: each attachment is shown as converged, missing, wrong_wwid, degraded (fewer paths than portals), in_use or unwanted' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l json -d 'Print JSON (schema in docs/status-json.md) instead of tables'
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -l fresh -d 'Read sysfs and procfs now. Without it, a running daemon that observes the same roots answers with its latest pass\'s snapshot (no second walk of the host), and the output says when that was taken'
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand status" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand check" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent; a file given here must exist)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand check" -l state-dir -d 'State directory to check instead of the config\'s state_dir' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand check" -l json -d 'Print JSON {schema_version, ok, files, attachments, errors, error_count} (docs/state-files.md)'
complete -c lunguard -n "__fish_lunguard_using_subcommand check" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand check" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand plan" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand plan" -l state-dir -d 'State directory instead of the config\'s state_dir' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand plan" -l database -d 'Database directory instead of the config\'s database (it is single-process: a running daemon holds it)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand plan" -l fixture -d 'Plan against a recorded fixture (DIR/sys, DIR/proc) instead of this host' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand plan" -l json -d 'Print JSON (the plan\'s steps and findings) instead of text'
complete -c lunguard -n "__fish_lunguard_using_subcommand plan" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand plan" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -l state-dir -d 'State directory instead of the config\'s state_dir' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -l database -d 'Database directory instead of the config\'s database (it is single-process: a running daemon holds it)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -l once -d 'Run until converged (at most a few passes) and exit. Required: the continuous guard is `lunguard daemon`'
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -l dry-run -d 'Print what would be done; change nothing (the same as `plan`, in apply\'s format)'
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -l json -d 'Print JSON instead of text: {schema_version, mode, dry_run, desired_ok, passes: [{plan, steps}], summary, ok} (docs/cli.md)'
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand apply" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l target -d 'The target\'s iSCSI name (iqn.…, eui.… or naa.…)' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l portal -d 'A portal, an IP address with an optional :port (IPv6 in brackets); repeat for each path. One session per portal' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l lun -d 'The LUN number on the target' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l wwid -d 'The WWID the LUN must have, in the kernel\'s form (naa.…, eui.…, t10.…): a device at this address with another WWID is not attached as this one' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent): its state_dir, scope and control socket' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l state-dir -d 'State directory instead of the config\'s state_dir' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l timeout -d 'How long --wait waits (30s, 5m, 1h30m)' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l no-multipath -d 'Use the bare SCSI disk instead of a dm-multipath map (one portal only)'
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -l wait -d 'Block until the running daemon reports the change done (attach: converged; detach: the LUN gone); exit 1 with the reason if it is not by --timeout'
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand attach" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand detach" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent): its state_dir, scope and control socket' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand detach" -l state-dir -d 'State directory instead of the config\'s state_dir' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand detach" -l timeout -d 'How long --wait waits (30s, 5m, 1h30m)' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand detach" -l wait -d 'Block until the running daemon reports the change done (attach: converged; detach: the LUN gone); exit 1 with the reason if it is not by --timeout'
complete -c lunguard -n "__fish_lunguard_using_subcommand detach" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand detach" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand doctor" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent): the state files, database and control socket to check' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand doctor" -l heartbeat -d 'The cluster\'s heartbeat timeout in seconds (OCFS2, Pacemaker): a path failure must reach multipath well within it' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand doctor" -l root -d 'Read the host\'s files under DIR (DIR/etc/iscsi, DIR/proc, …) instead of /, and multipath\'s configuration from DIR/etc/multipath.conf instead of `multipath -t`' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand doctor" -l json -d 'Print JSON: {schema_version, healthy, findings: [{id, severity, source, what, leads_to, fix}]}'
complete -c lunguard -n "__fish_lunguard_using_subcommand doctor" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand health" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent): its control socket' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand health" -l max-age -d 'A latest pass older than this is a stuck loop (passes run at least every daemon.resync_interval, 5m by default)' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand health" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand health" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l state-dir -d 'State directory instead of the config\'s state_dir' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l database -d 'Database directory instead of the config\'s database (it is single-process: a running daemon holds it)' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l limit -d 'How many of the newest entries to show (after the filters below)' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l since -d 'Only entries decided at or after WHEN: an RFC 3339 time (2026-12-01T08:00:00Z, any offset) or a duration ago (90m, 2h, 1h30m)' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l until -d 'Only entries decided before WHEN (the same forms as --since)' -r
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l kind -d 'Only actions of this kind; repeat for several' -r -f -a "login\t''
register_wwid\t''
scan_lun\t''
rescan_device\t''
multipath_add\t''
disable_queueing\t''
flush_buffers\t''
flush_map\t''
remove_from_map\t''
delete_paths\t''
wait_gone\t''
logout\t''
delete_node\t''
forget_wwid\t''"
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -l json -d 'Print JSON: {schema_version, entries: [{id, kind, key, action, at, outcome}]} with RFC 3339 times (docs/cli.md)'
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand history" -s h -l help -d 'Print help'
complete -c lunguard -n "__fish_lunguard_using_subcommand daemon" -l config -d 'Config file (default /etc/lunguard/lunguard.toml, which may be absent); re-read on HUP' -r -F
complete -c lunguard -n "__fish_lunguard_using_subcommand daemon" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand daemon" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lunguard -n "__fish_lunguard_using_subcommand demo" -l keep -d 'Keep the scratch directory (simulated sysfs, state files, database) and print its path'
complete -c lunguard -n "__fish_lunguard_using_subcommand demo" -s v -l verbose -d 'More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings)'
complete -c lunguard -n "__fish_lunguard_using_subcommand demo" -s h -l help -d 'Print help'
