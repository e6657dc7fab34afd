#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 5 walked over two minors by playbooks/upgrade.yml given only the
# target: 1.35.9 -> 1.36.5 (the newest patch of 1.36 in its repository) ->
# 1.37.1, one minor at a time (every node at 1.36.5 before any node starts
# on 1.37), each node's apt source following the minor, `kubeadm upgrade
# apply` on the first control plane and `upgrade node` elsewhere, the gate
# between steps checking the stacked etcd members (real etcd) and saving a
# verified snapshot after each step (kube_walk_snapshot).
# Run 1: k8s-control-2's etcd member is stopped (the lab kubelet stops its
# static pod by pid) once k8s-control-2 finished step 1: the gate after
# step 1 stops the walk, naming the unhealthy members as etcdctl sees
# them, and nothing of step 2 changes. The member started again, run 2
# (--resume) passes the gate and is SIGKILLed in step 2, right after the
# journal records k8s-control-2's kubeadm (k8s-control-1 finished the step,
# k8s-control-2 half-way); run 3 (--resume) finishes the walk without
# repeating what was done (each node's kubeadm and package installs once
# per step, in the lab's command logs). A second run changes nothing.
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
bk=$E2E_TMP/backups
walk() { # the walk's command line, as every run of it here gives it (exec: $! is kplan)
	exec "$KPLAN" run $pb -i "$inv" -e kube_version=1.37.1 -e kube_apt_url="$base" -e kube_walk_snapshot=true \
		-e backup_dir="$bk" -e kube_certificate_renewal=false --journal "$J" $kube "$@"
}
# the stacked etcd members as etcdctl sees them from the controller: NAME
# for each unhealthy member (the lab's etcd PKI, the nodes' addresses)
P=$L/cluster/pki
cps=$(awk '$3 == "node" && n++ < 2 { print $1 "=" $2 }' "$L/nodes")
unhealthy() {
	for m in $cps; do
		ETCDCTL_API=3 etcdctl --endpoints="https://${m#*=}:2379" --cacert="$P/etcd-ca.crt" \
			--cert="$P/etcd-healthcheck-client.crt" --key="$P/etcd-healthcheck-client.key" \
			--dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1 || echo "${m%%=*}"
	done | paste -sd' ' -
}
# 'NAME' (ID, PEER URL), ... of the members NAME..., as etcdctl lists them
members() {
	m=$(echo "$cps" | head -n 1)
	ETCDCTL_API=3 etcdctl --endpoints="https://${m#*=}:2379" --cacert="$P/etcd-ca.crt" \
		--cert="$P/etcd-healthcheck-client.crt" --key="$P/etcd-healthcheck-client.key" \
		--dial-timeout=1s --command-timeout=2s member list |
		awk -F', ' -v want=" $1 " 'index(want, " " $3 " ") { printf "%s\047%s\047 (%s, %s)", (n++ ? ", " : ""), $3, $1, $4 }'
}
# a task's results for a host in the journal's runs (not those a resumed run
# carries over from the run it resumes): HOST TASK
results() {
	cat "$J"/*.jsonl 2>/dev/null | grep '"type":"result"' | grep -v '"carried_from"' | grep "\"host\":\"$1\"" | grep -cF "\"task\":\"$2\""
}

# ---- run 1: an etcd member down at the end of step 1 ---------------------------------
walk >"$E2E_TMP/run1" 2>&1 &
pid=$!
# the event: k8s-control-2 finished step 1 (its Uncordon result); the
# controller is held (SIGSTOP) while the member's static pod stops, so the
# gate after the workers sees it down
stopped=""
i=0
while [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do
	if [ "$(results k8s-control-2 "Uncordon the node")" -ge 1 ]; then
		kill -STOP $pid
		# the lab kubelet stops its pods by pid (TERM, then KILL) before it exits
		on k8s-control-2 'systemctl stop lab-static-pods' && stopped=1
		kill -CONT $pid
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
wait $pid
rc=$?
down=$(unhealthy)
ndown=$(echo "$down" | wc -w)
check "run 1: k8s-control-2's etcd member stopped; etcdctl sees it down" "1 yes" \
	"$stopped $(echo " $down " | grep -q ' k8s-control-2 ' && echo yes)"
check "run 1: the gate after step 1 stops the walk, naming the unhealthy members as etcdctl does" "4 1" \
	"$rc $(grep -F "failed: [k8s-control-1] " "$E2E_TMP/run1" | grep -cF "$((2 - ndown)) of 2 members healthy (quorum 2); unhealthy: $(members "$down")")"
[ "$rc" = 4 ] || tail -n 20 "$E2E_TMP/run1" | sed 's/^/    /'
at36="$new36-1.1,$new36-1.1,$new36-1.1,v1.36"
check "run 1: nothing of step 2: every node at $new36 from the v1.36 repository, no kubeadm 1.37, no snapshot" \
	"$at36 $at36 $at36 $at36 0 0" \
	"$(pkgs) $(for n in $nodes; do on "$n" 'cat /var/log/kubeadm-lab.log'; done | grep -c ' kubeadm-1.37') $(find "$bk" -name '*.db' 2>/dev/null | wc -l)"
id1=$(basename "$(ls -t "$J"/*.jsonl | head -n 1)" .jsonl)
on k8s-control-2 'systemctl start lab-static-pods'
i=0
until [ -z "$(unhealthy)" ] || [ $i -ge 100 ]; do
	sleep 0.2
	i=$((i + 1))
done

# ---- run 2: resumed, the gate passes, SIGKILLed in step 2 -----------------------------
walk --resume "$id1" >"$E2E_TMP/run2" 2>&1 &
pid=$!
# the event: the journal records k8s-control-2's kubeadm task of step 2
# (its second kubeadm result)
killed=""
i=0
while [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do
	if [ "$(results k8s-control-2 "Upgrade the node's Kubernetes components with kubeadm")" -ge 2 ]; then
		kill -9 $pid
		killed=1
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
wait $pid
rc=$?
check "run 2: SIGKILLed in step 2, after k8s-control-2's kubeadm" "1 137" "$killed $rc"
id=$(basename "$(ls -t "$J"/*.jsonl | head -n 1)" .jsonl)

# the dead controller's Lease expires after KPLAN_LEASE_SECONDS: until then
# the resumed run is refused at the lock (exit 5), having changed nothing
i=0
while :; do
	(walk --resume "$id") >"$E2E_TMP/run3" 2>&1
	rc=$?
	[ "$rc" = 5 ] && [ $i -lt 60 ] || break
	sleep 1
	i=$((i + 1))
done
check "resume: exit 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 20 "$E2E_TMP/run3" | sed 's/^/    /'
# each step's snapshot: saved on k8s-control-1, fetched, verified; the
# node's file has the SHA-256 the module reported
snaps() { # STEP REMOTE SHA256-PREFIX LOCAL, from the runs' output
	cat "$E2E_TMP/run2" "$E2E_TMP/run3" | awk '
		/^TASK \[/ { step = ""; if (match($0, /after step [0-9]+\]/)) step = substr($0, RSTART + 11, RLENGTH - 12); next }
		step != "" && $1 == "changed:" && $2 == "[k8s-control-1]" && $4 == "saved" {
			sha = $0; sub(/.* sha256 /, "", sha); sub(/[^0-9a-f].*/, "", sha)
			print step, $5, sha, $NF }'
}
check "a snapshot after each step, verified" "1 2 2" \
	"$(snaps | cut -d' ' -f1 | paste -sd' ' -) $(cat "$E2E_TMP/run2" "$E2E_TMP/run3" | grep -A1 -F 'TASK [The snapshot verifies]' | grep -c '^  ok: \[k8s-control-1\]')"
