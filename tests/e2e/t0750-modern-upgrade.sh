#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 5: a kubeadm cluster of today at 1.35.9 (two control planes, two
# workers; packages from pkgs.k8s.io-style signed repositories, one per
# minor) upgraded one minor to 1.36.5 by playbooks/upgrade.yml: every node's
# apt source switched to the v1.36 repository, `kubeadm upgrade apply` on
# the first control plane, `kubeadm upgrade node` on the others and on the
# workers, every package and kubelet at 1.36.5, control-plane images
# pre-pulled into containerd, and a second run changes nothing. Before
# that, forbidden paths refused before anything changes, naming the node,
# its version and the rule: a skipped minor, and a kubelet that would fall
# outside the version-skew policy.
. "$(dirname "$0")/lib.sh"
scenario_lab 5 "scenario 5"
pb=playbooks/upgrade.yml
k() { kubectl --kubeconfig "$L/kubeconfig" "$@"; }
kubelet_of() { k get node "$1" -o jsonpath='{.status.nodeInfo.kubeletVersion}{"\n"}'; }
nodes="k8s-control-1 k8s-control-2 k8s-worker-1 k8s-worker-2"
klog() { on "$1" 'cut -d" " -f2- /var/log/kubeadm-lab.log 2>/dev/null' | paste -sd'|' -; }
pkgs() { # every node's kubeadm, kubelet, kubectl versions and apt source's minor
	for n in $nodes; do
		on "$n" "dpkg-query -W -f '\${Version},' kubeadm kubelet kubectl; sed -n 's|.*/core:/stable:/\(v1\.[0-9]*\)/deb/ /\$|\1|p' /etc/apt/sources.list.d/kubernetes.list"
	done | paste -sd' ' -
}
# the repository's base as the nodes see it (a run dir the nodes cannot
# see is copied into them)
base=$(on k8s-control-1 "sed -n 's|.* \(file:.*\)/core:/stable:.*|\1|p' /etc/apt/sources.list.d/kubernetes.list")

check "lab: every node at 1.35.9 from the v1.35 repository" \
	"1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35" \
	"$(pkgs)"
check "lab: apt verifies the repository's signature with the keyring" \
	"deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] $base/core:/stable:/v1.35/deb/ / 1" \
	"$(on k8s-worker-1 'cat /etc/apt/sources.list.d/kubernetes.list; ls /var/lib/apt/lists | grep -c "_InRelease$"' | paste -sd' ' -)"

# ---- forbidden paths: refused before anything changes ------------------------------
run_kplan "$E2E_TMP/skip" run $pb -i "$inv" -e kube_version=1.37.1 -e kube_apt_url="$base"
check "a skipped minor: refused by the first task, naming the node, its version and the rule" "4 1" \
	"$rc $(grep -c "failed: \[k8s-control-1\] .*the control plane ('k8s-control-1') is at v1.35.9: v1.37.1 would skip Kubernetes 1.36; kubeadm upgrades one minor version at a time: upgrade to 1.36 first" "$E2E_TMP/skip")"
check "a skipped minor: nothing changed on any node" \
	"1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 1.35.9-1.1,1.35.9-1.1,1.35.9-1.1,v1.35 |||" \
	"$(pkgs) $(for n in $nodes; do klog "$n"; done | paste -sd'|' -)"
# a kubelet reporting 1.32 (as a node left behind would): 1.36 is four
# minors ahead of it, one more than the policy since 1.28 allows
on k8s-worker-2 'systemctl stop kubelet'
printf '{"status":{"nodeInfo":{"kubeletVersion":"v1.32.9"}}}' >"$E2E_TMP/old.json"
curl -sS -o /dev/null --cacert "$L/cluster/pki/ca.crt" --cert "$L/cluster/pki/admin.crt" --key "$L/cluster/pki/admin.key" \
	-X PATCH -H 'Content-Type: application/merge-patch+json' --data-binary "@$E2E_TMP/old.json" \
	"$(sed -n 's/^ *server: //p' "$L/kubeconfig")/api/v1/nodes/k8s-worker-2/status"
