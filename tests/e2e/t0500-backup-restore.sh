#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Scenario 2 (lab.md): backup and restore of a single master with the real
# etcd. An existing data directory (empty too) is refused by check and by run
# before etcd stops; restore-etcd.yml restores the single member too. playbooks/backup.yml saves an etcd snapshot and the PKI; the node's
# /var/lib/etcd and /etc/kubernetes/pki are destroyed; restore-master.yml
# brings back every key (etcdctl get --prefix) and byte-identical
# certificates with their modes and owners. Also: a truncated and a
# corrupted snapshot fail verify and restore; cert-copy refuses an expired
# certificate and a key that does not match its certificate, and reports
# days left; no private key material in any output.
. "$(dirname "$0")/lib.sh"
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
	echo "# SKIP scenario 2: needs etcd and etcdctl (Debian etcd-server, etcd-client; make deps)"
	exit 0
fi
scenario_lab 2 "scenario 2"
B=$E2E_TMP/backups
addr=$(awk '$1 == "k8s-master" { print $2 }' "$L/nodes")
E="ETCDCTL_API=3 etcdctl --endpoints=https://$addr:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key"
# every file under the PKI: sha256, mode, owner, group
pki() { on k8s-master 'cd /etc/kubernetes/pki 2>/dev/null && find . -type f | sort | while read -r f; do echo "$(sha256sum <"$f" | cut -c1-64) $(stat -c "%a %U %G" "$f") $f"; done'; }
keys() { on k8s-master "$E get --prefix '' -w simple"; }

on k8s-master "for i in 1 2 3 4 5; do $E put /registry/pods/default/p\$i v\$i >/dev/null; done; $E put /registry/secrets/s 'x y' >/dev/null"
check "lab: etcd answers with the data written" 12 "$(keys | wc -l)"

run_kplan "$E2E_TMP/backup" run playbooks/backup.yml -i "$inv" -e backup_dir="$B" -vvv
check "backup: exit code" 0 "$rc"
snap=$(ls "$B/etcd/k8s-master/"snapshot-*.db 2>/dev/null | tail -n 1)
check "backup: a snapshot on the controller" 1 "$(ls "$B/etcd/k8s-master/" | grep -c '^snapshot-.*\.db$')"
check "backup: the same snapshot on the node" "$(sha256sum <"$snap" | cut -c1-64)" \
	"$(on k8s-master "sha256sum /var/backups/kplan/$(basename "$snap")" | cut -c1-64)"
check "backup: store and host directory are 0700" "700 700" "$(stat -c %a "$B/pki" "$B/pki/k8s-master" | paste -sd' ')"
check "backup: key files are 0600" "600" "$(find "$B/pki" -name '*.key' -exec stat -c %a {} + | sort -u | paste -sd' ')"
check "backup: the manifest names subject, SANs and expiry" 1 \
	"$(grep -c '"subject":.*"CN=kube-apiserver"' "$B/pki/k8s-master/manifest.json")"
run_kplan "$E2E_TMP/backup2" run playbooks/backup.yml -i "$inv" -e backup_dir="$B" -v
check "backup: a second PKI backup changes nothing" 1 \
	"$(grep -c 'the backup in .* matches k8s-master' "$E2E_TMP/backup2")"

before_keys=$(keys)
before_pki=$(pki)
on k8s-master 'rm -rf /var/lib/etcd /etc/kubernetes/pki'
check "destroyed: no PKI left on the node" "" "$(pki)"

run_kplan "$E2E_TMP/check" check playbooks/restore-master.yml -i "$inv" -e backup_dir="$B"
check "check: exit code" 0 "$rc"
check "check: it names the files it would restore" 1 \
	"$(grep -c 'would restore 22 of 22 files onto k8s-master.*/etc/kubernetes/pki/ca.key' "$E2E_TMP/check")"
check "check: nothing changed" "" "$(pki)"

run_kplan "$E2E_TMP/restore" run playbooks/restore-master.yml -i "$inv" -e backup_dir="$B" -vvv
check "restore: exit code" 0 "$rc"
check "restore: every key written before the backup is back" "$before_keys" "$(keys)"
check "restore: certificates byte-identical, modes and owners too" "$before_pki" "$(pki)"
check "restore: the manifest points at the new data dir" 1 \
	"$(on k8s-master "grep -c -- '--data-dir=/var/lib/etcd-restored-' /etc/kubernetes/manifests/etcd.yaml")"
run_kplan "$E2E_TMP/restore-json" run playbooks/restore-master.yml -i "$inv" -e backup_dir="$B" \
	--format json -l k8s-master
