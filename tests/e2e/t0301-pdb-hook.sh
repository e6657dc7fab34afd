#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# The example hooks of playbooks/ on the scenario-1 lab (issue 7):
# hooks/check-pdbs.lua stops playbooks/upgrade-1.13.yml before its first
# batch while a PodDisruptionBudget covering pods there allows no disruption
# (check and run: exit 4, the reason names the hook and the budget, nothing
# changed), and lets the same run upgrade the cluster once that budget is
# gone; then hooks/record-kubelet-version.lua and steps/wait-for-replicas.lua.
. "$(dirname "$0")/lib.sh"
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
scenario_lab 1 "pdb hook"
pb=playbooks/upgrade-1.13.yml
kubectl() { on k8s-master kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }
pkgs() {
	on "$1" "dpkg-query -W -f '\${Package}=\${Version} ' kubeadm kubelet kubectl; apt-mark showhold | paste -sd, -"
}
api() { kubectl get --raw "'$1'"; }
nodes() {
	api /api/v1/nodes | /usr/bin/python3 -c 'import json,sys
for n in json.load(sys.stdin)["items"]:
    print("%s=%s:%s" % (n["metadata"]["name"], n["status"]["nodeInfo"]["kubeletVersion"],
                        bool(n["spec"].get("unschedulable"))))' | sort | paste -sd' ' -
}
# NAME=disruptionsAllowed for every budget
budgets() {
	api /apis/policy/v1beta1/poddisruptionbudgets | /usr/bin/python3 -c 'import json,sys
for b in json.load(sys.stdin)["items"]:
    print("%s/%s=%s" % (b["metadata"]["namespace"], b["metadata"]["name"], b["status"]["disruptionsAllowed"]))' | LC_ALL=C sort | paste -sd' ' -
}
reason() {
	/usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "run_end": print(e.get("exit_code"), e.get("reason"))' "$1"
}
all_pkgs() { for n in k8s-master k8s-worker-1 k8s-worker-2; do echo "$n: $(pkgs $n)"; done; }

# --- a budget that allows no disruption of CoreDNS (both pods on k8s-master)
printf '%s' '{"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
 "metadata": {"name": "coredns-strict", "namespace": "kube-system"},
 "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"k8s-app": "kube-dns"}}}}' |
	kubectl create --raw /apis/policy/v1beta1/namespaces/kube-system/poddisruptionbudgets -f - >/dev/null
check "lab: a zero-disruption budget beside CoreDNS's own" \
	"kube-system/coredns-strict=0 kube-system/coredns=1" "$(budgets)"
before=$(all_pkgs)
before_nodes="k8s-master=v1.13.0:False k8s-worker-1=v1.13.0:False k8s-worker-2=v1.13.0:False"
check "lab: the nodes start at 1.13.0, none cordoned" "$before_nodes" "$(nodes)"

run_kplan "$E2E_TMP/check" check $pb -i "$inv" $kube --format json
check "check: the read-only hook runs in check mode and stops it (exit 4)" 4 "$rc"

run_kplan "$E2E_TMP/run" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" $kube --format json
check "run: stopped before the batch, exit 4" 4 "$rc"
r=$(reason "$E2E_TMP/run")
re='^4 stopped: before_batch hook failed before batch 1/1: [^ ]*playbooks/hooks/check-pdbs\.lua:[0-9]+: PodDisruptionBudget kube-system/coredns-strict allows no disruption \(maxUnavailable 0, 2 of 2 pods healthy\) and covers coredns-[a-z0-9-]+ on k8s-master, coredns-[a-z0-9-]+ on k8s-master: draining would block; not starting batch 1/1$'
check "run: the reason names the hook file, line and the budget" yes \
	"$(echo "$r" | grep -Eq "$re" && echo yes || echo "no: $r")"
check "check: stopped for the same reason" "$r" \
	"4 $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stopped"])' "$E2E_TMP/check")"
check "run: no task ran on any host" 0 "$(grep -c '"event":"host_result"' "$E2E_TMP/run")"
check "run: no package changed" "$before" "$(all_pkgs)"
check "run: no node cordoned or upgraded" "$before_nodes" "$(nodes)"

run_kplan "$E2E_TMP/text" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" $kube
check "run, text output: the reason on the 'stopped:' line" 1 \
	"$(grep -c '^stopped: before_batch hook failed before batch 1/1: .*check-pdbs\.lua:[0-9]*: PodDisruptionBudget kube-system/coredns-strict allows no disruption' "$E2E_TMP/text")"

HOME=$E2E_TMP KUBECONFIG='' run_kplan "$E2E_TMP/nokc" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" --format json
check "run, no kubeconfig: through kubectl on k8s-master, the same stop" "$r" "$(reason "$E2E_TMP/nokc")"
check "run, no kubeconfig: says so" 1 \
	"$(grep -c '"msg":"hook: check-pdbs: kplan.kube: no kubeconfig found.*; using kubectl on k8s-master"' "$E2E_TMP/nokc")"

# --- without the strict budget the same run upgrades the cluster ----------
kubectl delete --raw /apis/policy/v1beta1/namespaces/kube-system/poddisruptionbudgets/coredns-strict >/dev/null
check "lab: the strict budget is gone" "kube-system/coredns=1" "$(budgets)"

