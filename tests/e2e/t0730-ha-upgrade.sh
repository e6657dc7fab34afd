#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 4: a kubeadm HA cluster at 1.13.0 (three control planes with
# stacked etcd, a worker) upgraded to 1.13.3 by playbooks/upgrade-1.13.yml.
# Each host gets the command of its kubeadm's era: `upgrade apply` on the
# first control plane, `upgrade node experimental-control-plane` and
# `upgrade node config --kubelet-version` on the other two (1.12 to 1.14),
# `upgrade node config` on the worker; every control plane's static pods
# (their mirror pods in the API) end at v1.13.3, and a second run changes
# nothing. Before that, kubeadm's version-skew refusals in kubeadm's words,
# in check and run alike: a kubeadm newer than the target, a kubelet
# anywhere in the cluster too old for the target, a skipped minor (not even
# with force).
. "$(dirname "$0")/lib.sh"
if ! command -v etcd >/dev/null 2>&1; then
	echo "# SKIP scenario 4: needs etcd (Debian etcd-server; make deps)"
	exit 0
fi
scenario_lab 4 "scenario 4"
pb=playbooks/upgrade-1.13.yml
# the real kubectl (Debian's kubernetes-client) from the controller
k() { kubectl --kubeconfig "$L/kubeconfig" "$@"; }
apt_get() { # NODE PACKAGE=VERSION...
	n=$1
	shift
	on "$n" "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-change-held-packages --allow-downgrades $* >/dev/null 2>&1 && apt-mark hold kubeadm kubelet kubectl >/dev/null"
}
kubelet_of() { k get node "$1" -o jsonpath='{.status.nodeInfo.kubeletVersion}{"\n"}'; }
wait_kubelet() { # NODE VERSION
	i=0
	while [ "$(kubelet_of "$1")" != "$2" ] && [ $i -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
}
# IMAGE of every static pod of the control plane, as its mirror pod reports it
mirrors() {
	k get pods -n kube-system -o jsonpath='{range .items[*]}{.metadata.name}={.spec.containers[0].image}{"\n"}{end}' |
		grep '^kube-' | sort | paste -sd' ' -
}
want_mirrors() { # VERSION: what mirrors() prints when every component runs VERSION
	for c in kube-apiserver kube-controller-manager kube-scheduler; do
		for n in 1 2 3; do echo "$c-k8s-master-$n=k8s.gcr.io/$c:$1"; done
	done | sort | paste -sd' ' -
}
klog() { on "$1" 'cut -d" " -f2- /var/log/kubeadm-lab.log 2>/dev/null' | paste -sd'|' -; }

i=0
until [ "$(mirrors)" = "$(want_mirrors v1.13.0)" ] || [ $i -ge 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
check "lab: the three control planes' mirror pods report v1.13.0" "$(want_mirrors v1.13.0)" "$(mirrors)"

# ---- kubeadm's refusals -------------------------------------------------------------
cat >"$E2E_TMP/one.yml" <<'EOF2'
- hosts: k8s-master-1
  tasks:
    - name: kubeadm
      kubeadm-upgrade: {version: "{{ v }}", action: apply, force: "{{ force | default(false) }}"}
EOF2
apt_get k8s-master-1 kubeadm=1.14.0-00
run_kplan "$E2E_TMP/new" check "$E2E_TMP/one.yml" -i "$inv" -e v=v1.13.3
check "kubeadm newer than the target: refused by check, in kubeadm's words" "1 1" \
	"$rc $(grep -c "failed: \[k8s-master-1\] .*kubeadm v1.14.0 on 'k8s-master-1' would refuse v1.13.3: Kubeadm version v1.14.0 can only be used to upgrade to Kubernetes version 1.14 (kubeadm's --force passes this: set force: true)" "$E2E_TMP/new")"
apt_get k8s-worker-1 kubelet=1.12.5-00
on k8s-worker-1 'systemctl restart kubelet'
wait_kubelet k8s-worker-1 v1.12.5
check "lab: k8s-worker-1's kubelet reports v1.12.5" v1.12.5 "$(kubelet_of k8s-worker-1)"
run_kplan "$E2E_TMP/old-kubelet" check "$E2E_TMP/one.yml" -i "$inv" -e v=v1.14.0
check "a kubelet elsewhere too old for the target: refused by check" "1 1" \
	"$rc $(grep -c "would refuse v1.14.0: There are kubelets in this cluster that are too old that have these versions \[v1.12.5\] (kubeadm's --force passes this" "$E2E_TMP/old-kubelet")"
run_kplan "$E2E_TMP/old-kubelet-run" run "$E2E_TMP/one.yml" -i "$inv" -e v=v1.14.0
check "a kubelet elsewhere too old for the target: refused by run, kubeadm not run" "1 1 " \
	"$rc $(grep -c 'There are kubelets in this cluster that are too old' "$E2E_TMP/old-kubelet-run") $(klog k8s-master-1)"
run_kplan "$E2E_TMP/skip" check "$E2E_TMP/one.yml" -i "$inv" -e v=v1.15.0 -e force=true
check "a skipped minor: refused even with force" "1 1" \
	"$rc $(grep -c "would refuse v1.15.0: Specified version to upgrade to \"v1.15.0\" is too high; kubeadm can upgrade only 1 minor version at a time (kubeadm refuses this even with --force)" "$E2E_TMP/skip")"
apt_get k8s-worker-1 kubelet=1.13.0-00
on k8s-worker-1 'systemctl restart kubelet'
apt_get k8s-master-1 kubeadm=1.13.0-00
wait_kubelet k8s-worker-1 v1.13.0

# ---- the upgrade ----------------------------------------------------------------------
run_kplan "$E2E_TMP/check" check $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" --no-fold
check "check: exit code" 0 "$rc"
check "check: the other control planes get the era's commands" 2 \
	"$(grep -c "changed: \[k8s-master-[23]\] .*would run: kubeadm upgrade node experimental-control-plane; kubeadm upgrade node config --kubelet-version v1.13.3 <unknown: depends on kubeadm v1.13.3 being installed first; it is v1.13.0 now>" "$E2E_TMP/check")"
run_kplan "$E2E_TMP/run" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups"
check "run: exit code" 0 "$rc"
check "run: kubeadm's commands on each host, in order" \
	"upgrade apply v1.13.3 --yes#upgrade node experimental-control-plane|upgrade node config --kubelet-version v1.13.3#upgrade node experimental-control-plane|upgrade node config --kubelet-version v1.13.3#upgrade node config --kubelet-version v1.13.3" \
	"$(for n in k8s-master-1 k8s-master-2 k8s-master-3 k8s-worker-1; do klog $n | sed 's/kubeadm-1.13.3 //g'; done | paste -sd'#' -)"
check "run: every control plane's mirror pods report v1.13.3" "$(want_mirrors v1.13.3)" "$(mirrors)"
check "run: every kubelet at v1.13.3" "v1.13.3 v1.13.3 v1.13.3 v1.13.3" \
	"$(for n in k8s-master-1 k8s-master-2 k8s-master-3 k8s-worker-1; do kubelet_of $n; done | paste -sd' ' -)"
check "run: no node left cordoned" "" \
	"$(k get nodes -o jsonpath='{.items[*].spec.unschedulable}')"
log_before=$(for n in 1 2 3; do klog k8s-master-$n; done)
run_kplan "$E2E_TMP/again" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups"
check "second run: exit code" 0 "$rc"
check "second run: nothing changed on any host" "0 0 0 0" \
	"$(grep -o '^k8s-[a-z0-9-]* *: ok=[0-9]* *changed=[0-9]*' "$E2E_TMP/again" | sed 's/.*changed=//' | paste -sd' ' -)"
check "second run: kubeadm not run again" "$log_before" "$(for n in 1 2 3; do klog k8s-master-$n; done)"
