#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Fault injection: a node's sshd dies while the node is being drained
# (playbooks/upgrade-1.13.yml on Scenario 1). A PodDisruptionBudget, made
# once k8s-worker-1's batch started (the playbook's before_batch hook
# would refuse to start it otherwise), holds the drain of k8s-worker-1
# (nginx, minAvailable 5 of 5) until the node is stopped (`lab stop-node`:
# its sshd and everything in it die), then goes.
# The node is reported unreachable, the rollout stops (max_fail_percentage
# 0: k8s-worker-2 is never touched), and the journal's run_end and the
# final message name the node as left cordoned.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "node dies mid-drain"
pb=playbooks/upgrade-1.13.yml
J=$E2E_TMP/journal
kc="kubectl --kubeconfig /etc/kubernetes/admin.conf"
pdbs=/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets
api() { on k8s-master "$kc get --raw '$1'"; }
unschedulable() {
	api /api/v1/nodes | /usr/bin/python3 -c 'import json,sys
print(" ".join(n["metadata"]["name"] for n in json.load(sys.stdin)["items"] if n["spec"].get("unschedulable")))'
}
"$KPLAN" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" --kubeconfig "$L/kubeconfig" --journal "$J" --no-color \
	>"$E2E_TMP/run" 2>"$E2E_TMP/run.err" &
pid=$!
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
	cat "$J"/*.jsonl 2>/dev/null | grep -q '"type":"result".*"host":"k8s-worker-1"' && break
	sleep 0.05
	i=$((i + 1))
done
echo '{"apiVersion":"policy/v1beta1","kind":"PodDisruptionBudget","metadata":{"name":"nginx-hold","namespace":"default"},"spec":{"minAvailable":5,"selector":{"matchLabels":{"app":"nginx"}}}}' |
	on k8s-master "$kc create --raw $pdbs -f -" >/dev/null
# the drain of k8s-worker-1 has started when its eviction is refused (429)
blocked=""
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
	if grep -q 'POST /api/v1/namespaces/default/pods/nginx-[^ ]*/eviction 429' "$L/cluster/apiserver.log" 2>/dev/null; then
		blocked=1
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
check "the drain of k8s-worker-1 is held by the budget" 1 "$blocked"
tests/lab/lab stop-node k8s-worker-1 --dir "$L" >/dev/null 2>&1
sleep 1
on k8s-master "$kc delete --raw $pdbs/nginx-hold" >/dev/null
wait $pid
rc=$?
jf=$(ls -t "$J"/*.jsonl | head -n 1)
check "the run stops: exit 4 (max_fail_percentage) or 3 (unreachable)" yes \
	"$(case $rc in 3 | 4) echo yes ;; *) echo "no: exit $rc" ;; esac)"
check "k8s-worker-1 is reported unreachable" 1 \
	"$(grep -c '^k8s-worker-1 .*unreachable=1' "$E2E_TMP/run")"
check "the journal records k8s-worker-1 unreachable" 1 \
	"$(grep -c '"type":"result".*"host":"k8s-worker-1","status":"unreachable"' "$jf")"
check "k8s-worker-2 was never touched" 0 "$(grep -c '"host":"k8s-worker-2"' "$jf")"
check "the final message names the node left cordoned" 1 \
	"$(grep -c '^nodes left cordoned by this run: k8s-worker-1$' "$E2E_TMP/run")"
check "the journal's run_end names the node as cordoned" 1 \
	"$(tail -n 1 "$jf" | grep -c '"type":"run_end".*"cordoned":\["k8s-worker-1"\]')"
check "the message says how to resume" 1 "$(grep -c '^to finish this rollout: kplan run .* --resume ' "$E2E_TMP/run")"
check "the cluster agrees: k8s-worker-1 is cordoned, nothing else" "k8s-worker-1" "$(unschedulable)"
