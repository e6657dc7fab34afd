#!/bin/sh
# add_host and group_by: the same plan run by ansible-playbook and by
# kplan on local hosts gives the same results, registered values and
# messages, and the plays after them run on the same hosts with the same
# variables: hosts added with groups, variables and a port, groups made
# from a variable with a parent group, add_host run once (registered for
# the first host only), adding a host again is no change; within the play
# that adds a host or a group, the later tasks see them in `groups` and
# `hostvars` and can delegate to the new host.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP add_host and group_by vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
printf '[web]\nh1 ansible_connection=local role=front\nh2 ansible_connection=local role=back\n' >inv.ini
cat >plan.yml <<'PLAN'
- name: build
  hosts: web
  tasks:
    - name: add
      add_host:
        name: extra1
        groups: [dyn, "other"]
        ansible_connection: local
        color: blue
      register: r_add
    - name: add-port
      add_host: name=extra2:2222 groups=dyn,third ansible_connection=local
    - name: by-role
      group_by: {key: "role_{{ role }}", parents: [byrole]}
      register: r_gb
    - name: registered
      debug: {msg: "{{ r_add is defined }} {{ r_gb.add_group }} {{ r_gb.parent_groups }}"}
    - name: registered-add
      debug: {msg: "{{ r_add.add_host }}"}
      when: r_add is defined
- name: dyn
  hosts: dyn
  tasks:
    - name: add-again
      ansible.builtin.add_host: {name: extra1, groups: dyn}
    - name: in-dyn
      debug: {msg: "{{ inventory_hostname }} {{ color | default('none') }} {{ ansible_ssh_port | default('p') }} {{ group_names }}"}
- name: front
  hosts: role_front
  tasks:
    # sorted: ansible-playbook adds the hosts to byrole as their results
    # come in, in no fixed order
    - name: in-front
      debug: {msg: "{{ groups['byrole'] | sort }} {{ groups['role_back'] }} {{ groups['dyn'] }}"}
- name: byrole
  hosts: byrole
  tasks:
    - name: in-byrole
      debug: {msg: "{{ inventory_hostname }} {{ group_names }}"}
- name: mid-play
  hosts: web
  tasks:
    - name: add-mid
      add_host: {name: extra3, groups: [mid], ansible_connection: local, shade: green}
    - name: group-mid
      group_by: {key: "mid_{{ role }}"}
    - name: seen-mid
      debug: {msg: "{{ groups['mid'] }} {{ groups['mid_front'] | default('none') }} {{ hostvars['extra3'].shade }} {{ group_names }}"}
    - name: add-mid-again
      add_host: {name: extra3, groups: [mid]}
    - name: delegated-mid
      command: echo {{ inventory_hostname }}
      delegate_to: extra3
      register: r_del
    - name: seen-delegated
      debug: {msg: "{{ r_del.stdout }}"}
PLAN
sed 's/^  hosts: .*$/&\n  gather_facts: false/' plan.yml >ansible.yml
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml >a.json 2>a.err
echo $? >a.rc
"$KPLAN" run plan.yml -i inv.ini --format json >k.json 2>k.err
echo $? >k.rc
if [ "$(cat a.rc)" = "$(cat k.rc)" ]; then
	echo "ok - add_host/group_by: exit code $(cat k.rc), as Ansible's"
else
	echo "not ok - add_host/group_by: exit code $(cat k.rc), Ansible's $(cat a.rc)"
	sed 's/^/    /' k.err | head -5
fi
/usr/bin/python3 - a.json k.json <<'PY' || echo "not ok - add_host/group_by: the comparison failed"
import json, sys
shown = {"registered", "registered-add", "in-dyn", "in-front", "in-byrole", "seen-mid", "seen-delegated"}
def status(r):
    return "skipped" if r.get("skipped") else "failed" if r.get("failed") else "changed" if r.get("changed") else "ok"
want = []
for p in json.load(open(sys.argv[1]))["plays"]:
    for t in p["tasks"]:
        for h, r in sorted(t["hosts"].items()):
            n = t["task"]["name"]
            want.append((n, h, status(r), json.dumps(r.get("msg"), sort_keys=True) if n in shown else None))
got = []
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result":
        n = e["task"]
        got.append((n, e["host"], e["status"], json.dumps(e.get("result", {}).get("msg"), sort_keys=True) if n in shown else None))
if len(want) < 12:
    print(f"not ok - ansible-playbook gave only {len(want)} results")
elif sorted(want) == sorted(got):
    print(f"ok - add_host/group_by: the same {len(got)} results, hosts, statuses and messages as Ansible")
else:
    print("not ok - add_host/group_by: results differ from Ansible's")
    for r in sorted(set(want) - set(got)):
        print(f"    only ansible: {r}")
    for r in sorted(set(got) - set(want)):
        print(f"    only kplan: {r}")
PY
