#!/bin/sh
# Over ssh: the play's remote_user is the user when the host names none
# (the lab's nodes take only root, so `remote_user: nobody` is refused with
# an authentication error naming nobody), the host's ansible_user wins
# over it (Ansible: variables override keywords), and connection variables
# written with {{ }} (ansible_host, ansible_port, ansible_user) are
# rendered in the host's scope.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP ssh tests: need root and /usr/sbin/sshd"
	exit 0
fi
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
lab=tests/lab/lab
L=$E2E_TMP/lab
trap '$lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
$lab up --names n1 --dir "$L" >/dev/null || {
	echo "not ok - lab up"
	exit 1
}
addr=$(awk '$1 == "n1" {print $2}' "$L/nodes")
conn="ansible_ssh_private_key_file: $L/id_ed25519
      kplan_known_hosts: $L/known_hosts"
cat >"$E2E_TMP/inv.yml" <<INV
all:
  hosts:
    no_user:
      ansible_host: $addr
      $conn
    root_user:
      ansible_host: $addr
      ansible_user: root
      $conn
    templated:
      node_ip: $addr
      node_port: 22
      login: root
      ansible_host: "{{ node_ip }}"
      ansible_port: "{{ node_port }}"
      ansible_user: "{{ login }}"
      $conn
INV
cat >"$E2E_TMP/plan.yml" <<'PLAN'
- name: as nobody
  hosts: all
  remote_user: nobody
  tasks:
    - name: whoami
      command: id -un
PLAN
run_kplan "$E2E_TMP/out" run "$E2E_TMP/plan.yml" -i "$E2E_TMP/inv.yml" --format json
check "remote_user nobody: refused where the host names no user; ansible_user (also templated) wins" \
	"no_user=unreachable root_user=changed templated=changed" "$($ev statuses whoami <"$E2E_TMP/out")"
check "remote_user nobody: the authentication error names nobody" 1 \
	"$(grep '"host_result".*"host":"no_user"' "$E2E_TMP/out" | grep -c "authentication failed for nobody@$addr")"
sed -i 's/remote_user: nobody/remote_user: root/' "$E2E_TMP/plan.yml"
run_kplan "$E2E_TMP/out" run "$E2E_TMP/plan.yml" -i "$E2E_TMP/inv.yml" --format json
check "remote_user root: every host reached" \
	"no_user=changed root_user=changed templated=changed" "$($ev statuses whoami <"$E2E_TMP/out")"

# a connection is kept across plays while it is the one a play asks for
cat >"$E2E_TMP/plays.yml" <<'PLAN'
- name: as root
  hosts: no_user:root_user
  remote_user: root
  tasks:
    - name: first
      command: id -un
- name: as nobody
  hosts: no_user:root_user
  remote_user: nobody
  tasks:
    - name: second
      command: id -un
PLAN
run_kplan "$E2E_TMP/out" run "$E2E_TMP/plays.yml" -i "$E2E_TMP/inv.yml" --format json
check "play 1 remote_user root: both hosts reached" "no_user=changed root_user=changed" \
	"$($ev statuses first <"$E2E_TMP/out")"
check "play 2 remote_user nobody: the connection is opened again as nobody where the host names no user" \
	"no_user=unreachable root_user=changed" "$($ev statuses second <"$E2E_TMP/out")"
