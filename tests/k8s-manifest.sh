#!/usr/bin/env bash
# Validates deploy/kubernetes/*.yaml without a cluster: against the Kubernetes API's JSON schemas
# (kubernetes-validate, pinned, in a virtualenv under target/), strictly (unknown fields are
# errors); then what the schemas cannot know: the DaemonSet has what lunguard needs (host
# network and PIDs, the host paths, the liveness probe on `lunguard health`), and the embedded
# config and state files pass `lunguard check`.
# Usage: tests/k8s-manifest.sh [LUNGUARD_BINARY]   (default target/debug/lunguard)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/lunguard}
KV_VERSION=1.37.0
K8S_VERSION=1.31.0
venv=target/k8s-venv
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ "$(cat "$venv/VERSION" 2>/dev/null)" != "$KV_VERSION" ]; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q "kubernetes-validate==$KV_VERSION"
    echo "$KV_VERSION" >"$venv/VERSION"
fi
"$venv/bin/kubernetes-validate" --strict -k "$K8S_VERSION" deploy/kubernetes/*.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" - "$work" deploy/kubernetes/lunguard.yaml <<'PY'
import os, sys, yaml
work, path = sys.argv[1], sys.argv[2]
docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(open(path)) if d}
ds = docs[("DaemonSet", "lunguard")]["spec"]["template"]["spec"]
bad = []
def need(ok, what):
    if not ok:
        bad.append(what)
need(ds.get("hostNetwork") is True, "hostNetwork: iscsid's and multipathd's abstract sockets")
need(ds.get("hostPID") is True, "hostPID: the in-use checks must see every process")
c = ds["containers"][0]
need(c["securityContext"].get("readOnlyRootFilesystem") is True, "a read-only root filesystem")
need(not ds.get("hostIPC"), "no host IPC")
need(ds.get("automountServiceAccountToken") is False, "no service account token")
probe = c.get("livenessProbe", {}).get("exec", {}).get("command", [])
need(probe[:2] == ["/usr/sbin/lunguard", "health"], "liveness from `lunguard health`")
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
host = {v["name"]: v["hostPath"]["path"] for v in ds["volumes"] if "hostPath" in v}
for p in ["/sys", "/dev", "/run/udev", "/etc/iscsi", "/etc/multipath", "/var/lib/lunguard", "/run/lunguard"]:
    need(host.get(mounts.get(p)) == p, f"the host's {p} mounted at {p}")
cfg = [v for v in ds["volumes"] if v["name"] == mounts.get("/etc/lunguard/state.d")]
need(cfg and "configMap" in cfg[0], "the state directory from a ConfigMap")
if bad:
    sys.exit("deploy/kubernetes/lunguard.yaml lacks: " + "; ".join(bad))
os.makedirs(f"{work}/state.d")
for name, text in docs[("ConfigMap", "lunguard-state")]["data"].items():
    open(f"{work}/state.d/{name}", "w").write(text)
conf = docs[("ConfigMap", "lunguard-config")]["data"]["lunguard.toml"]
open(f"{work}/lunguard.toml", "w").write(conf)
PY
chmod -R go-w "$work"
"$bin" check --config "$work/lunguard.toml" --state-dir "$work/state.d"
echo "k8s-manifest: deploy/kubernetes valid (Kubernetes $K8S_VERSION schemas, strict) and its config and state pass lunguard check"
