#!/usr/bin/env bash
# deploy/kubernetes/newsflow.yaml against the config loader: its ConfigMap's config passes
# `newsflow check` (its paths mapped into this test's directory, every CURVE key made by keygen
# under the names the Secret must hold); every stage's inbox has a Service and a broker pod with
# PORT and PORT+1, the source's acknowledgements a Service with its port; every container runs a
# command newsflow knows with the ConfigMap's path and stages the config has; every key file the
# config names lies in the mounted Secret; no pod serves more than one stage's inbox; every
# stateful stage runs in a StatefulSet; every pod is covered by the NetworkPolicy.
. "$(dirname "$0")/lib.sh"
Y="$NF_SOURCE_DIR/deploy/kubernetes/newsflow.yaml"
mkdir -p "$T/keys" "$T/in"
python3 - "$Y" "$T" <<'PY' || fail "the manifest does not agree with itself"
import re, sys, json
text, tdir = open(sys.argv[1]).read(), sys.argv[2]
docs = [d for d in re.split(r"(?m)^---\s*$", text) if re.search(r"(?m)^kind:", d)]
def kind(d): return re.search(r"(?m)^kind:\s*(\S+)", d).group(1)
def name(d): return re.search(r"(?m)^metadata:\s*\{name:\s*([\w-]+)", d).group(1)
cm = next(d for d in docs if kind(d) == "ConfigMap")
cfg = "\n".join(l[4:] for l in cm.split("newsflow.cfg: |", 1)[1].splitlines()[1:])
open(f"{tdir}/k8s.cfg", "w").write(cfg)
services = {name(d): [int(p) for p in re.findall(r"port:\s*(\d+)", d)]
            for d in docs if kind(d) == "Service"}
workloads = [d for d in docs if kind(d) in ("Deployment", "StatefulSet")]
out = {"services": services, "pods": []}
for d in workloads:
    args = json.loads(re.search(r"args:\s*(\[.*\])", d).group(1))
    ports = [int(p) for p in re.findall(r"containerPort:\s*(\d+)", d)]
    mounts = re.findall(r"name:\s*(\w+),\s*mountPath:\s*([\w/.-]+)", d)
    secret = "secretName: newsflow-keys" in d
    labels = "app.kubernetes.io/part-of: newsflow" in d
    out["pods"].append({"kind": kind(d), "name": name(d), "args": args, "ports": ports,
                        "mounts": mounts, "secret": secret, "labels": labels})
assert any(kind(d) == "NetworkPolicy" for d in docs), "no NetworkPolicy"
json.dump(out, open(f"{tdir}/k8s.json", "w"))
print(f"ok: {len(workloads)} workloads, {len(services)} services")
PY
# The Secret's files, as `kubectl create secret` would take them from keygen.
"$NF" keygen "$T/keys/server" >/dev/null && "$NF" keygen "$T/keys/client" >/dev/null
cp "$T/keys/client.pub" "$T/keys/allowed"
sed -e "s|/etc/newsflow/keys/|$T/keys/|g" -e "s|/var/lib/newsflow/state|$T/state|g" \
    -e "s|/data/in|$T/in|g" -e "s|/usr/share/newsflow/gazetteer.tsv|$NF_SOURCE_DIR/conf/gazetteer.tsv|" \
    "$T/k8s.cfg" >"$T/local.cfg"
