#!/bin/sh
# Command-line habits of Ansible users: --list-tags and --syntax-check
# print what ansible-playbook prints for the same plan; -e @missing,
# --become-password-file (the value reaches the run, hidden in output),
# -K without a terminal; --version names the libraries as pkg-config
# knows them.
. "$(dirname "$0")/lib.sh"
cd "$E2E_TMP" || exit 1
cat >plan.yml <<'PLAN'
- name: first
  hosts: all
  tags: [upgrade]
  tasks:
    - name: a
      shell: "true"
      tags: [drain, always]
    - name: b
      block:
        - shell: "true"
          tags: [kubeadm, z-last]
      rescue:
        - shell: "true"
          tags: [rescued]
- hosts: all
  tasks:
    - shell: "true"
      tags: [t]
  handlers:
    - name: h
      shell: "true"
      tags: [handler-tag]
PLAN
if command -v ansible-playbook >/dev/null 2>&1; then
	sed 's/^  hosts: all$/&\n  gather_facts: false/' plan.yml >ansible.yml
	ansible-playbook -i localhost, ansible.yml --list-tags 2>/dev/null | sed 's/ansible\.yml/plan.yml/' >want-tags
	ansible-playbook -i localhost, ansible.yml --syntax-check 2>/dev/null | sed 's/ansible\.yml/plan.yml/' >want-syntax
	run_kplan got-tags run plan.yml --list-tags
	check "--list-tags: exit 0" 0 "$rc"
	check "--list-tags: as ansible-playbook prints it" "$(cat want-tags)" "$(cat got-tags)"
	run_kplan got-syntax run plan.yml --syntax-check
	check "--syntax-check: as ansible-playbook prints it" "0 $(cat want-syntax)" "$rc $(cat got-syntax)"
fi
expect_stderr "-e @file that does not exist" 2 \
	"error: cannot read 'nope.yml': No such file or directory" "$KPLAN" validate plan.yml -e @nope.yml

mkdir -p n1
echo "n1 ansible_connection=local kplan_workdir=$E2E_TMP/n1" >inv.ini
printf 'Become-Pw-42\n' >bpw
cat >bp.yml <<'PLAN'
- name: p
  hosts: all
  tasks:
    - shell: "echo '{{ ansible_become_password }}' > seen"
PLAN
run_kplan out run bp.yml -i inv.ini --become-password-file bpw -vvv
check "--become-password-file: the value reaches the run" "0 Become-Pw-42" "$rc $(cat n1/seen)"
check "--become-password-file: hidden in the output" "" "$(grep -l Become-Pw-42 out out.err)"
expect_stderr "-K without a terminal" 2 "error: cannot ask for the become password: no terminal" \
	setsid "$KPLAN" run bp.yml -i inv.ini -K

if command -v pkg-config >/dev/null 2>&1; then
	"$KPLAN" --version >ver
	for pair in libyaml:yaml-0.1 libssh:libssh libcurl:libcurl cJSON:libcjson OpenSSL:openssl Lua:lua5.4; do
		name=${pair%%:*} pc=${pair#*:}
		got=$(awk -v n="$name" '$1 == n { print $2 }' ver | sed 's|/.*||')
		check "--version: $name as pkg-config knows it" "$(pkg-config --modversion "$pc")" "$got"
	done
	check "--version: kplan's own first" "kplan" "$(head -1 ver | cut -d' ' -f1)"
fi
