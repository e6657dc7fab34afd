#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 3 (lab.md): a 3-member etcd cluster (kubespray's etcd unit) is
# restored by etcd's disaster-recovery procedure with
# playbooks/restore-etcd.yml: one snapshot for every member, all stopped
# first, then restored and started together. Checked with the real etcdctl:
# every member healthy, each member's revision (endpoint status -w json)
# is the snapshot's (etcdctl snapshot status), and the keys are the ones
# the snapshot holds (the key written after it is gone). Refused before
# anything stops: one member restored alone into its live cluster
# (restore-master.yml, restore-etcd.yml limited to one member), and an
# existing data directory. A member that does not come back (its peer port
# taken) is reported with etcd's own log line and put back on its previous
# data directory, while the other two come back.
. "$(dirname "$0")/lib.sh"
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
	echo "# SKIP scenario 3: needs etcd and etcdctl (Debian etcd-server, etcd-client; make deps)"
	exit 0
fi
scenario_lab 3 "scenario 3"
B=$E2E_TMP/backups
P=$L/cluster/pki
addr() { awk -v n="$1" '$1 == n { print $2 }' "$L/nodes"; }
eps=https://$(addr k8s-master-1):2379,https://$(addr k8s-master-2):2379,https://$(addr k8s-master-3):2379
# the real etcdctl from the controller, with the lab's etcd client certificate
ctl() { ETCDCTL_API=3 etcdctl --cacert="$P/etcd-ca.crt" --cert="$P/etcd-healthcheck-client.crt" \
	--key="$P/etcd-healthcheck-client.key" --dial-timeout=2s --command-timeout=5s "$@"; }
