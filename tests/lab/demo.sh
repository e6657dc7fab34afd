#!/bin/sh
# The demo: the seed's kubeadm upgrade, 1.13.0 -> 1.13.3, on a three-node
# lab cluster (lab.md, Scenario 1), as an operator would run it.
set -eu
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/kplan-demo.XXXXXX)
rmdir "$dir"
trap 'tests/lab/lab down --dir "$dir" >/dev/null 2>&1 || true' EXIT INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
on() { ssh -F "$dir/ssh_config" "$@"; }

say "bringing up the lab: k8s-master, k8s-worker-1, k8s-worker-2 at 1.13.0"
tests/lab/lab up --scenario 1 --dir "$dir"
inv=$dir/inventory.yml
on k8s-master kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes

say "kplan plan: the offline preview, for the change review"
./kplan plan playbooks/upgrade-1.13.yml -i "$inv"

say "kplan check: probe every node, change nothing"
./kplan check playbooks/upgrade-1.13.yml -i "$inv" --kubeconfig "$dir/kubeconfig"

say "kplan run: control plane first, then the workers one at a time"
./kplan run playbooks/upgrade-1.13.yml -i "$inv" --kubeconfig "$dir/kubeconfig"

say "the cluster afterwards"
on k8s-master kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes
for n in k8s-master k8s-worker-1 k8s-worker-2; do
	printf '%s: ' "$n"
	on "$n" "dpkg-query -W -f '\${Package} \${Version}  ' kubeadm kubelet kubectl; echo; apt-mark showhold | paste -sd' ' -"
done

say "kplan run again: nothing left to change"
./kplan run playbooks/upgrade-1.13.yml -i "$inv" --kubeconfig "$dir/kubeconfig"
