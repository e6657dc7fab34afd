#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# 1. API discovery is asked once per run for each server: a run of several
#    drain tasks on several hosts makes one GET /api/v1 and one GET /apis
#    (the API server's log counts them), and -vvv says so.
# 2. A drain that kubectl's filters refuse does what Debian's kubectl 1.20
#    does, from the same lab state: the node is cordoned first, then the
#    drain fails with the filters' errors (the same pods, the same words
#    with kplan's argument names for kubectl's flags), nothing is evicted,
#    and the node is left cordoned. Check mode changes nothing and says
#    the node would be left cordoned.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "drain: one discovery per run; cordon, then refuse"
KUBECONFIG=$L/kubeconfig
export KUBECONFIG
PY=/usr/bin/python3
N=k8s-worker-1
mark() { mark=$(wc -l <"$L/cluster/apiserver.log"); }
since() { tail -n +"$((mark + 1))" "$L/cluster/apiserver.log"; }
deb=$(ls /var/cache/apt/archives/kubernetes-client_*.deb 2>/dev/null | head -n 1)
if [ -n "$deb" ] && dpkg-deb -x "$deb" "$E2E_TMP/kc" 2>/dev/null && [ -x "$E2E_TMP/kc/usr/bin/kubectl" ]; then
	kubectl=$E2E_TMP/kc/usr/bin/kubectl
else
	kubectl=
fi
labkubectl=${kubectl:-/usr/bin/kubectl}

# ---- 1. one discovery per run --------------------------------------------------
cat >"$E2E_TMP/many.yml" <<PLAN
- name: drain twice
  hosts: k8s-worker-1,k8s-worker-2
  tasks:
    - name: Drain (no pod matches)
      drain: {pod_selector: "app=none-such", timeout: 60s}
    - name: Uncordon
      drain: {state: uncordoned}
    - name: Drain again
      drain: {pod_selector: "app=none-such", timeout: 60s}
    - name: Uncordon again
      drain: {state: uncordoned}
- name: and again
  hosts: k8s-worker-2
  tasks:
    - name: Drain a third time
      drain: {pod_selector: "app=none-such", timeout: 60s}
    - name: Uncordon
      drain: {state: uncordoned}
PLAN
mark
"$KPLAN" run "$E2E_TMP/many.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color -vvv >"$E2E_TMP/many.out" 2>&1
echo $? >"$E2E_TMP/many.rc"
since >"$E2E_TMP/many.log"
check "discovery: the run succeeds" 0 "$(cat "$E2E_TMP/many.rc")"
check "discovery: the drains evicted (looked for evictions) 5 times" 5 \
	"$(grep -c "changed: \[k8s-worker-[12]\] .*drained node" "$E2E_TMP/many.out")"
check "discovery: one GET /api/v1 and one GET /apis in the whole run" "1 1" \
	"$(grep -c 'kubernetes-admin GET /api/v1 ' "$E2E_TMP/many.log") $(grep -c 'kubernetes-admin GET /apis ' "$E2E_TMP/many.log")"
check "discovery: -vvv says it was asked once and shared four times" "1 4" \
	"$(grep -c 'API discovery of .*: asked once for this run (eviction policy/v1beta1, policy policy/v1beta1, leases coordination.k8s.io/v1beta1)' "$E2E_TMP/many.out") $(grep -c "API discovery of .*: this run's (eviction policy/v1beta1" "$E2E_TMP/many.out")"

# ---- 2. cordon, then refuse --------------------------------------------------------
[ -x "$labkubectl" ] || {
	echo "# SKIP refused: no kubectl to reset the lab with"
	exit 0
}
reset() {
	printf '{"fixture": "drain", "node": "%s"}' $N | $labkubectl create --raw /lab/reset -f - >/dev/null
	sleep 2.5 # the kubelets report their nodes Ready again
	mark
}
cordoned() {
	grep "PATCH /api/v1/nodes/$N 200 " "$1" | grep -q '"unschedulable":true' && echo cordoned || echo uncordoned
}
evictions() { grep -c "/eviction [0-9]" "$1"; }
cat >"$E2E_TMP/refused.yml" <<PLAN
- name: drain
  hosts: $N
  tasks:
    - name: Drain
      drain: {ignore_daemonsets: false, timeout: 10s}
PLAN

reset
"$KPLAN" run "$E2E_TMP/refused.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color >"$E2E_TMP/kplan.out" 2>&1
echo $? >"$E2E_TMP/kplan.rc"
since >"$E2E_TMP/kplan.log"
check "refused: kplan fails" 1 "$(cat "$E2E_TMP/kplan.rc")"
check "refused: kplan cordons first, evicts nothing, and says the node is left cordoned" "cordoned 0 1" \
	"$(cordoned "$E2E_TMP/kplan.log") $(evictions "$E2E_TMP/kplan.log") $(grep -c "failed: \[$N\] .*cannot drain node '$N': .*; node '$N' left cordoned$" "$E2E_TMP/kplan.out")"
check "refused: the cordon comes before the second look at the pods" "PATCH GET" \
	"$(grep -E "kubernetes-admin (PATCH /api/v1/nodes/$N |GET /api/v1/pods\?)" "$E2E_TMP/kplan.log" | tail -n 2 | awk '{print $3}' | paste -sd' ')"
check "refused: the journal knows the node was left cordoned" 1 \
	"$(grep -c "nodes left cordoned by this run: $N" "$E2E_TMP/kplan.out")"

if [ -z "$kubectl" ]; then
	echo "# SKIP refused: no kubernetes-client .deb (Debian's kubectl) to compare with"
else
	reset
	"$kubectl" drain $N --timeout=10s >"$E2E_TMP/kubectl.out" 2>&1
	echo $? >"$E2E_TMP/kubectl.rc"
	since >"$E2E_TMP/kubectl.log"
	check "refused: kubectl 1.20 fails too, having cordoned and evicted nothing" "1 cordoned 0" \
		"$(cat "$E2E_TMP/kubectl.rc") $(cordoned "$E2E_TMP/kubectl.log") $(evictions "$E2E_TMP/kubectl.log")"
	# kubectl 1.20 prints each reason on a line of its own ("cannot delete
	# REASON: PODS"), in no fixed order; kplan joins them with "; " and
	# names its own arguments where kubectl names its flags
	check "refused: the same reasons for the same pods as kubectl 1.20" \
		"$(grep '^cannot delete ' "$E2E_TMP/kubectl.out" | sort)" \
		"$(sed -n "s/.*cannot drain node '$N': \(.*\); node '$N' left cordoned$/\1/p" "$E2E_TMP/kplan.out" |
			sed 's/; cannot delete /\ncannot delete /g' |
			sed 's/(use ignore_daemonsets: true to ignore)/(use --ignore-daemonsets to ignore)/
s/(use delete_emptydir_data: true to override)/(use --delete-emptydir-data to override)/
s/Pods that declare no controller (use force: true to override)/Pods not managed by ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet (use --force to override)/' | sort)"
fi

# check mode: nothing changes; it says what the run would leave
reset
"$KPLAN" run "$E2E_TMP/refused.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color --check >"$E2E_TMP/check.out" 2>&1
echo $? >"$E2E_TMP/check.rc"
since >"$E2E_TMP/check.log"
check "refused, check mode: fails, cordons nothing, says the node would be left cordoned" "1 0 1" \
	"$(cat "$E2E_TMP/check.rc") $(grep -c "PATCH /api/v1/nodes/$N " "$E2E_TMP/check.log") $(grep -c "failed: \[$N\] .*cannot drain node '$N': .*; node '$N' would be left cordoned$" "$E2E_TMP/check.out")"
