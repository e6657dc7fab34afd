#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 1 (lab.md): the seed's kubeadm upgrade, 1.13.0 -> 1.13.3, with
# playbooks/upgrade-1.13.yml on a three-node cluster lab: offline plan,
# check (changes nothing), run, the cluster's state afterwards, and a second
# run that changes nothing.
. "$(dirname "$0")/lib.sh"
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
scenario_lab 1 "scenario 1"
pb=playbooks/upgrade-1.13.yml
# NAME=VERSION(held) for the three packages on a node
pkgs() {
	on "$1" "dpkg-query -W -f '\${Package}=\${Version} ' kubeadm kubelet kubectl; apt-mark showhold | paste -sd, -"
}
api() { on k8s-master "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw '$1'"; }
# node=version:unschedulable for every node
nodes() {
	api /api/v1/nodes | /usr/bin/python3 -c 'import json,sys
for n in json.load(sys.stdin)["items"]:
    print("%s=%s:%s" % (n["metadata"]["name"], n["status"]["nodeInfo"]["kubeletVersion"],
                        bool(n["spec"].get("unschedulable"))))' | sort | paste -sd' ' -
}
# running pods per Deployment, after the controllers settled
running() {
	api /api/v1/pods | /usr/bin/python3 -c 'import json,sys,collections
c = collections.Counter()
for p in json.load(sys.stdin)["items"]:
    if "kubernetes.io/config.mirror" in (p["metadata"].get("annotations") or {}):
        continue  # the control plane static pods belong to no Deployment
    if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"):
        c[p["metadata"].get("labels", {}).get("app", p["metadata"].get("labels", {}).get("k8s-app", "-"))] += 1
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))'
}

before_pkgs=$(pkgs k8s-worker-1)
check "lab: the nodes start at 1.13.0, held" "kubeadm=1.13.0-00 kubectl=1.13.0-00 kubelet=1.13.0-00 kubeadm,kubectl,kubelet" "$before_pkgs"

run_kplan "$E2E_TMP/plan" plan $pb -i "$inv"
check "plan: offline preview works on the lab inventory" 0 "$rc"
check "plan: the control plane is one batch of one host, the workers one per batch" \
	"BATCH 1/1 [k8s-master]|BATCH 1/2 [k8s-worker-1]|BATCH 2/2 [k8s-worker-2]" \
	"$(grep -o 'BATCH [0-9/]* \[.*\]' "$E2E_TMP/plan" | paste -sd'|')"

run_kplan "$E2E_TMP/check" check $pb -i "$inv" $kube --format json
check "check: exit code" 0 "$rc"
check "check: no package changed" "$before_pkgs" "$(pkgs k8s-worker-1)"
check "check: no node cordoned or upgraded" \
	"k8s-master=v1.13.0:False k8s-worker-1=v1.13.0:False k8s-worker-2=v1.13.0:False" "$(nodes)"

run_kplan "$E2E_TMP/run" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" $kube --format json -v
check "run: exit code" 0 "$rc"
check "run: the JSON stream validates" "valid" \
	"$($ev validate tests/schema/events.schema.json <"$E2E_TMP/run" | cut -d: -f1)"
for n in k8s-master k8s-worker-1 k8s-worker-2; do
	check "run: $n has kubeadm, kubelet, kubectl 1.13.3-00, held" \
		"kubeadm=1.13.3-00 kubectl=1.13.3-00 kubelet=1.13.3-00 kubeadm,kubectl,kubelet" "$(pkgs $n)"
done
check "run: the control plane was upgraded by 'kubeadm upgrade apply v1.13.3'" 1 \
	"$(grep '"host_result".*"host":"k8s-master"' "$E2E_TMP/run" | grep -c 'kubeadm upgrade apply v1.13.3')"
check "run: the workers by 'kubeadm upgrade node config --kubelet-version v1.13.3'" 2 \
	"$(grep '"host_result".*"host":"k8s-worker' "$E2E_TMP/run" | grep -c 'kubeadm upgrade node config --kubelet-version v1.13.3')"
check "run: the cluster reports v1.13.3" '"gitVersion": "v1.13.3"' \
	"$(api /version | grep -o '"gitVersion": *"[^"]*"' | sed 's/: */: /')"
check "run: every node Ready at v1.13.3 and none cordoned" \
	"k8s-master=v1.13.3:False k8s-worker-1=v1.13.3:False k8s-worker-2=v1.13.3:False" "$(nodes)"
api '/lab/settle?timeout=10' >/dev/null 2>&1 || sleep 3
check "run: every Deployment's pods are running again" \
	"flannel=3 kube-dns=2 kube-proxy=3 kube-state-metrics=1 metrics-server=1 nginx=5" "$(running)"
check "run: the drains went in the order of the batches (master, worker-1, worker-2)" \
	"k8s-master k8s-worker-1 k8s-worker-2" \
	"$(grep '"host_result".*"task":"Drain the node"' "$E2E_TMP/run" | sed 's/.*"host":"\([^"]*\)".*/\1/' | paste -sd' ')"

run_kplan "$E2E_TMP/run2" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" $kube --format json
check "second run: exit code" 0 "$rc"
check "second run: nothing changed on any node" 0 \
	"$(grep -c '"host_result".*"status":"changed"' "$E2E_TMP/run2")"

# the kubectl fallback: no kubeconfig on the controller, kubectl runs on
# the first control-plane host with /etc/kubernetes/admin.conf
cat >"$E2E_TMP/cordon.yml" <<'PLAN'
- name: cordon through kubectl
  hosts: k8s-worker-1
  tasks:
    - name: cordon
      drain: {state: cordoned, api: kubectl}
PLAN
HOME=$E2E_TMP KUBECONFIG= run_kplan "$E2E_TMP/cordon" run "$E2E_TMP/cordon.yml" -i "$inv" -v
check "api: kubectl: the cordon ran on the control plane and worked" \
	"0 k8s-master=v1.13.3:False k8s-worker-1=v1.13.3:True k8s-worker-2=v1.13.3:False" "$rc $(nodes)"
check "api: kubectl: the commands ran on k8s-master" 1 \
	"$(grep -c '\[k8s-master\] kubectl' "$E2E_TMP/cordon" | sed 's/^[1-9][0-9]*$/1/')"
sed -i 's/state: cordoned/state: uncordoned/' "$E2E_TMP/cordon.yml"
HOME=$E2E_TMP KUBECONFIG= run_kplan "$E2E_TMP/cordon" run "$E2E_TMP/cordon.yml" -i "$inv"
check "api: kubectl: uncordoned again" "k8s-worker-1=v1.13.3:False" "$(nodes | grep -o 'k8s-worker-1=[^ ]*')"
