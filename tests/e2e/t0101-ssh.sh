#!/bin/sh
# What only the ssh transport has: host key checking, a node that goes away
# mid-run, a jump host, become to a non-root user, a large file transfer.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP ssh tests: need root and /usr/sbin/sshd"
	exit 0
fi
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
lab=tests/lab/lab
L=$E2E_TMP/lab
trap '$lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
$lab up --names n1,n2,n3 --bastion --bastion-log DEBUG1 --dir "$L" >/dev/null || {
	echo "not ok - lab up"
	exit 1
}
inv=$L/inventory.yml
kh="--known-hosts $L/known_hosts"
p=$E2E_TMP/plan.yml
cat >"$p" <<'PLAN'
- name: who
  hosts: nodes
  tasks:
    - name: hostname
      command: hostname
      register: h
    - name: show
      debug: {msg: "{{ h.stdout }}"}
PLAN

run_kplan "$E2E_TMP/out" run "$p" -i "$inv" $kh --format json
check "ssh: every node answers with its own hostname" "n1 n2 n3" \
	"$(grep '"host_result".*"task":"show"' "$E2E_TMP/out" | sed 's/.*"msg":"\([^"]*\)".*/\1/' | sort | paste -sd' ')"

# host keys
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --known-hosts "$E2E_TMP/empty_known_hosts" -l n1
check "strict host key checking: an unknown key makes the host unreachable (exit 3)" 3 "$rc"
check "strict: the message shows the fingerprint and the file to fix" 1 \
	"$(grep -c "host key for '[0-9.]*' is not known (SHA256:.*empty_known_hosts" "$E2E_TMP/out")"
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --known-hosts "$E2E_TMP/new_known_hosts" \
	--host-key-checking accept-new -l n1
check "accept-new records an unknown key and connects" "0 1" \
	"$rc $(grep -c . "$E2E_TMP/new_known_hosts")"
$lab rekey-node n2 --dir "$L" >/dev/null
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" $kh --host-key-checking accept-new --format json
check "a changed host key is refused even with accept-new: n2 unreachable, the others fine" \
	"n1=changed n2=unreachable n3=changed" "$($ev statuses hostname <"$E2E_TMP/out")"
check "changed key: exit code 3" 3 "$rc"
check "changed key: the message says CHANGED and how to fix it" 1 \
	"$(grep '"host_result".*"host":"n2"' "$E2E_TMP/out" | grep -c 'has CHANGED')"
$lab rekey-node n2 --trust --dir "$L" >/dev/null

# a node whose sshd stops mid-run becomes unreachable; the others finish
cat >"$E2E_TMP/mid.yml" <<'PLAN'
- name: mid-run
  hosts: nodes
  tasks:
    - name: first
      command: "true"
    - name: wait
      command: sleep 1
    - name: last
      command: "true"
PLAN
("$KPLAN" run "$E2E_TMP/mid.yml" -i "$inv" $kh --format json >"$E2E_TMP/mid.out" 2>&1; echo $? >"$E2E_TMP/mid.rc") &
sleep 0.5
$lab stop-node n3 --dir "$L" >/dev/null
wait
check "a node stopped mid-run: exit 3" 3 "$(cat "$E2E_TMP/mid.rc")"
check "a node stopped mid-run: unreachable, while the rest of the batch finishes" "n1=changed n2=changed" \
	"$($ev statuses last <"$E2E_TMP/mid.out")"
check "a node stopped mid-run: its task is reported unreachable" "n3=unreachable" \
	"$($ev statuses wait <"$E2E_TMP/mid.out" | grep -o 'n3=[a-z]*')"
$lab start-node n3 --dir "$L" >/dev/null

# through the bastion
# only n1 goes through the bastion: a second inventory adds its jump
baddr=$(awk '$1 == "bastion" {print $2}' "$L/nodes")
n1addr=$(awk '$1 == "n1" {print $2}' "$L/nodes")
printf '[nodes]\nn1 ansible_ssh_common_args="-o ProxyJump=root@%s"\n' "$baddr" >"$E2E_TMP/jump.ini"
binv="$inv -i $E2E_TMP/jump.ini"
run_kplan "$E2E_TMP/out" run "$p" -i $binv $kh -l n1 --format json
check "ProxyJump: n1 reached through the bastion" "n1=ok" "$($ev statuses show <"$E2E_TMP/out")"
check "ProxyJump: the bastion's sshd log records the forwarded channel to n1" 1 \
	"$(grep -c "direct_tcpip.*$n1addr port 22" "$L/bastion/sshd.log" | sed 's/^[1-9][0-9]*$/1/')"
$lab stop-node bastion --dir "$L" >/dev/null
run_kplan "$E2E_TMP/out" run "$p" -i $binv $kh -l 'n1,n2' --format json
check "bastion down: the node behind it is unreachable, the others fine" \
	"n1=unreachable n2=changed" "$($ev statuses hostname <"$E2E_TMP/out")"

# become
cat >"$E2E_TMP/become.yml" <<'PLAN'
- name: become
  hosts: n1
  become: true
  become_user: kplan
  tasks:
    - name: whoami
      command: id -un
      register: who
    - name: show
      debug: {msg: "{{ who.stdout }}"}
      become: false
PLAN
run_kplan "$E2E_TMP/out" run "$E2E_TMP/become.yml" -i "$inv" $kh --format json
check "become_user kplan over ssh" "kplan" \
	"$(grep '"host_result".*"task":"show"' "$E2E_TMP/out" | sed 's/.*"msg":"\([^"]*\)".*/\1/')"

# 50 MB, byte for byte
head -c 52428800 /dev/urandom >"$E2E_TMP/big.bin"
want=$(sha256sum <"$E2E_TMP/big.bin" | cut -d' ' -f1)
cat >"$E2E_TMP/big.yml" <<PLAN
- name: big
  hosts: n2
  tasks:
    - name: push
      copy: {src: $E2E_TMP/big.bin, dest: /root/big.bin}
    - name: pull
      fetch: {src: /root/big.bin, dest: $E2E_TMP/fetched/, flat: true}
PLAN
run_kplan "$E2E_TMP/out" run "$E2E_TMP/big.yml" -i "$inv" $kh
check "50 MB copy: exit code" 0 "$rc"
check "50 MB copy: identical on the node (SHA-256)" "$want" \
	"$(ssh -F "$L/ssh_config" n2 sha256sum /root/big.bin | cut -d' ' -f1)"
check "50 MB fetch: identical back on the controller (SHA-256)" "$want" \
	"$(sha256sum <"$E2E_TMP/fetched/big.bin" | cut -d' ' -f1)"