snaps >"$E2E_TMP/snaps"
while read -r step remote sha local; do
	check "step $step's snapshot on k8s-control-1: its SHA-256 as reported, the fetched copy's too" "$sha $sha" \
		"$(on k8s-control-1 "sha256sum '$remote'" </dev/null | cut -c1-${#sha}) $(sha256sum "$local" | cut -c1-${#sha})"
done <"$E2E_TMP/snaps"
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
	"$(grep -c "skipped: \[k8s-control-1\] .*done in run $id" "$E2E_TMP/run3" | awk '{ print ($1 > 5) }')"
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
run_kplan "$E2E_TMP/again" run $pb -i "$inv" -e kube_version=1.37.1 -e kube_apt_url="$base"
check "second run: exit 0, the walk has no step" "0 1" \
	"$rc $(grep -c 'ok: \[k8s-control-1\] .*the cluster and every node are at v1.37.1 already' "$E2E_TMP/again")"
# the recap lists the hosts a task counted for, as Ansible's (the walk's
# empty steps end their plays with meta, which counts for none)
check "second run: nothing changed on any host, kubeadm not run" "0 yes" \
	"$(grep -o '^k8s-[a-z0-9-]* *: ok=[0-9]* *changed=[0-9]*' "$E2E_TMP/again" | sed 's/.*changed=//' | sort -u | paste -sd' ' -) $([ "$log_before" = "$(for n in $nodes; do klog "$n"; done)" ] && echo yes)"