# a budget short of pods that are coming back: waited for, up to pdb_check_wait
# (delete a CoreDNS pod whose sibling is on k8s-master: that one stays covered)
dns_pod_to_delete() {
	api '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns' | /usr/bin/python3 -c 'import json,sys
ps = [p for p in json.load(sys.stdin)["items"] if not p["metadata"].get("deletionTimestamp")]
for p in ps:
    if any(q is not p and q["spec"].get("nodeName") == "k8s-master" for q in ps):
        print(p["metadata"]["name"]); break'
}
kubectl -n kube-system delete pod "$(dns_pod_to_delete)" >/dev/null
run_kplan "$E2E_TMP/short" check $pb -i "$inv" $kube -e pdb_check_wait=0
check "check, pods coming back, pdb_check_wait=0: stopped at once" 4 "$rc"
check "check, pods coming back: the reason says how many are healthy" 1 \
	"$(grep -Ec '^stopped: .*PodDisruptionBudget kube-system/coredns allows no disruption \(minAvailable 1, 1 of 2 pods healthy\) and covers coredns-[a-z0-9-]+ on k8s-master: draining would block; not starting batch 1/1 \(waited 0s for its pods to come back\)$' "$E2E_TMP/short")"
api '/lab/settle?timeout=10' >/dev/null 2>&1 || sleep 3
kubectl -n kube-system delete pod "$(dns_pod_to_delete)" >/dev/null
run_kplan "$E2E_TMP/short" check $pb -i "$inv" $kube -e pdb_check_wait=30
check "check, pods coming back, pdb_check_wait=30: waited, then went on" \
	"0 yes" "$rc $(grep -q '^hook: check-pdbs: waiting for PodDisruptionBudget kube-system/coredns: 1 of 2 pods healthy' "$E2E_TMP/short" && echo yes || echo no)"
api '/lab/settle?timeout=10' >/dev/null 2>&1 || sleep 3
run_kplan "$E2E_TMP/run" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" $kube --format json
check "run: exit 0 once no budget blocks" 0 "$rc"
check "run: the JSON stream validates" "valid" \
	"$($ev validate tests/schema/events.schema.json <"$E2E_TMP/run" | cut -d: -f1)"
check "run: the hook let every batch start (3 batches, 2 plays)" \
	"hook: check-pdbs: 1 budgets, none blocks batch 1/1 (k8s-master)|hook: check-pdbs: 1 budgets, none blocks batch 1/2 (k8s-worker-1)|hook: check-pdbs: 1 budgets, none blocks batch 2/2 (k8s-worker-2)" \
	"$(grep -o '"msg":"hook: check-pdbs: [^"]*"' "$E2E_TMP/run" | sed 's/^"msg":"//; s/"$//' | paste -sd'|' -)"
for n in k8s-master k8s-worker-1 k8s-worker-2; do
	check "run: $n has kubeadm, kubelet, kubectl 1.13.3-00, held" \
		"kubeadm=1.13.3-00 kubectl=1.13.3-00 kubelet=1.13.3-00 kubeadm,kubectl,kubelet" "$(pkgs $n)"
done
check "run: every node Ready at v1.13.3 and none cordoned" \
	"k8s-master=v1.13.3:False k8s-worker-1=v1.13.3:False k8s-worker-2=v1.13.3:False" "$(nodes)"

# --- the other examples: an after_host hook and a custom step --------------
api '/lab/settle?timeout=10' >/dev/null 2>&1 || sleep 3
cp -r playbooks/hooks playbooks/steps "$E2E_TMP/"
cat >"$E2E_TMP/examples.yml" <<'PLAN'
- name: examples
  hosts: k8s_cluster
  hooks:
    after_host: hooks/record-kubelet-version.lua
  tasks:
    - name: nginx at full replicas
      run_once: true
      lua:
        script: steps/wait-for-replicas.lua
        args: {namespace: default, name: nginx, timeout: 30}
      register: nginx
    - name: every Deployment at full replicas
      run_once: true
      lua:
        script: steps/wait-for-replicas.lua
        args: {timeout: 30, interval: 1}
      register: all
    - name: show
      run_once: true
      debug: msg="{{ nginx.msg }}; {{ all.msg }}; {{ all.ready[0] }}"
    - name: a missing Deployment fails, naming it
      run_once: true
      lua:
        script: steps/wait-for-replicas.lua
        args: {namespace: default, name: nope, timeout: 1}
      ignore_errors: true
PLAN
run_kplan "$E2E_TMP/ex" run "$E2E_TMP/examples.yml" -i "$inv" $kube --forks 1
check "examples: exit 0" 0 "$rc"
check "record-kubelet-version: every node's kubelet, logged after the host" \
	"hook: k8s-master: kubelet v1.13.3|hook: k8s-worker-1: kubelet v1.13.3|hook: k8s-worker-2: kubelet v1.13.3" \
	"$(grep '^hook: .*: kubelet ' "$E2E_TMP/ex" | sort | paste -sd'|' -)"
check "wait-for-replicas: the registered results" \
	"1 Deployment at full replicas; 4 Deployments at full replicas; default/nginx 5/5" \
	"$(grep -o '1 Deployment at full[^"]*' "$E2E_TMP/ex" | head -1)"
check "wait-for-replicas: a missing Deployment fails with the HTTP status" 1 \
	"$(grep -c 'steps/wait-for-replicas.lua:[0-9]*: wait-for-replicas: GET /apis/apps/v1/namespaces/default/deployments/nope: HTTP 404' "$E2E_TMP/ex")"
