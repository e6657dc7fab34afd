#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# kplan's drain against kubectl's, from the same lab state: the lab's drain
# fixture (POST /lab/reset {"fixture": "drain"}) puts on k8s-worker-1,
# besides its DaemonSet pods, nginx and metrics-server (emptyDir): a Failed
# DaemonSet pod, an orphaned DaemonSet pod (its DaemonSet gone), a mirror
# pod, a bare pod, a completed bare pod, a pod its PodDisruptionBudget
# holds, a pod terminating for a minute (held by a finalizer) and one in a
# namespace being deleted. For each set of options, kubectl drain runs,
# the lab is reset, and the `drain` module runs through a tiny playbook;
# then the pods each evicted (POST .../eviction 201) and deleted (DELETE
# 200), as the API server's log has them, the pods left, whether it
# failed, and whether the node ends cordoned must be the same.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "drain differential"
KUBECONFIG=$L/kubeconfig
export KUBECONFIG
PY=/usr/bin/python3
kubectl=/usr/bin/kubectl
if [ ! -x $kubectl ]; then
	deb=$(ls /var/cache/apt/archives/kubernetes-client_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] && dpkg-deb -x "$deb" "$E2E_TMP/kc" && kubectl=$E2E_TMP/kc/usr/bin/kubectl
fi
[ -x "$kubectl" ] || {
	echo "# SKIP no kubectl to compare with"
	exit 0
}
N=k8s-worker-1

reset() {
	printf '{"fixture": "drain", "node": "%s"}' $N | $kubectl create --raw /lab/reset -f - >/dev/null
	sleep 2.5 # the kubelets report their nodes Ready again
	$kubectl get --raw "/api/v1/pods?fieldSelector=spec.nodeName%3D$N" | $PY -c 'import json,sys
print(" ".join(sorted(p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in json.load(sys.stdin)["items"])))' >"$E2E_TMP/start"
	mark=$(wc -l <"$L/cluster/apiserver.log")
}
# what happened since reset: evicted, deleted, left, failed, cordoned
outcome() { # EXIT-STATUS
	tail -n +"$((mark + 1))" "$L/cluster/apiserver.log" >"$E2E_TMP/log"
	ev=$(sed -n 's|.* POST /api/v1/namespaces/\([^/]*\)/pods/\([^/]*\)/eviction 201 .*|\1/\2|p' "$E2E_TMP/log" | sort -u | paste -sd' ')
	del=$(sed -n 's|.* DELETE /api/v1/namespaces/\([^/]*\)/pods/\([^/? ]*\)[^ ]* 200.*|\1/\2|p' "$E2E_TMP/log" | sort -u | paste -sd' ')
	left=$(for p in $(cat "$E2E_TMP/start"); do case " $ev $del " in *" $p "*) ;; *) echo "$p" ;; esac; done | paste -sd' ')
	cordoned=$($kubectl get --raw /api/v1/nodes/$N | $PY -c 'import json,sys; print(bool(json.load(sys.stdin)["spec"].get("unschedulable")))')
	echo "evicted: $ev"
	echo "deleted: $del"
	echo "left: $left"
	echo "failed: $([ "$1" = 0 ] && echo no || echo yes)"
	echo "cordoned: $cordoned"
}
# compare WHAT KUBECTL-FLAGS KPLAN-ARGS
compare() {
	reset
	$kubectl drain $N $2 >"$E2E_TMP/kubectl.out" 2>&1
	outcome $? >"$E2E_TMP/kubectl"
	reset
	cat >"$E2E_TMP/drain.yml" <<PLAN
- name: drain
  hosts: $N
  tasks:
    - name: Drain
      drain: {$3}
PLAN
	"$KPLAN" run "$E2E_TMP/drain.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color >"$E2E_TMP/kplan.out" 2>&1
	outcome $? >"$E2E_TMP/kplan"
	while read -r what; do
		check "$1: $what" "$(grep "^$what" "$E2E_TMP/kubectl")" "$(grep "^$what" "$E2E_TMP/kplan")"
	done <<EOF
evicted:
deleted:
left:
failed:
EOF
}