check "restore again: the certificates are left alone" 1 \
	"$(grep -c 'all 22 files on k8s-master match the backup of k8s-master' "$E2E_TMP/restore-json")"

# refused before anything stops: an existing data directory, empty too
# (etcdctl refuses one: `Error: data-dir "…" exists`)
epid() { on k8s-master 'cat /run/lab-static-pods/etcd.pid'; }
manifest() { on k8s-master 'cat /etc/kubernetes/manifests/etcd.yaml'; }
on k8s-master 'mkdir -p /var/lib/etcd-empty'
pid_before=$(epid)
manifest_before=$(manifest)
run_kplan "$E2E_TMP/empty-check" check playbooks/restore-master.yml -i "$inv" -e backup_dir="$B" \
	-e etcd_data_dir=/var/lib/etcd-empty
check "check: an existing empty data_dir is refused" "4 1" \
	"$rc $(grep -c "refusing to restore into '/var/lib/etcd-empty' on k8s-master: it exists (etcd restores only into a new directory; give a new 'data_dir')" "$E2E_TMP/empty-check")"
run_kplan "$E2E_TMP/empty-run" run playbooks/restore-etcd.yml -i "$inv" -e backup_dir="$B" \
	-e etcd_data_dir=/var/lib/etcd-empty
check "run: an existing empty data_dir is refused before etcd is stopped" \
	"4 1 $pid_before" "$rc $(grep -c "refusing to restore into '/var/lib/etcd-empty'" "$E2E_TMP/empty-run") $(epid)"
check "run: the refusal left the manifest alone" "$manifest_before" "$(manifest)"
on k8s-master 'rmdir /var/lib/etcd-empty'

# restore-etcd.yml on the single member: the same snapshot, steps stop and
# start, the manifest moved out and back
on k8s-master "$E put /registry/after-the-restore x >/dev/null"
run_kplan "$E2E_TMP/restore-etcd" run playbooks/restore-etcd.yml -i "$inv" -e backup_dir="$B"
check "restore-etcd.yml on one member: exit code" 0 "$rc"
check "restore-etcd.yml on one member: the snapshot's keys, the later one gone" "$before_keys" "$(keys)"
check "restore-etcd.yml on one member: the manifest points at another new data dir" "1 0" \
	"$(on k8s-master "grep -c -- '--data-dir=/var/lib/etcd-restored-' /etc/kubernetes/manifests/etcd.yaml") \
$(manifest | grep -c -F -- "$(echo "$manifest_before" | grep -e '--data-dir=')")"
check "restore-etcd.yml on one member: no manifest left outside the kubelet's directory" \
	"" "$(on k8s-master 'ls /etc/kubernetes/*.kplan-stopped 2>/dev/null')"

# no private key material anywhere: take a line out of the middle of every
# stored key and look for it in every output and log
find "$B/pki" -name '*.key' -exec sed -n 5p {} + | sort -u >"$E2E_TMP/keylines"
leaks=$(cat "$E2E_TMP/backup" "$E2E_TMP/backup.err" "$E2E_TMP/restore" "$E2E_TMP/restore.err" \
	"$E2E_TMP/restore-json" "$E2E_TMP/check" | grep -c -F -f "$E2E_TMP/keylines")
check "no key material in any output (text -vvv, json)" "0 0" \
	"$leaks $(cat "$E2E_TMP/backup" "$E2E_TMP/restore" "$E2E_TMP/restore-json" | grep -c 'PRIVATE KEY')"

# snapshots that must not pass
head -c "$(($(stat -c %s "$snap") - 100))" "$snap" >"$E2E_TMP/trunc.db"
cp "$snap" "$E2E_TMP/flip.db"
printf '\125' | dd of="$E2E_TMP/flip.db" bs=1 seek=9000 conv=notrunc 2>/dev/null
cat >"$E2E_TMP/verify.yml" <<EOF
- hosts: k8s-master
  tasks:
    - name: verify
      etcd-snapshot: {action: verify, snapshot: "{{ snap }}"}
    - name: restore
      etcd-snapshot: {action: restore, snapshot: "{{ snap }}", endpoints: "https://$addr:2379"}
EOF
run_kplan "$E2E_TMP/v1" run "$E2E_TMP/verify.yml" -i "$inv" -e snap="$E2E_TMP/trunc.db"
check "verify: a truncated snapshot fails, saying so" "1 1" \
	"$rc $(grep -c "snapshot '.*trunc.db' fails verification: truncated" "$E2E_TMP/v1")"
