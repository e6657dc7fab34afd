#!/bin/sh
# Ansible Vault: a kubespray-style inventory whose group_vars hold a
# `!vault` value (format 1.1) and a whole encrypted file (format 1.2 with a
# vault id), a vaulted vars_files and -e @file, all made here by Debian's
# ansible-vault. With the password (a file, an executable script,
# ANSIBLE_VAULT_PASSWORD_FILE, --vault-id) the run sees the plaintext;
# without one, or with a wrong one, loading fails naming file:line:col;
# the plaintext appears nowhere kplan writes at -vvv (stdout, stderr, the
# journal).
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-vault >/dev/null 2>&1; then
	echo "# SKIP vault: no ansible-vault"
	exit 0
fi
cd "$E2E_TMP" || exit 1
inv=inv
mkdir -p $inv/group_vars/all nodes/w1
printf '[kube_control_plane]\nw1 ansible_connection=local kplan_workdir=%s/nodes/w1\n[kube_node]\nw1\n' "$E2E_TMP" >$inv/hosts.ini
echo 'Pa55-word' >pw
printf '#!/bin/sh\necho Pa55-word\n' >pw.sh
chmod +x pw.sh
echo 'Other-pass' >prodpw
echo 'not-it' >wrong
ansible-vault encrypt_string --vault-password-file pw 'Db-Secret-1f9a' --name db_password \
	>$inv/group_vars/all/main.yml 2>/dev/null
printf 'api_token: Tok-Secret-77c2\nport_num: 8443\n' >$inv/group_vars/all/vault.yml
ansible-vault encrypt --vault-id prod@prodpw $inv/group_vars/all/vault.yml >/dev/null 2>&1
printf 'extra_secret: Extra-Secret-5e1d\n' >extra.yml
ansible-vault encrypt --vault-password-file pw extra.yml >/dev/null 2>&1
printf 'file_secret: File-Secret-09bb\n' >vf.yml
ansible-vault encrypt --vault-password-file pw vf.yml >/dev/null 2>&1
check "ansible-vault made format 1.2 with the vault id" '$ANSIBLE_VAULT;1.2;AES256;prod' \
	"$(head -1 $inv/group_vars/all/vault.yml)"

cat >plan.yml <<'PLAN'
- name: vault
  hosts: kube_node
  vars_files: [vf.yml]
  tasks:
    - name: use them
      shell: "echo '{{ db_password }}:{{ api_token }}:{{ port_num }}:{{ extra_secret }}:{{ file_secret }}' > used"
PLAN
run_kplan out run plan.yml -i $inv --vault-password-file pw --vault-id prod@prodpw -e @extra.yml -vvv --journal journal
check "run with the passwords: exit 0" 0 "$rc"
check "the plaintext reaches the task" "Db-Secret-1f9a:Tok-Secret-77c2:8443:Extra-Secret-5e1d:File-Secret-09bb" \
	"$(cat nodes/w1/used)"
leaks=$(grep -rl -e Db-Secret-1f9a -e Tok-Secret-77c2 -e Extra-Secret-5e1d -e File-Secret-09bb out out.err journal | paste -sd' ')
check "no plaintext in stdout, stderr or the journal at -vvv" "" "$leaks"
check "-vvv shows the command, the values hidden" yes \
	"$(grep -q "echo '<hidden>:<hidden>:<hidden>:<hidden>:<hidden>' > used" out out.err && echo yes)"

rm -f nodes/w1/used
run_kplan out run plan.yml -i $inv --vault-id pw.sh --vault-id prod@prodpw -e @extra.yml
check "an executable password file is run" "Db-Secret-1f9a:Tok-Secret-77c2:8443:Extra-Secret-5e1d:File-Secret-09bb" \
	"$(cat nodes/w1/used)"
rm -f nodes/w1/used
ANSIBLE_VAULT_PASSWORD_FILE=pw run_kplan out run plan.yml -i $inv --vault-id prod@prodpw -e @extra.yml
check "ANSIBLE_VAULT_PASSWORD_FILE" "0 Db-Secret-1f9a" "$rc $(cut -d: -f1 nodes/w1/used)"

expect_stderr "no password: a load error at the value" 2 \
	"error: inv/group_vars/all/main.yml:1:14: cannot decrypt the !vault value: no vault password given (--vault-password-file, --vault-id or --ask-vault-pass)" \
	"$KPLAN" validate plan.yml -i $inv
expect_stderr "a wrong password" 2 \
	"error: inv/group_vars/all/main.yml:1:14: cannot decrypt the !vault value: wrong vault password" \
	"$KPLAN" validate plan.yml -i $inv --vault-password-file wrong
expect_stderr "the whole encrypted file without its vault id's password" 2 \
	"error: inv/group_vars/all/vault.yml:1:1: cannot decrypt the vault-encrypted file: wrong vault password (vault id 'prod')" \
	"$KPLAN" validate plan.yml -i $inv --vault-password-file pw
expect_stderr "-e @file encrypted, no password for it" 2 \
	"error: extra.yml:1:1: cannot decrypt the vault-encrypted file: wrong vault password" \
	"$KPLAN" validate plan.yml -i $inv --vault-id prod@prodpw --vault-password-file wrong -e @extra.yml
expect_stderr "a missing password file" 2 \
	"error: cannot read vault password file 'nope': No such file or directory" \
	"$KPLAN" validate plan.yml -i $inv --vault-password-file nope
expect_stderr "--ask-vault-pass without a terminal" 2 \
	"error: cannot ask for the vault password: no terminal (use --vault-password-file)" \
	setsid "$KPLAN" validate plan.yml -i $inv --ask-vault-pass
run_kplan out inventory --list -i $inv --vault-password-file pw --vault-id prod@prodpw
check "inventory --list: decrypted values print hidden" '"<hidden>" "<hidden>" "<hidden>"' \
	"$(/usr/bin/python3 -c 'import json,sys; h=json.load(open("out"))["_meta"]["hostvars"]["w1"]; print(" ".join(json.dumps(h[k]) for k in ("db_password","api_token","port_num")))')"
