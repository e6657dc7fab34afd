#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Fault injection: the controller is SIGKILLed in the middle of the worker
# play of playbooks/upgrade-1.13.yml (Scenario 1, 1.13.0 -> 1.13.3), right
# after the journal records k8s-worker-2's first result. `kplan run
# --resume` finishes the upgrade; what was done is not done again: the
# lab's command logs (the lab kubeadm's /var/log/kubeadm-lab.log and dpkg's
# /var/log/dpkg.log in each node) show every node's package installs and
# kubeadm upgrade exactly once; no node stays cordoned.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "kill and resume"
pb=playbooks/upgrade-1.13.yml
J=$E2E_TMP/journal
api() { on k8s-master "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw '$1'"; }
nodes() {
	api /api/v1/nodes | /usr/bin/python3 -c 'import json,sys
for n in json.load(sys.stdin)["items"]:
    print("%s=%s:%s" % (n["metadata"]["name"], n["status"]["nodeInfo"]["kubeletVersion"],
                        bool(n["spec"].get("unschedulable"))))' | sort | paste -sd' ' -
}
# what ran on a node: "kubeadm upgrade" invocations, 1.13.3 package installs
kubeadm_upgrades() { on "$1" "grep -c ' upgrade \(apply\|node\)' /var/log/kubeadm-lab.log || true"; }
installs() { on "$1" "grep -c ' status installed $2:[a-z0-9]* 1.13.3-00' /var/log/dpkg.log || true"; }
# a short Lease, so that the resumed run can take over the dead one's lock
KPLAN_LEASE_SECONDS=6
export KPLAN_LEASE_SECONDS

"$KPLAN" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" --kubeconfig "$L/kubeconfig" --journal "$J" --format json \
	>"$E2E_TMP/run1" 2>"$E2E_TMP/run1.err" &
pid=$!
killed=""
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
	if cat "$J"/*.jsonl 2>/dev/null | grep -q '"type":"result".*"host":"k8s-worker-2"'; then
		kill -9 $pid
		killed=1
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
wait $pid
rc=$?
check "run 1: SIGKILLed after k8s-worker-2's first result" "1 137" "$killed $rc"
jf=$(ls "$J"/*.jsonl | head -n 1)
id=$(basename "$jf" .jsonl)
check "run 1: the journal has no run_end (the controller died)" 0 "$(grep -c '"type":"run_end"' "$jf")"
check "run 1: k8s-worker-1 was finished (uncordoned) before the kill" 1 \
	"$(grep '"type":"result"' "$jf" | grep '"host":"k8s-worker-1"' | grep -c '"task":"Uncordon the node".*"status":"\(changed\|ok\)"')"
check "run 1: k8s-worker-2 was not yet drained" 0 \
	"$(grep '"type":"result"' "$jf" | grep '"host":"k8s-worker-2"' | grep -c '"task":"Drain the node"')"
check "kplan runs: the killed run has no end" 1 "$("$KPLAN" runs --journal "$J" | grep -c "^$id ")"

# the dead controller's Lease expires after KPLAN_LEASE_SECONDS
sleep 7
run_kplan "$E2E_TMP/run2" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" --kubeconfig "$L/kubeconfig" --journal "$J" \
	--resume "$id" --format json
check "resume: exit 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/    /' "$E2E_TMP/run2.err" | head -20
check "resume: every node Ready at v1.13.3, none cordoned" \
	"k8s-master=v1.13.3:False k8s-worker-1=v1.13.3:False k8s-worker-2=v1.13.3:False" "$(nodes)"
check "resume: k8s-worker-1's tasks were skipped as done in the killed run" 0 \
	"$(grep '"host_result"' "$E2E_TMP/run2" | grep '"host":"k8s-worker-1"' | grep -vc "\"status\":\"skipped\".*done in run $id")"
check "resume: k8s-worker-2 was upgraded by this run" 1 \
	"$(grep '"host_result"' "$E2E_TMP/run2" | grep '"host":"k8s-worker-2"' | grep -c '"task":"Drain the node".*"status":"changed"')"
for n in k8s-master k8s-worker-1 k8s-worker-2; do
	check "command log: $n: kubeadm upgrade ran once, kubeadm, kubelet, kubectl 1.13.3 installed once each" \
		"1 1 1 1" "$(kubeadm_upgrades $n) $(installs $n kubeadm) $(installs $n kubelet) $(installs $n kubectl)"
done
check "resume: the journal ends with exit 0 and no node cordoned" 1 \
	"$(tail -n 1 "$(ls -t "$J"/*.jsonl | head -n 1)" | grep -c '"type":"run_end".*"exit_code":0.*"cordoned":\[\]')"
