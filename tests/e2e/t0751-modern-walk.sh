#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 5 walked over two minors by playbooks/upgrade.yml given only the
# target: 1.35.9 -> 1.36.5 (the newest patch of 1.36 in its repository) ->
# 1.37.1, one minor at a time (every node at 1.36.5 before any node starts
# on 1.37), each node's apt source following the minor, `kubeadm upgrade
# apply` on the first control plane and `upgrade node` elsewhere. The
# controller is SIGKILLed in step 2, right after the journal records
# k8s-control-2's kubeadm (k8s-control-1 finished the step, k8s-control-2
# half-way); `kplan run
# --resume` finishes the walk without repeating what was done (each
# node's kubeadm and package installs once per step, in the lab's command
# logs). A second run changes nothing.
. "$(dirname "$0")/lib.sh"
scenario_lab 5 "scenario 5"
pb=playbooks/upgrade.yml
J=$E2E_TMP/journal
k() { kubectl --kubeconfig "$L/kubeconfig" "$@"; }
nodes="k8s-control-1 k8s-control-2 k8s-worker-1 k8s-worker-2"
klog() { on "$1" 'cut -d" " -f2- /var/log/kubeadm-lab.log 2>/dev/null' | paste -sd'|' -; }
pkgs() {
	for n in $nodes; do
		on "$n" "dpkg-query -W -f '\${Version},' kubeadm kubelet kubectl; sed -n 's|.*/core:/stable:/\(v1\.[0-9]*\)/deb/ /\$|\1|p' /etc/apt/sources.list.d/kubernetes.list"
	done | paste -sd' ' -
}
# each node's installs of kubelet and kubeadm, from dpkg's own log
installs() { on "$1" "grep ' status installed kube\(let\|adm\):' /var/log/dpkg.log | cut -d' ' -f5-6 | sort | uniq -c | awk '{ print \$1 \"x\" \$2 \"=\" \$3 }'" | paste -sd, -; }
base=$(on k8s-control-1 "sed -n 's|.* \(file:.*\)/core:/stable:.*|\1|p' /etc/apt/sources.list.d/kubernetes.list")
# the newest 1.36 patch, as the v1.36 repository names it
new36=$(ls "$L/repo/core:/stable:/v1.36/deb/" | sed -n 's/^kubeadm_\([0-9.]*\)-.*/\1/p' | sort -V | tail -n 1)
# a short Lease, so that the resumed run can take over the dead one's lock
KPLAN_LEASE_SECONDS=6
export KPLAN_LEASE_SECONDS

"$KPLAN" run $pb -i "$inv" -e kube_version=1.37.1 -e kube_apt_url="$base" -e kube_walk_etcd=false \
	-e kube_certificate_renewal=false --journal "$J" $kube >"$E2E_TMP/run1" 2>&1 &
