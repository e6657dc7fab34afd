#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 4: kubeadm's stacked etcd, three members run as static pods, is
# restored from one snapshot by playbooks/restore-etcd.yml: every member's
# manifest moved out of the kubelet's directory (all stopped) before any
# is restored, then each one put back pointing at its new data directory
# (the --data-dir flag, the volume's mountPath and hostPath). Checked with the real
# etcdctl: all three healthy, at the snapshot's revision, with its keys.
. "$(dirname "$0")/lib.sh"
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
	echo "# SKIP scenario 4: needs etcd and etcdctl (Debian etcd-server, etcd-client; make deps)"
	exit 0
fi
scenario_lab 4 "scenario 4"
B=$E2E_TMP/backups
P=$L/cluster/pki
eps=$(awk '$3 == "node" && n++ < 3 { printf "%shttps://%s:2379", (n > 1 ? "," : ""), $2 }' "$L/nodes")
ctl() { ETCDCTL_API=3 etcdctl --cacert="$P/etcd-ca.crt" --cert="$P/etcd-healthcheck-client.crt" \
	--key="$P/etcd-healthcheck-client.key" --dial-timeout=2s --command-timeout=5s "$@"; }
i=0
until ctl --endpoints="$eps" endpoint health >/dev/null 2>&1 || [ $i -ge 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
for k in a b c; do ctl --endpoints="$eps" put "/registry/configmaps/default/$k" "v-$k" >/dev/null; done
before_keys=$(ctl --endpoints="$eps" get --prefix '' -w simple)
check "lab: the stacked etcd answers with the data written" 6 "$(echo "$before_keys" | wc -l)"

run_kplan "$E2E_TMP/backup" run playbooks/backup.yml -i "$inv" -e backup_dir="$B" -l etcd
check "backup: exit code" 0 "$rc"
newest=$(for f in "$B"/etcd/*/snapshot-*.db; do echo "$(basename "$f") $f"; done | sort | tail -n 1 | cut -d' ' -f2)
snap_rev=$(ETCDCTL_API=3 etcdctl snapshot status "$newest" -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
ctl --endpoints="$eps" put /registry/configmaps/default/later x >/dev/null

run_kplan "$E2E_TMP/restore" run playbooks/restore-etcd.yml -i "$inv" -e backup_dir="$B" -v
check "restore: exit code" 0 "$rc"
check "restore: every member stopped before any was restored" "stop stop stop start start start" \
	"$(sed -n 's/^  changed: \[k8s-master-[123]\] [0-9.]*s \(stopped\|restored\) .*/\1/p' "$E2E_TMP/restore" |
		sed 's/stopped/stop/; s/restored/start/' | paste -sd' ')"
check "restore: the manifests were moved out of the kubelet's directory" 3 \
	"$(grep -c "^  ok: \[k8s-master-[123]\] .*would stop etcd on k8s-master-[123] (move the static pod manifest out; member k8s-master-[123] of 3)" "$E2E_TMP/restore")"
check "restore: all three members healthy" 3 "$(ctl --endpoints="$eps" endpoint health 2>&1 | grep -c 'is healthy')"
check "restore: every member at the snapshot's revision" "$snap_rev $snap_rev $snap_rev" \
	"$(ctl --endpoints="$eps" endpoint status -w json | python3 -c '
import json, sys
print(" ".join(str(e["Status"]["header"]["revision"]) for e in json.load(sys.stdin)))')"
for ep in $(echo "$eps" | tr ',' ' '); do
	check "restore: $ep serves exactly the snapshot's keys" "$before_keys" "$(ctl --endpoints="$ep" get --prefix '' -w simple)"
done
for n in 1 2 3; do
	check "restore: k8s-master-$n's manifest: --data-dir, mountPath and hostPath on the new directory; none left outside" \
		"3 0" "$(on k8s-master-$n "grep -c -e '--data-dir=/var/lib/etcd-restored-' -e 'mountPath: /var/lib/etcd-restored-' -e ' path: /var/lib/etcd-restored-' /etc/kubernetes/manifests/etcd.yaml; ls /etc/kubernetes/*.kplan-stopped 2>/dev/null | wc -l" | paste -sd' ' -)"
done
