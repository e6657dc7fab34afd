#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 5: a kubeadm cluster of today at 1.35.9 (two control planes, two
# workers; packages from pkgs.k8s.io-style signed repositories, one per
# minor). playbooks/upgrade.yml takes only the target: what it refuses
# before anything changes (a downgrade, a version the repository does not
# have, a minor with no repository, a kubelet too far behind, a cordoned
# node), naming the node, its version and the rule; and what `kplan check`
# shows of a walk over two minors: every step, its version and its nodes.
# The walk itself runs in t0751 (this script runs no upgrade: it is cheap).
. "$(dirname "$0")/lib.sh"
scenario_lab 5 "scenario 5"
pb=playbooks/upgrade.yml
k() { kubectl --kubeconfig "$L/kubeconfig" "$@"; }
kubelet_of() { k get node "$1" -o jsonpath='{.status.nodeInfo.kubeletVersion}{"\n"}'; }
nodes="k8s-control-1 k8s-control-2 k8s-worker-1 k8s-worker-2"
# the repository's base as the nodes see it (a run dir the nodes cannot
# see is copied into them)
base=$(on k8s-control-1 "sed -n 's|.* \(file:.*\)/core:/stable:.*|\1|p' /etc/apt/sources.list.d/kubernetes.list")
at_start="1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35;0 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35;0 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35;0 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35;0"
# every node's packages, apt source and number of kubeadm runs (one ssh each)
unchanged() {
	for n in $nodes; do
		on "$n" "dpkg-query -W -f '\${Version},' kubeadm kubelet kubectl; sed -n 's|.*/core:/stable:/\(v1\.[0-9]*\)/deb/ /\$|\1|p' /etc/apt/sources.list.d/kubernetes.list | tr -d '\n'; printf ';%s\n' \$(cat /var/log/kubeadm-lab.log 2>/dev/null | wc -l)"
	done | paste -sd' ' -
}

check "lab: every node at 1.35.9 from the v1.35 repository, no kubeadm run" "$at_start" "$(unchanged)"
check "lab: apt verifies the repository's signature with the keyring" \
	"deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] $base/core:/stable:/v1.35/deb/ / 1" \
	"$(on k8s-worker-1 'cat /etc/apt/sources.list.d/kubernetes.list; ls /var/lib/apt/lists | grep -c "_InRelease$"' | paste -sd' ' -)"

# ---- refused before anything changes ------------------------------------------------
refused() { # NAME VERSION MESSAGE [check]
	run_kplan "$E2E_TMP/r" "${4:-run}" $pb -i "$inv" -e kube_version="$2" -e kube_apt_url="$base"
	check "$1: refused by the first task, nothing changed" "4 1 $at_start" \
		"$rc $(grep -cF "failed: [k8s-control-1] " "$E2E_TMP/r" | tr -d '\n'; grep -F "$3" "$E2E_TMP/r" >/dev/null || echo " (no '$3')") $(unchanged)"
}
refused "a downgrade" 1.35.8 "the control plane ('k8s-control-1') is at v1.35.9: v1.35.8 would be a downgrade, which kubeadm cannot do"
# what the v1.36 repository has, as its packages name it
has36=$(ls "$L/repo/core:/stable:/v1.36/deb/" | sed -n 's/^kubeadm_\([0-9.]*\)-.*/v\1/p' | sort -V | paste -sd, - | sed 's/,/, /g')
refused "a version the repository does not have" 1.36.9 \
	"v1.36.9 is not in the repository $base/core:/stable:/v1.36/deb/: it has $has36"
refused "a minor with no repository" 1.38.0 \
	"v1.38.0 is not in the repository $base/core:/stable:/v1.38/deb/: it cannot be read (E: Failed to fetch $base/core:/stable:/v1.38/deb/Packages"

# a kubelet reporting 1.31 (as a node left behind would): four minors
# behind the control plane, one more than the policy since 1.28 allows
on k8s-worker-2 'systemctl stop kubelet'
printf '{"status":{"nodeInfo":{"kubeletVersion":"v1.31.9"}}}' >"$E2E_TMP/old.json"
curl -sS -o /dev/null --cacert "$L/cluster/pki/ca.crt" --cert "$L/cluster/pki/admin.crt" --key "$L/cluster/pki/admin.key" \
	-X PATCH -H 'Content-Type: application/merge-patch+json' --data-binary "@$E2E_TMP/old.json" \
	"$(sed -n 's/^ *server: //p' "$L/kubeconfig")/api/v1/nodes/k8s-worker-2/status"
refused "a kubelet too far behind (check mode too)" 1.37.1 \
	"node 'k8s-worker-2' has kubelet v1.31.9, 4 minor versions older than v1.35.9: a kubelet may be up to three minor versions older than the API server, never newer (Kubernetes version-skew policy since 1.28); upgrade node 'k8s-worker-2' first" check
on k8s-worker-2 'systemctl start kubelet'
i=0
until [ "$(kubelet_of k8s-worker-2)" = v1.35.9 ] || [ $i -ge 150 ]; do
	sleep 0.2
	i=$((i + 1))
done

# a cordoned node: the step's check stops the walk before its first node
k cordon k8s-worker-1 >/dev/null
run_kplan "$E2E_TMP/cordoned" run $pb -i "$inv" -e kube_version=1.36.5 -e kube_apt_url="$base"
check "a cordoned node: the step's check refuses, nothing changed" "4 1 $at_start" \
	"$rc $(grep -c "failed: \[k8s-control-1\] .*node 'k8s-worker-1' is cordoned (SchedulingDisabled): the next step of the upgrade starts only when every node is Ready and schedulable" "$E2E_TMP/cordoned") $(unchanged)"
k uncordon k8s-worker-1 >/dev/null

# ---- the preview of a walk over two minors --------------------------------------------
new36=$(echo "$has36" | sed 's/.*, //')
all="k8s-control-1 (upgrade apply), k8s-control-2, k8s-worker-1, k8s-worker-2"
run_kplan "$E2E_TMP/check" check $pb -i "$inv" -e kube_version=1.37.1 -e kube_apt_url="$base"
check "check: exit 0; the whole walk, each minor in between at its newest patch, and each step's nodes" "0 1 1" \
	"$rc $(grep -cF "walk v1.35.9 -> v1.37.1 in 2 steps: 1) $new36 (the newest patch of its minor): $all; 2) v1.37.1: $all" "$E2E_TMP/check") $(grep -cF "step 2 of 2: ${new36#v} -> 1.37.1 from $base/core:/stable:/v1.37/deb/: k8s-control-1, k8s-control-2, k8s-worker-1, k8s-worker-2; not predicted node by node: it starts from where step 1 leaves the cluster" "$E2E_TMP/check")"
check "check: step 1 predicted node by node (kubeadm upgrade apply on the first control plane, upgrade node elsewhere)" "1 3" \
	"$(grep -c 'changed: \[k8s-control-1\] .*would run: kubeadm upgrade apply v1.36.5 --yes' "$E2E_TMP/check") $(grep -c 'changed: \[k8s-[a-z0-9-]*\] .*would run: kubeadm upgrade node ' "$E2E_TMP/check")"
check "check: nothing changed" "$at_start" "$(unchanged)"