pid=$!
# the event: the journal records k8s-control-2's kubeadm task of step 2
# (its second kubeadm result)
kubeadm_done() {
	cat "$J"/*.jsonl 2>/dev/null | grep '"type":"result"' | grep '"host":"k8s-control-2"' |
		grep -cF '"task":"Upgrade the node'"'"'s Kubernetes components with kubeadm"'
}
killed=""
i=0
while [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do
	if [ "$(kubeadm_done)" -ge 2 ]; then
		kill -9 $pid
		killed=1
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
wait $pid
rc=$?
check "run 1: SIGKILLed in step 2, after k8s-control-2's kubeadm" "1 137" "$killed $rc"
id=$(basename "$(ls "$J"/*.jsonl | head -n 1)" .jsonl)

# the dead controller's Lease expires after KPLAN_LEASE_SECONDS: until then
# the resumed run is refused at the lock (exit 5), having changed nothing
i=0
while :; do
	run_kplan "$E2E_TMP/run2" run $pb -i "$inv" -e kube_version=1.37.1 -e kube_apt_url="$base" -e kube_walk_etcd=false \
		-e kube_certificate_renewal=false --journal "$J" $kube --resume "$id"
	[ "$rc" = 5 ] && [ $i -lt 60 ] || break
	sleep 1
	i=$((i + 1))
done
check "resume: exit 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 20 "$E2E_TMP/run2" | sed 's/^/    /'
check "resume: every node's packages at 1.37.1 from the v1.37 repository" \
	"1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37 1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37 1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37 1.37.1-1.1,1.37.1-1.1,1.37.1-1.1,v1.37" \
	"$(pkgs)"
check "kubeadm on each host once per step, one minor at a time (--certificate-renewal passed)" \
	"kubeadm-$new36 upgrade apply v$new36 --yes --certificate-renewal=false|kubeadm-1.37.1 upgrade apply v1.37.1 --yes --certificate-renewal=false#kubeadm-$new36 upgrade node --certificate-renewal=false|kubeadm-1.37.1 upgrade node --certificate-renewal=false#kubeadm-$new36 upgrade node --certificate-renewal=false|kubeadm-1.37.1 upgrade node --certificate-renewal=false#kubeadm-$new36 upgrade node --certificate-renewal=false|kubeadm-1.37.1 upgrade node --certificate-renewal=false" \
	"$(for n in $nodes; do klog "$n"; done | paste -sd'#' -)"
for n in $nodes; do
	check "dpkg: $n: kubeadm and kubelet installed once per version" \
		"1xkubeadm:amd64=1.35.9-1.1,1xkubeadm:amd64=$new36-1.1,1xkubeadm:amd64=1.37.1-1.1,1xkubelet:amd64=1.35.9-1.1,1xkubelet:amd64=$new36-1.1,1xkubelet:amd64=1.37.1-1.1" \
		"$(installs "$n")"
done
check "resume: k8s-control-1's step 2 skipped as done in the killed run" 1 \
	"$(grep -c "skipped: \[k8s-control-1\] .*done in run $id" "$E2E_TMP/run2" | awk '{ print ($1 > 5) }')"
# the gate: the last 1.36 step on any node before the first 1.37 one
last36=$(for n in $nodes; do on "$n" "grep ' kubeadm-$new36 ' /var/log/kubeadm-lab.log | cut -d' ' -f1"; done | sort | tail -n 1)
first37=$(for n in $nodes; do on "$n" 'grep " kubeadm-1.37.1 " /var/log/kubeadm-lab.log | cut -d" " -f1'; done | sort | head -n 1)
check "every node finished 1.36 before any started 1.37" yes \
	"$([ -n "$last36" ] && [ "$(printf '%s\n%s\n' "$last36" "$first37" | sort | head -n 1)" = "$last36" ] && echo yes || echo "no: $last36 $first37")"
check "the API server and every kubelet report v1.37.1; no node cordoned" "v1.37.1 v1.37.1 v1.37.1 v1.37.1 v1.37.1 " \
	"$(k version -o json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') $(k get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}') $(k get nodes -o jsonpath='{.items[*].spec.unschedulable}')"
check "both control planes' static pods and containerd images at v1.37.1" \
	"registry.k8s.io/kube-apiserver:v1.37.1 registry.k8s.io/kube-apiserver:v1.37.1 1 1" \
	"$(for n in k8s-control-1 k8s-control-2; do on "$n" "sed -n 's/^ *image: //p' /etc/kubernetes/manifests/kube-apiserver.yaml"; done | paste -sd' ' -) $(for n in k8s-control-1 k8s-control-2; do on "$n" 'crictl images | grep -c "^registry.k8s.io/kube-scheduler  *v1.37.1 "'; done | paste -sd' ' -)"

log_before=$(for n in $nodes; do klog "$n"; done)
run_kplan "$E2E_TMP/again" run $pb -i "$inv" -e kube_version=1.37.1 -e kube_apt_url="$base" -e kube_walk_etcd=false
check "second run: exit 0, the walk has no step" "0 1" \
	"$rc $(grep -c 'ok: \[k8s-control-1\] .*the cluster and every node are at v1.37.1 already' "$E2E_TMP/again")"
# the recap lists the hosts a task counted for, as Ansible's (the walk's
# empty steps end their plays with meta, which counts for none)
check "second run: nothing changed on any host, kubeadm not run" "0 yes" \
	"$(grep -o '^k8s-[a-z0-9-]* *: ok=[0-9]* *changed=[0-9]*' "$E2E_TMP/again" | sed 's/.*changed=//' | sort -u | paste -sd' ' -) $([ "$log_before" = "$(for n in $nodes; do klog "$n"; done)" ] && echo yes)"
