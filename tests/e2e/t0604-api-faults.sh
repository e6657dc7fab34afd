#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Fault injection: the lab API server answers 500 and cuts answers off
# mid-body (POST /lab/faults, for kplan's requests only: its User-Agent).
# kplan retries what is safe to retry (GET, the cordon's merge
# PATCH) with backoff and the drain succeeds; when the faults last longer
# than the retries, or cut off an Eviction's answer (a POST is not retried:
# it may have been carried out), the drain fails clearly and is never
# reported done.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "API faults"
kc="kubectl --kubeconfig /etc/kubernetes/admin.conf"
api() { on k8s-master "$kc get --raw '$1'"; }
faults() { echo "$1" | on k8s-master "$kc create --raw /lab/faults -f -" >/dev/null; }
injected() {
	api /lab/faults | /usr/bin/python3 -c 'import json,sys
f = json.load(sys.stdin)
print("%d %d left %d" % (f["injected"]["status500"], f["injected"]["drop"], f["status500"] + f["drop"]))'
}
# NODE: unschedulable, and the pods on it that are not DaemonSet pods
state() {
	api /api/v1/nodes/$1 | /usr/bin/python3 -c 'import json,sys
print(bool(json.load(sys.stdin)["spec"].get("unschedulable")))'
	api "/api/v1/pods?fieldSelector=spec.nodeName%3D$1" | /usr/bin/python3 -c 'import json,sys
print(len([p for p in json.load(sys.stdin)["items"]
           if not any(o["kind"] == "DaemonSet" for o in p["metadata"].get("ownerReferences", []))
           and not p["metadata"].get("deletionTimestamp")]))'
}
cat >"$E2E_TMP/drain.yml" <<'PLAN'
- name: drain
  hosts: kube_node
  tasks:
    - name: Drain the node
      drain: {ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 2m,
              uncordon_on_failure: true}
PLAN
cat >"$E2E_TMP/uncordon.yml" <<'PLAN'
- name: uncordon
  hosts: kube_node
  tasks:
    - name: Uncordon the node
      drain: {state: uncordoned}
PLAN
# the modules find the kubeconfig through --kubeconfig (and $KUBECONFIG,
# set too): direct requests from kplan, not kubectl on the control plane
KUBECONFIG=$L/kubeconfig
export KUBECONFIG
drain() { run_kplan "$E2E_TMP/$1" run "$E2E_TMP/drain.yml" -i "$inv" -l "$2" --kubeconfig "$L/kubeconfig" --no-color; }
uncordon() {
	faults '{}'
	"$KPLAN" run "$E2E_TMP/uncordon.yml" -i "$inv" -l "$1" --kubeconfig "$L/kubeconfig" >/dev/null 2>&1
	api '/lab/settle?timeout=10' >/dev/null 2>&1
	sleep 2 # the replacement pods come back
}

# 1. a while of 500s and cut-off answers, fewer than the retries: it works
faults '{"agent": "kplan/", "status500": 3, "drop": 2, "methods": ["GET", "PATCH"]}'
drain run1 k8s-worker-1
check "retried faults: the drain succeeds (exit 0)" 0 "$rc"
check "retried faults: every fault was met (3 answers 500, 2 cut off)" "3 2 left 0" "$(injected)"
check "retried faults: the drain is reported done" 1 \
	"$(grep -c "changed: \[k8s-worker-1\] .*cordoned and drained node 'k8s-worker-1'" "$E2E_TMP/run1")"
check "retried faults: the cluster agrees (cordoned, no pod left but DaemonSets')" "True 0" \
	"$(state k8s-worker-1 | paste -sd' ')"
check "retried faults: the lab's log marks the faults" 5 "$(grep -c '(fault: ' "$L/cluster/apiserver.log")"
check "retried faults: each retry is a warning on stderr" yes \
	"$(grep -q "^kplan: warning: GET /api/v1/[^ ]* answered 500; trying again in [0-9]* ms" "$E2E_TMP/run1.err" &&
		grep -q "^kplan: warning: [A-Z]* /api/v1/[^ ]*: '.*' on https://.*; trying again in [0-9]* ms" "$E2E_TMP/run1.err" &&
		echo yes || cat "$E2E_TMP/run1.err")"
uncordon k8s-worker-1

# 2. the API keeps failing: the drain fails, naming the 500, after bounded retries
start=$(date +%s)
before=$(wc -l <"$L/cluster/apiserver.log")
faults '{"agent": "kplan/", "status500": 1000}'
drain run2 k8s-worker-1
took=$(($(date +%s) - start))
check "lasting 500s: the host failed (exit 1)" 1 "$rc"
check "lasting 500s: the message names the answer" 1 \
	"$(grep -c "failed: \[k8s-worker-1\] .*answered 500: Internal error occurred: injected fault (lab)" "$E2E_TMP/run2")"
check "lasting 500s: no drain is reported done" 0 "$(grep -c 'drained node' "$E2E_TMP/run2")"
check "lasting 500s: bounded (6 tries, 6.2 s of backoff per request: under 60 s)" yes \
	"$([ "$took" -lt 60 ] && echo yes || echo "no: ${took}s")"
check "lasting 500s: the retries were bounded (6 GETs of the node, then nothing)" 6 \
	"$(tail -n +"$((before + 1))" "$L/cluster/apiserver.log" | grep -c 'kubernetes-admin GET /api/v1/nodes/k8s-worker-1 500 (fault: status500)')"
uncordon k8s-worker-1

# 3. an Eviction's answer is cut off: it was carried out, but kplan cannot
# know; it does not send it again, the drain fails and says why (on
# k8s-worker-2: the pods of k8s-worker-1 went there)
faults '{"agent": "kplan/", "drop": 1, "methods": ["POST"], "path": "/eviction$"}'
drain run3 k8s-worker-2
check "cut-off eviction: the host failed (exit 1)" 1 "$rc"
check "cut-off eviction: the message says which eviction got no answer" 1 \
	"$(grep -c "failed: \[k8s-worker-2\] .*draining node 'k8s-worker-2': error when evicting pods/\"[a-z0-9-]*\" -n \"[a-z-]*\": 'POST /api/v1/namespaces/.*/eviction' on https://" "$E2E_TMP/run3")"
check "cut-off eviction: no drain is reported done" 0 "$(grep -c 'drained node' "$E2E_TMP/run3")"
check "cut-off eviction: the POST was sent once" 1 \
	"$(grep -c 'kubernetes-admin POST .*/eviction 201 (fault: drop)' "$L/cluster/apiserver.log")"
check "cut-off eviction: the node was uncordoned again (uncordon_on_failure)" "False" "$(state k8s-worker-2 | sed -n 1p)"

# 4. the faults are gone: the same drain now works
faults '{}'
drain run4 k8s-worker-2
check "after the faults: the drain succeeds" "0 True 0" "$rc $(state k8s-worker-2 | paste -sd' ')"
