#!/bin/sh
# Rolling-window benchmark: one kubelet upgrade of every worker (drain,
# restart the kubelet, which takes a few seconds to come back, wait for the
# node Ready, uncordon), run three ways on the same cluster:
#   serial-20%   kubespray's `serial: "20%"`: batches of 6 nodes in lockstep
#   serial-1     one node at a time
#   window auto  `window: auto`: the next node starts as soon as evicting its
#                pods leaves every PodDisruptionBudget satisfied, counting
#                the pods on the nodes already in flight
# The lab cluster (scenario 1's API server) has 3 control-plane nodes and 30
# workers, and, spread over the workers, Deployments and StatefulSets with
# budgets (maxUnavailable: 1, minAvailable: 80%), termination and start
# times of a few seconds (POST /lab/workloads). Before each way the lab is
# reset to the same state.
#
# For each way: wall time of `kplan run`; eviction attempts the API server
# refused with 429 (its request log); each workload's lowest number of ready
# replicas, and how often a budget fell below its desiredHealthy (the API
# server's ready history, GET /lab/ready). The last line:
#   window: auto Xs, serial-20% Ys, serial-1 Zs; 429s a/b/c; budget breaches 0/0/0
#
# Run by hand, as root (the lab needs it): bench/window.sh [--workers N]
# Not a test: it prints figures, it passes or fails nothing. It takes a few
# minutes (serial-1 alone is most of it).
set -eu
workers=30
while [ $# -gt 0 ]; do
	case $1 in
	--workers) workers=$2; shift 2 ;;
	*) echo "usage: $0 [--workers N]" >&2; exit 2 ;;
	esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
kplan=$root/kplan
lab=$root/tests/lab/lab
PY=/usr/bin/python3
out=$(mktemp -d /tmp/kplan-bench.XXXXXX)
L=$out/lab
cleanup() {
	"$lab" down --dir "$L" >/dev/null 2>&1 || true
	rm -rf "$out"
}
trap cleanup EXIT INT TERM

names=k8s-master-1,k8s-master-2,k8s-master-3
i=1
while [ $i -le "$workers" ]; do
	names=$names,k8s-worker-$i
	i=$((i + 1))
done
echo "lab: 3 control-plane nodes, $workers workers"
"$lab" up --scenario 1 --names "$names" --dir "$L" >"$out/lab.out" 2>&1 || {
	tail -5 "$out/lab.out"
	exit 1
}
K=$out/k
mkdir -p "$K"
for f in certificate-authority-data:ca client-certificate-data:crt client-key-data:key; do
	sed -n "s/^ *${f%%:*}: *//p" "$L/kubeconfig" | base64 -d >"$K/${f#*:}"
done
server=$(sed -n 's/^ *server: *//p' "$L/kubeconfig")
api() {
	curl -sS --cacert "$K/ca" --cert "$K/crt" --key "$K/key" -X "$1" \
		${3:+-H "Content-Type: application/json"} ${3:+--data-binary "$3"} "$server$2"
}

# the workloads: names, sizes, budgets, how long a pod takes to stop on
# SIGTERM (its grace period is 30 s) and to become Ready once scheduled
WORKLOADS='{"workloads": [
 {"kind": "Deployment", "name": "web", "replicas": 12, "grace": 30, "stopSeconds": 2, "startSeconds": 3,
  "pdb": {"maxUnavailable": 1}},
 {"kind": "Deployment", "name": "api", "replicas": 10, "grace": 30, "stopSeconds": 3, "startSeconds": 4,
  "pdb": {"minAvailable": "80%"}},
 {"kind": "Deployment", "name": "worker", "replicas": 8, "grace": 30, "stopSeconds": 4, "startSeconds": 2,
  "pdb": {"maxUnavailable": 1}},
 {"kind": "StatefulSet", "name": "cache", "replicas": 5, "grace": 30, "stopSeconds": 2, "startSeconds": 4,
  "pdb": {"maxUnavailable": 1}},
 {"kind": "StatefulSet", "name": "db", "replicas": 5, "grace": 60, "stopSeconds": 5, "startSeconds": 6,
  "pdb": {"minAvailable": "80%"}}]}'

