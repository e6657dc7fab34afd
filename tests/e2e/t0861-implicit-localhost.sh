#!/bin/sh
# A play on localhost with an inventory that has none: Ansible's implicit
# localhost runs it on the local connection, in no group (groups['all'] and
# `hosts: all` leave it out). ansible_host is the address a task's host
# is reached at (its name, 127.0.0.1 for the implicit localhost), not a
# hostvars[] entry. What each host's debug says is compared with what
# ansible-playbook says, and the run lists the same hosts.
. "$(dirname "$0")/lib.sh"
cd "$E2E_TMP" || exit 1
printf '[nodes]\nnode1 ansible_connection=local\n' >inv.ini
cat >p.yml <<'PLAY'
- hosts: localhost
  gather_facts: false
  tasks:
    - command: echo hi-from-{{ inventory_hostname }}
      register: r
    - debug: msg="{{ r.stdout }} {{ groups['all'] }} {{ group_names }} {{ ansible_connection }} {{ ansible_host }}"
- hosts: all
  gather_facts: false
  tasks:
    - debug: msg="{{ inventory_hostname }} {{ ansible_host }} {{ hostvars[inventory_hostname].ansible_host | default('none') }}"
PLAY
"$KPLAN" run p.yml -i inv.ini >k.out 2>&1
check "run: exit 0" 0 "$?"
sed -n 's/^  ok: \[\([^]]*\)\] [0-9.]*s /\1 /p' k.out >k.msgs
if command -v ansible-playbook >/dev/null 2>&1; then
	ansible-playbook -i inv.ini p.yml 2>/dev/null | /usr/bin/python3 -c 'import re,sys
host = None
for l in sys.stdin:
    m = re.match(r"ok: \[([^]]*)\] => \{", l)
    if m:
        host = m.group(1)
    m = re.match(r"\s+\"msg\": \"(.*)\"$", l)
    if m and host:
        print(host, m.group(1))' >a.msgs
	check "debug messages as ansible-playbook's" "$(cat a.msgs)" "$(cat k.msgs)"
	ansible-playbook -i inv.ini p.yml --list-hosts >a.list 2>/dev/null
	"$KPLAN" run p.yml -i inv.ini --list-hosts >k.list 2>&1
	/usr/bin/python3 "$OLDPWD/tests/e2e/listcompare.py" hosts a.list k.list >diff 2>&1
	check "--list-hosts as ansible-playbook's" "" "$(cat diff)"
else
	echo "# SKIP comparison: no ansible-playbook"
fi
check "all leaves localhost out" "node1 node1 node1 none" "$(grep '^node1 ' k.msgs)"