keys() { ctl --endpoints="$1" get --prefix '' -w simple; }
# every member's revision, as endpoint status reports it
revs() { ctl --endpoints="$eps" endpoint status -w json | python3 -c '
import json, sys
print(" ".join(str(e["Status"]["header"]["revision"]) for e in json.load(sys.stdin)))'; }
# etcd's main pid on a member (changes when etcd is stopped or restarted)
epid() { on "$1" 'cat /run/lab-systemd/etcd.service.pid 2>/dev/null'; }
pids() { echo "$(epid k8s-master-1) $(epid k8s-master-2) $(epid k8s-master-3)"; }
datadirs() { for n in 1 2 3; do on k8s-master-$n 'sed -n "s/^ETCD_DATA_DIR=//p" /etc/etcd.env'; done | paste -sd' '; }

for i in 1 2 3 4; do ctl --endpoints="$eps" put "/registry/pods/default/p$i" "v$i" >/dev/null; done
ctl --endpoints="$eps" put /registry/secrets/s 'x y' >/dev/null
before_keys=$(keys "$eps")
check "lab: etcd answers with the data written" 10 "$(echo "$before_keys" | wc -l)"

run_kplan "$E2E_TMP/backup" run playbooks/backup.yml -i "$inv" -e backup_dir="$B" -l etcd
check "backup: exit code" 0 "$rc"
# the newest of the three members' snapshots: what restore-etcd.yml picks
newest=$(for f in "$B"/etcd/*/snapshot-*.db; do echo "$(basename "$f") $f"; done | sort | tail -n 1 | cut -d' ' -f2)
snap_rev=$(ETCDCTL_API=3 etcdctl snapshot status "$newest" -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
ctl --endpoints="$eps" put /registry/after-the-backup gone >/dev/null
keys_now=$(keys "$eps")
pids_before=$(pids)
dirs_before=$(datadirs)

# ---- refusals: nothing is stopped ----------------------------------------------
run_kplan "$E2E_TMP/alone" run playbooks/restore-master.yml -i "$inv" -e backup_dir="$B" -l k8s-master-1
check "one member alone (restore-master.yml): refused, saying why" "4 1" \
	"$rc $(grep -c "refusing to restore k8s-master-1 alone: it is one of the 3 members of an etcd cluster (k8s-master-1=https://$(addr k8s-master-1):2380,.*); a member restored from a snapshot into its live cluster crashes" "$E2E_TMP/alone")"
run_kplan "$E2E_TMP/alone2" check playbooks/restore-etcd.yml -i "$inv" -e backup_dir="$B" -l k8s-master-2
check "restore-etcd.yml limited to one member: refused in check too" "4 1" \
	"$rc $(grep -c 'refusing to restore 1 of the 3 members of the etcd cluster' "$E2E_TMP/alone2")"
on k8s-master-2 'mkdir -p /var/lib/etcd-new'
run_kplan "$E2E_TMP/exists-check" check playbooks/restore-etcd.yml -i "$inv" -e backup_dir="$B" -e etcd_data_dir=/var/lib/etcd-new
check "an existing empty data_dir: refused by check" "4 1" \
	"$rc $(grep -c "failed: \[k8s-master-2\] .*refusing to restore into '/var/lib/etcd-new' on k8s-master-2: it exists" "$E2E_TMP/exists-check")"
run_kplan "$E2E_TMP/exists" run playbooks/restore-etcd.yml -i "$inv" -e backup_dir="$B" -e etcd_data_dir=/var/lib/etcd-new
check "an existing empty data_dir: refused by run, no member stopped" "4 0" \
	"$rc $(grep -c '^  changed: .* stopped etcd' "$E2E_TMP/exists")"
on k8s-master-2 'rmdir /var/lib/etcd-new'
check "refusals: etcd untouched (same processes, same data dirs, same keys)" \
	"$pids_before|$dirs_before|$keys_now" "$(pids)|$(datadirs)|$(keys "$eps")"

# ---- the restore -------------------------------------------------------------------
run_kplan "$E2E_TMP/restore" run playbooks/restore-etcd.yml -i "$inv" -e backup_dir="$B" -v
check "restore: exit code" 0 "$rc"
check "restore: every member stopped before any was restored (task order)" \
	"check check check stop stop stop start start start" \
	"$(sed -n 's/^  \(ok\|changed\): \[k8s-master-[123]\] [0-9.]*s \(would stop\|stopped\|restored\) .*/\2/p' "$E2E_TMP/restore" |
		sed 's/would stop/check/; s/stopped/stop/; s/restored/start/' | paste -sd' ')"
# the same snapshot on every member: one of the newest (two members may have
# taken theirs in the same second, under the same name), at its revision
picked=$(sed -n "s/.* restored '\([^']*\)' (revision [0-9]*, .*/\1/p" "$E2E_TMP/restore" | sort -u)
check "restore: every member restored the same snapshot, one of the newest" \
	"3 1 $(basename "$newest")" \
	"$(grep -c "restored '$picked' (revision " "$E2E_TMP/restore") $(echo "$picked" | grep -c .) $(basename "$picked")"
snap_rev=$(ETCDCTL_API=3 etcdctl snapshot status "$picked" -w json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
check "restore: all three members healthy" 3 \
	"$(ctl --endpoints="$eps" endpoint health 2>&1 | grep -c 'is healthy')"
check "restore: every member at the snapshot's revision" "$snap_rev $snap_rev $snap_rev" "$(revs)"
for n in 1 2 3; do
	check "restore: k8s-master-$n serves exactly the snapshot's keys" "$before_keys" \
		"$(keys "https://$(addr k8s-master-$n):2379")"
done
check "restore: each member's etcd.env points at its new data dir" 3 \
	"$(datadirs | tr ' ' '\n' | grep -c '^/var/lib/etcd-restored-')"
check "restore: a 3-member cluster (member list)" 3 "$(ctl --endpoints="$eps" member list | wc -l)"

# ---- a member that does not come back -------------------------------------------
cat >"$E2E_TMP/fail.yml" <<EOF2
- hosts: etcd
  any_errors_fatal: true
  tasks:
    - name: stop
      etcd-snapshot: {action: restore, step: stop, snapshot: "$newest", endpoints: "https://{{ ansible_host }}:2379"}
    - name: take the peer port of k8s-master-3
      shell: "nohup python3 -c 'import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"{{ ansible_host }}\", 2380)); s.listen(); time.sleep(600)' >/dev/null 2>&1 & echo \$! >/root/blocker.pid; sleep 0.5"
      when: inventory_hostname == 'k8s-master-3'
    - name: start
      etcd-snapshot: {action: restore, step: start, snapshot: "$newest", endpoints: "https://{{ ansible_host }}:2379", timeout: 60}
EOF2
dir3=$(datadirs | cut -d' ' -f3)
run_kplan "$E2E_TMP/fail" run "$E2E_TMP/fail.yml" -i "$inv"
check "a member that does not come back: the run fails (any_errors_fatal)" 4 "$rc"
check "a member that does not come back: reported with etcd's own log line" 1 \
	"$(grep -c "failed: \[k8s-master-3\] .*etcd on k8s-master-3 did not come back on the restored data in /var/lib/etcd-restored-[0-9TZ.]*: it exited (etcd: .* C | etcdmain: listen tcp $(addr k8s-master-3):2380: bind: address already in use); /etc/etcd.env points at the previous data directory $dir3 again" "$E2E_TMP/fail")"
check "a member that does not come back: its etcd.env is back on the previous data dir" \
	"$dir3" "$(datadirs | cut -d' ' -f3)"
check "the other two members came back healthy" 2 \
	"$(ctl --endpoints="https://$(addr k8s-master-1):2379,https://$(addr k8s-master-2):2379" endpoint health 2>&1 | grep -c 'is healthy')"
on k8s-master-3 'kill $(cat /root/blocker.pid)'