# reset: the scenario again, every node Ready, the workloads spread anew
reset() {
	api POST /lab/reset '{}' >/dev/null
	n=0
	until api GET /api/v1/nodes | $PY -c 'import json,sys
n = json.load(sys.stdin)["items"]
sys.exit(not (len(n) == int(sys.argv[1]) and all(any(c["type"] == "Ready" and c["status"] == "True"
    for c in x["status"]["conditions"]) for x in n)))' "$((workers + 3))"; do
		n=$((n + 1))
		[ $n -lt 600 ] || { echo "nodes not Ready after a reset" >&2; exit 1; }
		sleep 0.1
	done
	api POST /lab/workloads "$WORKLOADS" >/dev/null
}

# plan WAY LINE: the kubelet upgrade with LINE as the play's batching
plan() {
	cat >"$out/$1.yml" <<PLAN
- name: kubelet upgrade ($1)
  hosts: k8s-worker-*
  gather_facts: false
  $2
  tasks:
    - name: Drain
      drain: {ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 10m}
    - name: Restart the kubelet (the new one takes a few seconds to come up)
      shell: systemctl stop kubelet && sleep 3 && systemctl start kubelet
    - name: Wait for the node
      kube-node: {state: ready, timeout: 2m}
    - name: Uncordon
      drain: {state: uncordoned}
PLAN
}
plan serial-20 'serial: "20%"'
plan serial-1 'serial: 1'
plan window-auto 'window: auto'

# run WAY: wall seconds, 429s, breaches; the lowest ready per workload
run() {
	reset
	mark=$(wc -l <"$L/cluster/apiserver.log")
	t0=$($PY -c 'import time; print(time.time())')
	rc=0
	"$kplan" run "$out/$1.yml" -i "$L/inventory.yml" --kubeconfig "$L/kubeconfig" --forks 50 \
		--journal "$out/j-$1" --no-color >"$out/$1.out" 2>&1 || rc=$?
	t1=$($PY -c 'import time; print(time.time())')
	[ "$rc" = 0 ] || { echo "$1: kplan exited $rc" >&2; tail -20 "$out/$1.out" >&2; }
	secs=$($PY -c 'import sys; print("%.0f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1")
	refused=$(tail -n +"$((mark + 1))" "$L/cluster/apiserver.log" | grep ' POST [^ ]*/eviction 429' | wc -l)
	api GET /lab/ready | $PY -c 'import json,sys
h = json.load(sys.stdin)["history"]
way, secs, refused = sys.argv[1:4]
breaches = sum(v.get("breaches", 0) for k, v in h.items() if "/PodDisruptionBudget/" in k)
low = ", ".join("%s %d/%d" % (k.split("/", 1)[1].replace("Deployment/", "deploy/").replace("StatefulSet/", "sts/"),
                                v["lowest"], v["want"])
                for k, v in sorted(h.items()) if "/Deployment/" in k or "/StatefulSet/" in k)
print("%-12s %5ss  429s %4s  budget breaches %d  lowest ready: %s" % (way, secs, refused, breaches, low))
with open(sys.argv[4], "w") as f:
    f.write("%s %s %d\n" % (secs, refused, breaches))' "$1" "$secs" "$refused" "$out/$1.fig"
}
run window-auto
run serial-20
run serial-1
read -r wa_s wa_r wa_b <"$out/window-auto.fig"
read -r s20_s s20_r s20_b <"$out/serial-20.fig"
read -r s1_s s1_r s1_b <"$out/serial-1.fig"
echo "window: auto ${wa_s}s, serial-20% ${s20_s}s, serial-1 ${s1_s}s; 429s $wa_r/$s20_r/$s1_r; budget breaches $wa_b/$s20_b/$s1_b"
