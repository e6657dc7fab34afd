#!/bin/sh
# ansible.cfg on a lab node: inventory, remote_user, private_key_file,
# host_key_checking, timeout, vault_password_file, [privilege_escalation]
# become, [ssh_connection] ssh_args (UserKnownHostsFile; ControlPersist
# noted at -v), found in the current directory or through ANSIBLE_CONFIG;
# ANSIBLE_REMOTE_USER over the file, -u over both, an inventory
# ansible_user over all of them.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP ansible.cfg on lab nodes: needs root and /usr/sbin/sshd"
	exit 0
fi
KPLAN_ABS=$KPLAN
L=$E2E_TMP/lab
trap 'tests/lab/lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
tests/lab/lab up --names n1 --dir "$L" >"$E2E_TMP/lab.out" 2>&1 || {
	echo "not ok - lab up"
	exit 1
}
addr=$(awk '$1 == "n1" {print $2}' "$L/nodes")
on() { ssh -F "$L/ssh_config" n1 "$@"; }
w=$E2E_TMP/proj
mkdir -p "$w/keys" "$w/inventory"
cp "$L/id_ed25519" "$w/keys/lab_key"
echo "n1 ansible_host=$addr" >"$w/inventory/hosts.ini"
echo 'cfg-vault-pw' >"$w/vault.pw"
secret=$(ansible-vault encrypt_string --vault-password-file "$w/vault.pw" 'Vaulted-From-Cfg' --name marker 2>/dev/null)
cat >"$w/ansible.cfg" <<'CFG'
[defaults]
inventory = inventory/hosts.ini
remote_user = kplan
private_key_file = keys/lab_key
host_key_checking = False
forks = 3
timeout = 20 ; seconds
vault_password_file = vault.pw
roles_path = roles:/usr/share/kubespray/roles

[privilege_escalation]
become = True
become_user = root

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=30m -o UserKnownHostsFile=/dev/null -o ServerAliveInterval=15
CFG
{
	echo "- name: cfg"
	echo "  hosts: all"
	echo "  vars:"
	echo "$secret" | sed 's/^/    /'
	cat <<'PLAN'
  tasks:
    - name: as the remote user
      become: false
      shell: "id -un > /tmp/cfg-user"
    - name: with become
      shell: "id -un > /tmp/cfg-become; echo '{{ marker }}' > /tmp/cfg-marker"
PLAN
} >"$w/plan.yml"

(cd "$w" && "$KPLAN_ABS" run plan.yml -v >out 2>err)
check "run from the project directory: exit 0" 0 "$?"
check "remote_user and private_key_file" kplan "$(on cat /tmp/cfg-user)"
check "[privilege_escalation] become" root "$(on cat /tmp/cfg-become)"
check "vault_password_file" Vaulted-From-Cfg "$(on cat /tmp/cfg-marker)"
check "-v notes what ssh_args kplan ignores" \
	"kplan: note: ansible.cfg: ssh_args: ControlMaster is ignored (kplan keeps one SSH session per host for the whole run)
kplan: note: ansible.cfg: ssh_args: ControlPersist is ignored (kplan keeps one SSH session per host for the whole run)" \
	"$(grep '^kplan: note:' "$w/err")"

(cd "$w" && ANSIBLE_REMOTE_USER=root "$KPLAN_ABS" run plan.yml >out 2>err)
check "ANSIBLE_REMOTE_USER over the file" "0 root" "$? $(on cat /tmp/cfg-user)"
(cd "$w" && ANSIBLE_REMOTE_USER=root "$KPLAN_ABS" run plan.yml -u kplan >out 2>err)
check "-u over ANSIBLE_REMOTE_USER" "0 kplan" "$? $(on cat /tmp/cfg-user)"
echo "n1 ansible_host=$addr ansible_user=root" >"$w/inv2.ini"
(cd "$w" && "$KPLAN_ABS" run plan.yml -i inv2.ini -u kplan >out 2>err)
check "the inventory's ansible_user over -u and remote_user; -i over the file's inventory" \
	"0 root" "$? $(on cat /tmp/cfg-user)"

mv "$w/ansible.cfg" "$E2E_TMP/elsewhere.cfg"
(cd "$w" && "$KPLAN_ABS" run plan.yml >out 2>err)
check "without ansible.cfg: no inventory" 2 "$?"
check "without ansible.cfg: the message" "error: 'kplan run' needs an inventory: -i FILE or DIRECTORY" "$(cat "$w/err")"
sed -i 's|= inventory/hosts.ini|= proj/inventory/hosts.ini|; s|= keys/lab_key|= proj/keys/lab_key|; s|= vault.pw|= proj/vault.pw|' "$E2E_TMP/elsewhere.cfg"
on rm -f /tmp/cfg-user
(cd "$w" && ANSIBLE_CONFIG=$E2E_TMP/elsewhere.cfg "$KPLAN_ABS" run plan.yml >out 2>err)
check "ANSIBLE_CONFIG: paths relative to that file" "0 kplan" "$? $(on cat /tmp/cfg-user)"
printf '[defaults]\nforks = lots\n' >"$w/ansible.cfg"
(cd "$w" && "$KPLAN_ABS" validate plan.yml >out 2>err)
check "a bad setting names the file" "2 error: ansible.cfg: forks must be a number from 1 to 10000, not 'lots'" "$? $(cat "$w/err")"