"$NF" check "$T/local.cfg" >"$T/check" 2>&1 || { cat "$T/check"; fail "the ConfigMap's config does not pass check"; }
ok "the ConfigMap's config passes newsflow check"
"$NF" doc config >/dev/null
python3 - "$T" <<'PY' || fail "the manifest does not match the config"
import json, re, sys
tdir = sys.argv[1]
m = json.load(open(f"{tdir}/k8s.json"))
cfg = open(f"{tdir}/k8s.cfg").read()
stages = dict(re.findall(r"(?m)^\s*(\w+) = \{ plugin = \"(\w+)\"", cfg))
inputs = {s for s in stages if re.search(rf"(?ms)^\s*{s} = \{{[^}}]*inputs =", cfg)}
eps = {s: (h, int(p)) for s, h, p in re.findall(r"(?ms)^\s*(\w+) = \{[^}]*?\bendpoint = \"tcp://([\w.-]+):(\d+)\"", cfg)}
acks = {s: (h, int(p)) for s, h, p in re.findall(r"(?ms)^\s*(\w+) = \{[^}]*?ack_endpoint = \"tcp://([\w.-]+):(\d+)\"", cfg)}
problems = []
for s in inputs:
    if s not in eps:
        problems.append(f"stage {s} has inputs but no tcp endpoint"); continue
    host, port = eps[s]
    svc = host.split(".")[0]
    if sorted(m["services"].get(svc, [])) != [port, port + 1]:
        problems.append(f"Service {svc} should serve {port} and {port + 1}: {m['services'].get(svc)}")
    brokers = [p for p in m["pods"] if p["args"][0] == "broker" and s in p["args"][p["args"].index("--inboxes") + 1].split(",")]
    if len(brokers) != 1 or sorted(brokers[0]["ports"]) != [port, port + 1]:
        problems.append(f"stage {s}: want one broker pod with ports {port}, {port + 1}")
for s, (host, port) in acks.items():
    svc = host.split(".")[1] if "." in host else host
    if port not in m["services"].get(svc, []):
        problems.append(f"ack_endpoint of {s}: Service {svc} lacks port {port}")
    pods = [p for p in m["pods"] if p["name"] == svc]
    if not pods or pods[0]["kind"] != "StatefulSet" or port not in pods[0]["ports"]:
        problems.append(f"ack_endpoint of {s}: the StatefulSet {svc} must expose {port}")
keyfiles = re.findall(r"curve_\w+ = \"(/etc/newsflow/keys/[\w.]+)\"", cfg)
served = {}
for p in m["pods"]:
    a = p["args"]
    if a[0] not in ("run", "broker") or a[1] != "/etc/newsflow/newsflow.cfg":
        problems.append(f"{p['name']}: args {a}"); continue
    if dict((n, path) for n, path in p["mounts"]).get("config") != "/etc/newsflow":
        problems.append(f"{p['name']}: the ConfigMap is not at /etc/newsflow")
    if not p["secret"] or dict(p["mounts"]).get("keys") != "/etc/newsflow/keys":
        problems.append(f"{p['name']}: the key Secret is not mounted at /etc/newsflow/keys")
    if not p["labels"]:
        problems.append(f"{p['name']}: not selected by the NetworkPolicy")
    for flag in ("--stages", "--inboxes"):
        if flag in a:
            for s in filter(None, a[a.index(flag) + 1].split(",")):
                if s not in stages:
                    problems.append(f"{p['name']}: {flag} names {s}, not a stage")
                if flag == "--inboxes":
                    served.setdefault(s, []).append(p["name"])
    if a[0] == "run":
        st = a[a.index("--stages") + 1].split(",")
        if a[a.index("--inboxes") + 1] != "":
            problems.append(f"{p['name']}: a worker pod must serve no inbox")
        if any(stages[s] in ("fetch_dir", "dedup", "story", "store_sqlite") for s in st) and p["kind"] != "StatefulSet":
            problems.append(f"{p['name']}: a stateful stage must be a StatefulSet")
        if 8080 not in p["ports"]:
            problems.append(f"{p['name']}: no port for the probes")
for s, pods in served.items():
    if len(pods) != 1:
        problems.append(f"inbox of {s} served by {pods}")
if len({tuple(v) for v in served.values()}) != len(served):
    problems.append("a pod serves several inboxes")
for f in keyfiles:
    if f.rsplit("/", 1)[1] not in ("server.key", "server.pub", "client.key", "allowed"):
        problems.append(f"key file {f} is not one the Secret holds")
for s in stages:
    if not any(s in p["args"][p["args"].index("--stages") + 1].split(",") for p in m["pods"] if p["args"][0] == "run"):
        problems.append(f"stage {s} runs in no pod")
if problems:
    print("\n".join(problems)); sys.exit(1)
print(f"ok: {len(stages)} stages, each run by a pod and each inbox by its own; ports, args, mounts and keys agree")
PY
echo "all passed"