run_kplan "$E2E_TMP/v2" run "$E2E_TMP/verify.yml" -i "$inv" -e snap="$E2E_TMP/flip.db"
check "verify: a snapshot with a flipped byte fails, saying so" "1 1" \
	"$rc $(grep -c "fails verification: corrupt: its SHA-256 trailer does not match" "$E2E_TMP/v2")"
sed -i '/name: verify/,+1d' "$E2E_TMP/verify.yml"
run_kplan "$E2E_TMP/v3" run "$E2E_TMP/verify.yml" -i "$inv" -e snap="$E2E_TMP/trunc.db"
check "restore: refuses a truncated snapshot" "1 1" \
	"$rc $(grep -c "refusing to restore: snapshot .* truncated" "$E2E_TMP/v3")"
run_kplan "$E2E_TMP/v4" run "$E2E_TMP/verify.yml" -i "$inv" -e snap="$E2E_TMP/flip.db"
check "restore: refuses a corrupted snapshot" "1 1" \
	"$rc $(grep -c "refusing to restore: snapshot .* corrupt" "$E2E_TMP/v4")"
check "restore: etcd untouched by the refusals" "$before_keys" "$(keys)"

# cert-copy refusals, with certificates made by openssl on the node
on k8s-master 'set -e; d=/root/pkitest; rm -rf $d; mkdir -p $d/ca; cd $d/ca
	touch index.txt; echo 01 >serial
	printf "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n" >ca.cnf
	openssl req -newkey rsa:2048 -nodes -keyout ../old.key -out old.csr -subj /CN=old 2>/dev/null
	openssl ca -batch -config ca.cnf -cert /etc/kubernetes/pki/ca.crt -keyfile /etc/kubernetes/pki/ca.key \
		-in old.csr -out ../old.crt -startdate 20200101000000Z -enddate 20200201000000Z >/dev/null 2>&1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ../soon.key -out ../soon.crt -subj /CN=soon -days 100 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ../other.key -out ../mine.crt -subj /CN=mine -days 400 2>/dev/null
	openssl genrsa -out ../mine.key 2048 2>/dev/null
	cd .. && rm -rf ca other.key'
cat >"$E2E_TMP/certs.yml" <<EOF
- hosts: k8s-master
  tasks:
    - name: backup
      cert-copy: {action: backup, paths: [/root/pkitest], store: "$E2E_TMP/store2"}
    - name: restore
      cert-copy: {action: restore, paths: [/root/pkitest], store: "$E2E_TMP/store2"}
EOF
run_kplan "$E2E_TMP/c1" run "$E2E_TMP/certs.yml" -i "$inv"
check "cert-copy: restore refuses the expired certificate, naming it" 1 \
	"$(grep -c 'refusing to restore.*/root/pkitest/old.crt: certificate expired on 2020-02-01T00:00:00Z' "$E2E_TMP/c1")"
check "cert-copy: restore refuses the key that does not match, naming both" 1 \
	"$(grep -c '/root/pkitest/mine.key: private key does not match its certificate /root/pkitest/mine.crt' "$E2E_TMP/c1")"
cat >"$E2E_TMP/report.yml" <<'EOF'
- hosts: k8s-master
  tasks:
    - name: report
      cert-copy: {action: report, paths: [/root/pkitest], warn_days: 1000}
    - name: fail under
      cert-copy: {action: report, paths: [/root/pkitest], warn_days: 200, fail_under: true}
EOF
run_kplan "$E2E_TMP/r1" run "$E2E_TMP/report.yml" -i "$inv" -v
old_days=$((-(($(date +%s) - $(date -d 2020-02-01T00:00:00Z +%s) + 86399) / 86400)))
# whole days left, rounded down: 99 or 100 for a 100-day certificate,
# depending on whether a second went by since openssl made it
days=$(grep 'TASK \[report\]' -A1 "$E2E_TMP/r1" | grep -o '/root/pkitest/[a-z]*.crt ([-0-9]* days)' | sort -u |
	sed 's/ (\([-0-9]*\) days)/=\1/' | paste -sd' ' - | sed 's/=399 /=399-400 /; s/=400 /=399-400 /; s/=99$/=99-100/; s/=100$/=99-100/')
check "cert-copy report: days left of certificates with known expiry" \
	"/root/pkitest/mine.crt=399-400 /root/pkitest/old.crt=$old_days /root/pkitest/soon.crt=99-100" "$days"
check "cert-copy report: fail_under fails under warn_days, naming the certificates" "1 1" \
	"$rc $(grep -c '2 of 3 certificates on k8s-master expire within 200 days: /root/pkitest/old.crt' "$E2E_TMP/r1")"
