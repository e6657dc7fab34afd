#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 5 walked over two minors in one command by
# playbooks/upgrade-walk.yml: 1.35.9 -> 1.36.5 -> 1.37.1, one minor at a
# time (every node at 1.36.5 before any node starts on 1.37), each node's
# apt source following the minor; a walk that skips a minor refused before
# anything changes; a second run of the finished walk changes nothing (its
# steps below the cluster's version are passed by).
. "$(dirname "$0")/lib.sh"
scenario_lab 5 "scenario 5"
pb=playbooks/upgrade-walk.yml
k() { kubectl --kubeconfig "$L/kubeconfig" "$@"; }
nodes="k8s-control-1 k8s-control-2 k8s-worker-1 k8s-worker-2"
klog() { on "$1" 'cut -d" " -f2- /var/log/kubeadm-lab.log 2>/dev/null' | paste -sd'|' -; }
pkgs() {
	for n in $nodes; do
		on "$n" "dpkg-query -W -f '\${Version},' kubeadm kubelet kubectl; sed -n 's|.*/core:/stable:/\(v1\.[0-9]*\)/deb/ /\$|\1|p' /etc/apt/sources.list.d/kubernetes.list"
	done | paste -sd' ' -
}
base=$(on k8s-control-1 "sed -n 's|.* \(file:.*\)/core:/stable:.*|\1|p' /etc/apt/sources.list.d/kubernetes.list")

run_kplan "$E2E_TMP/skip" run $pb -i "$inv" -e '{"kube_walk": ["1.36.5", "1.38.0"]}' -e kube_apt_url="$base"
check "a walk that skips a minor: refused before anything changes" "4 1 ||| 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35" \
	"$rc $(grep -c "failed: \[k8s-control-1\] .*1.36.5 -> 1.38.0 is not a patch or one minor version (kubeadm upgrades one minor at a time)" "$E2E_TMP/skip") $(for n in $nodes; do klog "$n"; done | paste -sd'|' -) $(pkgs)"

run_kplan "$E2E_TMP/check" check $pb -i "$inv" -e '{"kube_walk": ["1.36.5", "1.37.1"]}' -e kube_apt_url="$base"
check "check: exit code; step 2 said not predicted" "0 1" \
	"$rc $(grep -c 'step 2 (1.37.1) starts from where step 1 leaves the cluster: not predicted' "$E2E_TMP/check")"
run_kplan "$E2E_TMP/run" run $pb -i "$inv" -e '{"kube_walk": ["1.36.5", "1.37.1"]}' -e kube_apt_url="$base"
check "run: exit code" 0 "$rc"
check "run: every node's packages at 1.37.1 from the v1.37 repository" \
	"1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37 1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37 1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37 1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37" \
	"$(pkgs)"
check "run: kubeadm on each host, one minor at a time" \
	"kubeadm-1.36.5 upgrade apply v1.36.5 --yes|kubeadm-1.37.1 upgrade apply v1.37.1 --yes#kubeadm-1.36.5 upgrade node|kubeadm-1.37.1 upgrade node#kubeadm-1.36.5 upgrade node|kubeadm-1.37.1 upgrade node#kubeadm-1.36.5 upgrade node|kubeadm-1.37.1 upgrade node" \
	"$(for n in $nodes; do klog "$n"; done | paste -sd'#' -)"
# the gate: the last 1.36 step on any node before the first 1.37 one
last36=$(for n in $nodes; do on "$n" 'grep " kubeadm-1.36.5 " /var/log/kubeadm-lab.log | cut -d" " -f1'; done | sort | tail -n 1)
first37=$(for n in $nodes; do on "$n" 'grep " kubeadm-1.37.1 " /var/log/kubeadm-lab.log | cut -d" " -f1'; done | sort | head -n 1)
check "run: every node finished 1.36 before any started 1.37" yes \
	"$([ -n "$last36" ] && [ "$(printf '%s\n%s\n' "$last36" "$first37" | sort | head -n 1)" = "$last36" ] && echo yes || echo "no: $last36 $first37")"
check "run: every kubelet reports v1.37.1" "v1.37.1 v1.37.1 v1.37.1 v1.37.1" \
	"$(k get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}')"
log_before=$(for n in $nodes; do klog "$n"; done)
run_kplan "$E2E_TMP/again" run $pb -i "$inv" -e '{"kube_walk": ["1.36.5", "1.37.1"]}' -e kube_apt_url="$base"
check "second run of the finished walk: exit code" 0 "$rc"
check "second run: nothing changed on any host, kubeadm not run" "0 0 0 0 yes" \
	"$(grep -o '^k8s-[a-z0-9-]* *: ok=[0-9]* *changed=[0-9]*' "$E2E_TMP/again" | sed 's/.*changed=//' | paste -sd' ' -) $([ "$log_before" = "$(for n in $nodes; do klog "$n"; done)" ] && echo yes)"