# 1. what each does with every kind of pod, the budget holding one until
# the timeout (12 s: three tries 5 s apart), terminating pods skipped
compare "evict, skip-wait 1 s" \
	"--ignore-daemonsets --delete-emptydir-data --force --timeout=12s --skip-wait-for-delete-timeout=1" \
	"ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 12s, skip_wait_for_delete_timeout: 1s"
check "evict, skip-wait 1 s: both leave the node cordoned after failing" "cordoned: True cordoned: True" \
	"$(grep '^cordoned' "$E2E_TMP/kubectl") $(grep '^cordoned' "$E2E_TMP/kplan")"
check "evict, skip-wait 1 s: the Failed and the orphaned DaemonSet pods, the completed and the bare pod are evicted" \
	"kube-system/kube-proxy-failed kube-system/retired-agent-x1 default/job-done default/bare-worker" \
	"$(for p in kube-system/kube-proxy-failed kube-system/retired-agent-x1 default/job-done default/bare-worker; do grep -q "^evicted:.* $p\( \|$\)" "$E2E_TMP/kplan" && echo $p; done | paste -sd' ')"
check "evict, skip-wait 1 s: kplan's message names the pod its budget held until the timeout" 1 \
	"$(grep -c "draining node '$N': error when evicting pods/\"guarded-[a-z0-9-]*\" -n \"default\": global timeout reached: 12s .*node '$N' left cordoned" "$E2E_TMP/kplan.out")"
check "evict, skip-wait 1 s: kplan's result says what it evicted before failing" 1 \
	"$(grep -c "evicted before that: .*default/bare-worker" "$E2E_TMP/kplan.out")"

# 2. without skip-wait: the terminating pods are evicted again and waited
# for (the one in the terminating namespace answers 403 and is waited for)
compare "evict, no skip-wait" \
	"--ignore-daemonsets --delete-emptydir-data --force --timeout=8s" \
	"ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 8s"
check "evict, no skip-wait: the pod of the terminating namespace (403) is waited for, as kubectl does" "yes yes" \
	"$(for f in kubectl.out kplan.out; do grep -q 'error when waiting for pod "leftover" in namespace "doomed" to terminate: context deadline exceeded' "$E2E_TMP/$f" && echo yes || echo no; done | paste -sd' ')"

# 3. deletions instead of evictions: the budget does not hold
compare "delete" \
	"--ignore-daemonsets --delete-emptydir-data --force --disable-eviction --timeout=30s --skip-wait-for-delete-timeout=1" \
	"ignore_daemonsets: true, delete_emptydir_data: true, force: true, disable_eviction: true, timeout: 30s, skip_wait_for_delete_timeout: 1s"
check "delete: both cordon and succeed" "cordoned: True cordoned: True" \
	"$(grep '^cordoned' "$E2E_TMP/kubectl") $(grep '^cordoned' "$E2E_TMP/kplan")"

# 4. kubectl's defaults: refused (DaemonSet pods, emptyDir, bare pods,
# the orphaned DaemonSet pod): nothing is evicted. (Some kubectl releases
# print "cannot delete cannot delete Pods that declare no controller";
# kubectl's source says it once, as kplan does: compared without it.)
compare "defaults" "--timeout=10s" "ignore_daemonsets: false, timeout: 10s"
check "defaults: kplan refuses with kubectl's reasons, the same pods in each" \
	"$(grep '^cannot delete ' "$E2E_TMP/kubectl.out" | sed 's/cannot delete //g' | sort)" \
	"$(sed -n "s/.*cannot drain node '$N': \(.*\); node '$N' left cordoned$/\1/p" "$E2E_TMP/kplan.out" | sed 's/; cannot delete /\n/g' | sed 's/cannot delete //g' |
		sed 's/(use ignore_daemonsets: true to ignore)/(use --ignore-daemonsets to ignore)/; s/(use delete_emptydir_data: true to override)/(use --delete-emptydir-data to override)/; s/(use force: true to override)/(use --force to override)/' | sort)"
# both cordon first, then refuse: the node is left cordoned
check "defaults: kubectl and kplan cordon before they refuse" \
	"cordoned: True cordoned: True" \
	"$(grep '^cordoned' "$E2E_TMP/kubectl") $(grep '^cordoned' "$E2E_TMP/kplan")"
