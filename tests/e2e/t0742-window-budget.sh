#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# window: auto starts a node only when evicting its pods leaves the
# PodDisruptionBudget satisfied, counting the pods on the nodes in flight,
# and a node that must wait does not hold back the nodes after it.
# Four workers, the play on the first three; Deployment web has 2 replicas
# (on worker-1 and worker-2) and a budget maxUnavailable: 1 (served as
# policy/v1beta1 by this 1.13 lab: the window follows discovery). The run
# is steered by events, not by the clock: worker-1's first task waits for a
# file the test writes once kplan says worker-2 waits for the budget because
# of worker-1's pod; worker-1 and worker-3, once drained, wait for a file
# written once kplan says worker-2 was admitted. So: worker-1 starts;
# worker-2 must wait, and worker-3 (no pod of web) starts before it
# (worker-1 and worker-2 weigh more: web has two nodes to take, but with
# nothing in flight the budget holds no one back and play order decides);
# worker-2 is admitted while worker-1 and worker-3 are still in flight, as
# soon as web's replacement is Ready on worker-4. The journal's admission
# records show the order and what was in flight; the lab API server's
# ready history shows that the budget never fell below its desiredHealthy,
# and its log that no eviction was refused.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "window: auto" --names k8s-master,k8s-worker-1,k8s-worker-2,k8s-worker-3,k8s-worker-4
K=$E2E_TMP/k
mkdir -p "$K"
kc=$L/kubeconfig
for f in certificate-authority-data:ca client-certificate-data:crt client-key-data:key; do
	sed -n "s/^ *${f%%:*}: *//p" "$kc" | base64 -d >"$K/${f#*:}"
done
server=$(sed -n 's/^ *server: *//p' "$kc")
api() {
	curl -sS --cacert "$K/ca" --cert "$K/crt" --key "$K/key" -X "$1" \
		${3:+-H "Content-Type: application/json"} ${3:+--data-binary "$3"} "$server$2"
}
PY=/usr/bin/python3

# until the kubelets report every node Ready (a hang guard, not a margin)
i=0
until api GET /api/v1/nodes | $PY -c 'import json,sys
n = json.load(sys.stdin)["items"]
sys.exit(not (len(n) == 5 and all(any(c["type"] == "Ready" and c["status"] == "True" for c in x["status"]["conditions"]) for x in n)))'; do
	i=$((i + 1))
	[ $i -lt 600 ] || break
	sleep 0.1
done
api POST /lab/workloads '{"workloads": [{"kind": "Deployment", "name": "web", "replicas": 2, "grace": 30,
  "stopSeconds": 0.5, "startSeconds": 0.5, "pdb": {"maxUnavailable": 1}}]}' >/dev/null
check "web's pods are on worker-1 and worker-2" "k8s-worker-1 k8s-worker-2" \
	"$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb' | $PY -c 'import json,sys
print(" ".join(sorted(p["spec"]["nodeName"] for p in json.load(sys.stdin)["items"])))')"
mark=$(wc -l <"$L/cluster/apiserver.log")

cat >"$E2E_TMP/window.yml" <<PLAN
- name: rolling
  hosts: k8s-worker-1:k8s-worker-2:k8s-worker-3
  gather_facts: false
  window: auto
  tasks:
    - name: held until worker-2 waits
      wait_for: {path: "$E2E_TMP/go1", timeout: 120s}
      delegate_to: localhost
      when: inventory_hostname == 'k8s-worker-1'
    - name: Drain
      drain: {ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 120s}
    - name: held until worker-2 is admitted
      wait_for: {path: "$E2E_TMP/go2", timeout: 120s}
      delegate_to: localhost
      when: inventory_hostname in ['k8s-worker-1', 'k8s-worker-3']
    - name: Uncordon
      drain: {state: uncordoned}
PLAN

"$KPLAN" run "$E2E_TMP/window.yml" -i "$inv" $kube --journal "$E2E_TMP/j" --no-color \
	>"$E2E_TMP/run.out" 2>&1 &
pid=$!
# wait_line FILE-TO-TOUCH TEXT: once the run's output has TEXT (or 600 looks)
wait_line() {
	i=0
	while ! grep -qF "$2" "$E2E_TMP/run.out" && [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do
		i=$((i + 1))
		sleep 0.2
	done
	touch "$1"
}
wait_line "$E2E_TMP/go1" "waiting: [k8s-worker-2] pdb default/web allows 0 (1 pod in flight on k8s-worker-1)"
wait_line "$E2E_TMP/go2" "admitted: [k8s-worker-2]"
wait $pid
rc=$?
check "the run succeeds" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/    /' "$E2E_TMP/run.out" | tail -30
check "kplan run says how the window decides" 1 \
	"$(grep -c '^disruption-aware window over 3 hosts: of the hosts that may go, the one whose budgets have the most nodes left starts first (play order among equals); a host may go when evicting its pods leaves every PodDisruptionBudget satisfied' "$E2E_TMP/run.out")"

# the journal's admissions: host, what was in flight, what it waited for
adm=$($PY -c 'import json,sys,glob
for f in glob.glob(sys.argv[1] + "/*.jsonl"):
    for line in open(f):
        r = json.loads(line)
        if r.get("type") == "admission":
            print("%s [%s] %s" % (r["host"], ",".join(r["in_flight"]), (r.get("waited_for") or ["-"])[0]))' "$E2E_TMP/j")
check "worker-1 first, with nothing in flight" "k8s-worker-1 [] -" "$(echo "$adm" | sed -n 1p)"
check "worker-3 next: worker-2 must wait, worker-3 has no pod of the budget" \
	"k8s-worker-3 [k8s-worker-1] -" "$(echo "$adm" | sed -n 2p)"
check "worker-2 waited for the budget and was admitted with worker-1 and worker-3 in flight" \
	"k8s-worker-2 [k8s-worker-1,k8s-worker-3] pdb default/web allows 0 (1 pod in flight on k8s-worker-1)" \
	"$(echo "$adm" | sed -n 3p)"
check "three admissions" 3 "$(echo "$adm" | grep -c .)"

# the lab API server's record: the budget never fell below desiredHealthy,
# no eviction was refused
check "the budget was never breached (lowest currentHealthy >= desiredHealthy, breaches)" "True 0" \
	"$(api GET /lab/ready | $PY -c 'import json,sys
h = json.load(sys.stdin)["history"]["default/PodDisruptionBudget/web"]
print(h["lowest"] >= h["desired"], h["breaches"])')"
check "no eviction answered 429" 0 \
	"$(tail -n +"$((mark + 1))" "$L/cluster/apiserver.log" | grep '/eviction' | grep -c ' 429')"
check "every worker was drained and is schedulable again" "0" \
	"$(api GET /api/v1/nodes | $PY -c 'import json,sys
print(sum(1 for n in json.load(sys.stdin)["items"] if n["spec"].get("unschedulable")))')"