run_kplan "$E2E_TMP/old" check $pb -i "$inv" -e kube_version=1.36.5 -e kube_apt_url="$base"
check "a kubelet the target would leave too far behind: refused in check mode too" "4 1" \
	"$rc $(grep -c "failed: \[k8s-control-1\] .*node 'k8s-worker-2' has kubelet v1.32.9, 4 minor versions older than v1.36.5: a kubelet may be up to three minor versions older than the API server, never newer (Kubernetes version-skew policy since 1.28); upgrade node 'k8s-worker-2' first" "$E2E_TMP/old")"
on k8s-worker-2 'systemctl start kubelet'
i=0
until [ "$(kubelet_of k8s-worker-2)" = v1.35.9 ] || [ $i -ge 50 ]; do
	sleep 0.2
	i=$((i + 1))
done

# ---- one minor: 1.35.9 -> 1.36.5 ---------------------------------------------------
run_kplan "$E2E_TMP/check" check $pb -i "$inv" -e kube_version=1.36.5 -e kube_apt_url="$base"
check "check: exit code, the path allowed" "0 1" \
	"$rc $(grep -c 'v1.35.9 -> v1.36.5 is allowed: one minor version' "$E2E_TMP/check")"
run_kplan "$E2E_TMP/run" run $pb -i "$inv" -e kube_version=1.36.5 -e kube_apt_url="$base" \
	-e kube_certificate_renewal=false
check "run: exit code" 0 "$rc"
check "run: every node's packages at 1.36.5 from the v1.36 repository" \
	"1.36.5-1.1,1.36.5-1.1,1.36.5-1.1,v1.36 1.36.5-1.1,1.36.5-1.1,1.36.5-1.1,v1.36 1.36.5-1.1,1.36.5-1.1,1.36.5-1.1,v1.36 1.36.5-1.1,1.36.5-1.1,1.36.5-1.1,v1.36" \
	"$(pkgs)"
check "run: kubeadm's commands on each host (apply first, then upgrade node; --certificate-renewal passed)" \
	"kubeadm-1.36.5 upgrade apply v1.36.5 --yes --certificate-renewal=false#kubeadm-1.36.5 upgrade node --certificate-renewal=false#kubeadm-1.36.5 upgrade node --certificate-renewal=false#kubeadm-1.36.5 upgrade node --certificate-renewal=false" \
	"$(for n in $nodes; do klog "$n"; done | paste -sd'#' -)"
check "run: the API server and every kubelet report v1.36.5" "v1.36.5 v1.36.5 v1.36.5 v1.36.5 v1.36.5" \
	"$(k version -o json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') $(for n in $nodes; do kubelet_of "$n"; done | paste -sd' ' -)"
check "run: both control planes' static pods and containerd images at v1.36.5" \
	"registry.k8s.io/kube-apiserver:v1.36.5 registry.k8s.io/kube-apiserver:v1.36.5 1 1" \
	"$(for n in k8s-control-1 k8s-control-2; do on "$n" "sed -n 's/^ *image: //p' /etc/kubernetes/manifests/kube-apiserver.yaml"; done | paste -sd' ' -) $(for n in k8s-control-1 k8s-control-2; do on "$n" 'crictl images | grep -c "^registry.k8s.io/kube-scheduler  *v1.36.5 "'; done | paste -sd' ' -)"
check "run: no node left cordoned" "" "$(k get nodes -o jsonpath='{.items[*].spec.unschedulable}')"
log_before=$(for n in $nodes; do klog "$n"; done)
run_kplan "$E2E_TMP/again" run $pb -i "$inv" -e kube_version=1.36.5 -e kube_apt_url="$base"
check "second run: exit code" 0 "$rc"
check "second run: nothing changed on any host" "0 0 0 0" \
	"$(grep -o '^k8s-[a-z0-9-]* *: ok=[0-9]* *changed=[0-9]*' "$E2E_TMP/again" | sed 's/.*changed=//' | paste -sd' ' -)"
check "second run: kubeadm not run again" "$log_before" "$(for n in $nodes; do klog "$n"; done)"
