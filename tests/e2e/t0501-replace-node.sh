#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 3 (lab.md): kubespray-style replacement of a control-plane node
# with a 3-member etcd cluster (real etcd, /etc/etcd.env and the etcd unit).
# After playbooks/backup.yml, k8s-master-3 is destroyed (its sshd stopped,
# its overlay wiped) and recreated empty at the same address; a check of
# playbooks/replace-node.yml names the member it would remove and the
# files it would restore and changes nothing; the run ends with three
# started members, all healthy, the node Ready, and every key written
# before and during the replacement readable.
. "$(dirname "$0")/lib.sh"
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
	echo "# SKIP scenario 3: needs etcd and etcdctl (Debian etcd-server, etcd-client; make deps)"
	exit 0
fi
scenario_lab 3 "scenario 3"
B=$E2E_TMP/backups
addr() { awk -v n="$1" '$1 == n { print $2 }' "$L/nodes"; }
eps="https://$(addr k8s-master-1):2379,https://$(addr k8s-master-2):2379,https://$(addr k8s-master-3):2379"
E="ETCDCTL_API=3 etcdctl --endpoints=$eps --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key --dial-timeout=2s"
E1="ETCDCTL_API=3 etcdctl --endpoints=https://$(addr k8s-master-1):2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key"
# "NAME,started" per member, sorted
members() { on k8s-master-1 "$E1 member list" | awk -F', ' '{ print $3 "," $2 }' | sort | paste -sd' ' -; }
ready() {
	on k8s-master-1 "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /api/v1/nodes/$1" 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys
n = json.load(sys.stdin)
print([c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready"][0])' 2>/dev/null
}

check "lab: three started etcd members" \
	"k8s-master-1,started k8s-master-2,started k8s-master-3,started" "$(members)"
on k8s-master-1 "for i in 1 2 3; do $E1 put /registry/before/k\$i v\$i >/dev/null; done"

run_kplan "$E2E_TMP/backup" run playbooks/backup.yml -i "$inv" -e backup_dir="$B"
check "backup: exit code" 0 "$rc"
check "backup: every control-plane node's PKI is in the store" 3 \
	"$(ls "$B"/pki/*/manifest.json | wc -l)"

# the node dies and comes back as an empty machine at the same address
tests/lab/lab stop-node k8s-master-3 --dir "$L" >/dev/null
rm -rf "${L:?}/k8s-master-3/upper/"* "${L:?}/k8s-master-3/work/"*
tests/lab/lab start-node k8s-master-3 --dir "$L" >/dev/null
check "destroyed: the new machine has no PKI and no etcd" "no" \
	"$(on k8s-master-3 '[ -e /etc/kubernetes ] || [ -e /etc/etcd.env ] && echo yes || echo no')"
# if the dead node was etcd's leader, the survivors first elect a new one
on k8s-master-1 "for i in 1 2 3 4 5 6 7 8 9 10; do $E1 put /registry/during/k1 v1 >/dev/null 2>&1 && break; sleep 1; done"

run_kplan "$E2E_TMP/check" check playbooks/replace-node.yml -i "$inv" $kube -e node=k8s-master-3 --format json \
	-e backup_dir="$B"
check "check: exit code" 0 "$rc"
check "check: names the member it would remove" 1 \
	"$(grep -c "would remove member 'k8s-master-3' ([0-9a-f]*, https://$(addr k8s-master-3):2380)" "$E2E_TMP/check")"
check "check: names the files it would restore" 1 \
	"$(grep -c 'would restore 22 of 22 files onto k8s-master-3 from .*/pki/k8s-master-3: .*/etc/kubernetes/pki/etcd/peer.key' "$E2E_TMP/check")"
check "check: nothing changed (members, the node's files)" \
	"k8s-master-1,started k8s-master-2,started k8s-master-3,started no" \
	"$(members) $(on k8s-master-3 '[ -e /etc/kubernetes ] || [ -e /etc/etcd.env ] && echo yes || echo no')"

run_kplan "$E2E_TMP/run" run playbooks/replace-node.yml -i "$inv" $kube -e node=k8s-master-3 --format json \
	-e backup_dir="$B" -v
check "run: exit code" 0 "$rc"
# the preview's fidelity: what the check predicted is what the run did
/usr/bin/python3 tests/e2e/fidelity.py "$E2E_TMP/check" "$E2E_TMP/run" playbooks/replace-node.yml
check "run: the dead member was removed and added back" "1 1" \
	"$(grep -c "removed member 'k8s-master-3'" "$E2E_TMP/run") $(grep -c "added member 'k8s-master-3'" "$E2E_TMP/run")"
check "run: etcd.env joins the existing cluster" 1 \
	"$(on k8s-master-3 'grep -c "^ETCD_INITIAL_CLUSTER_STATE=existing$" /etc/etcd.env')"
check "run: three started members" \
	"k8s-master-1,started k8s-master-2,started k8s-master-3,started" "$(members)"
check "run: endpoint health healthy on all three" 3 \
	"$(on k8s-master-3 "$E endpoint health" 2>&1 | grep -c 'is healthy')"
check "run: the node is Ready" "True" "$(ready k8s-master-3)"
check "run: the certificates are the backed-up ones" \
	"$(sed -n 's/.*"sha256":.*"\([0-9a-f]\{64\}\)".*/\1/p' "$B/pki/k8s-master-3/manifest.json" | sort | paste -sd' ' -)" \
	"$(on k8s-master-3 'find /etc/kubernetes/pki -type f -exec sha256sum {} + | cut -c1-64 | sort | paste -sd" " -')"
check "run: keys written before and during the replacement are readable on the new member" \
	"/registry/before/k1 /registry/before/k2 /registry/before/k3 /registry/during/k1" \
	"$(on k8s-master-3 "ETCDCTL_API=3 etcdctl --endpoints=https://$(addr k8s-master-3):2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key get --prefix /registry/ --keys-only --consistency=s" | grep . | paste -sd' ' -)"
