#!/bin/sh
# Facts and magic variables against ansible-core on the local connection:
# the facts kplan's setup gathers (one shell command) equal, key by key,
# what `ansible -m setup` gathers on this machine; values that change by
# nature (the date's seconds, free memory, free blocks of a mount, the
# environment's values) are compared by shape. ansible_facts.NAME is
# ansible_NAME. The magic variables of a play equal ansible-playbook's.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible >/dev/null 2>&1; then
	echo "# SKIP facts vs Ansible: no ansible"
	exit 0
fi
cd "$E2E_TMP" || exit 1
printf 'localhost ansible_connection=local\n' >inv.ini
ansible -m setup localhost -c local -i inv.ini 2>/dev/null | sed '1s/^[^{]*{/{/' >a.json
cat >p.yml <<'YML'
- hosts: localhost
  tasks:
    - setup:
      register: r
    - copy: {content: "{{ r.ansible_facts | to_json }}", dest: "{{ playbook_dir }}/k.json"}
    - copy: {content: "{{ ansible_facts | to_json }}", dest: "{{ playbook_dir }}/kv.json"}
YML
"$KPLAN" run p.yml -i inv.ini >run.out 2>&1
check "setup runs" 0 $?
cat >cmp.py <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))['ansible_facts']
k = json.load(open(sys.argv[2]))
kv = json.load(open(sys.argv[3]))
keys = ("hostname fqdn nodename domain distribution distribution_version "
        "distribution_major_version distribution_release os_family system kernel "
        "kernel_version architecture machine machine_id default_ipv4 default_ipv6 "
        "all_ipv4_addresses all_ipv6_addresses interfaces memtotal_mb memfree_mb "
        "processor_vcpus processor_cores processor_count date_time env lsb mounts "
        "pkg_mgr service_mgr user_id").split()
def shape(v):
    if isinstance(v, dict):
        return {x: shape(y) for x, y in v.items()}
    if isinstance(v, list):
        return [shape(y) for y in v]
    return type(v).__name__
moving = ('size_available', 'block_available', 'block_used', 'inode_available', 'inode_used')
for n in keys:
    av, kk = a.get('ansible_' + n, '<missing>'), k.get('ansible_' + n, '<missing>')
    if n in ('date_time', 'memfree_mb', 'env'):
        same = shape(av) == shape(kk)
    elif n == 'mounts':
        strip = lambda l: [{x: (type(y).__name__ if x in moving else y) for x, y in m.items()} for m in l]
        same = isinstance(av, list) and isinstance(kk, list) and strip(av) == strip(kk)
    elif n == 'interfaces':  # Ansible's order is a set's
        same = sorted(av) == sorted(kk)
    else:
        same = av == kk
    if same:
        print("ok - ansible_%s as Ansible's" % n)
    else:
        print("not ok - ansible_%s\n    ansible: %s\n    kplan:   %s" % (n, json.dumps(av)[:400], json.dumps(kk)[:400]))
    bare = kv.get(n, '<missing>')
    if n != 'date_time' and bare != kk:
        print("not ok - ansible_facts.%s is not ansible_%s" % (n, n))
PY
/usr/bin/python3 cmp.py a.json k.json kv.json

# magic variables, as ansible-playbook renders them (forks: kplan's own)
cat >m.yml <<'YML'
- hosts: localhost
  gather_facts: false
  tasks:
    - debug:
        msg: "{{ [inventory_dir, inventory_file, playbook_dir, ansible_play_hosts, ansible_play_hosts_all, ansible_play_batch, ansible_check_mode, ansible_diff_mode, ansible_run_tags, ansible_skip_tags, ansible_version.major, ansible_limit | default('none'), ansible_facts, inventory_hostname_short, group_names, groups.all, hostvars.localhost.ansible_connection, ansible_hostname | default('undefined')] | to_json }}"
YML
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook m.yml -i inv.ini 2>/dev/null | /usr/bin/python3 -c '
import sys, json
d = json.load(sys.stdin)
print(json.dumps(json.loads(d["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"])))' >m.ansible
"$KPLAN" run m.yml -i inv.ini --format json 2>/dev/null | /usr/bin/python3 -c '
import sys, json
for l in sys.stdin:
    e = json.loads(l)
    if e.get("event") == "host_result" and e.get("msg"):
        print(json.dumps(json.loads(e["msg"])))
        break' >m.kplan
check "magic variables as ansible-playbook's" "$(cat m.ansible)" "$(cat m.kplan)"

# gather_facts: false leaves facts undefined; true and a first use gather
printf -- '- hosts: localhost\n  gather_facts: %s\n  tasks:\n    - debug: {msg: "{{ ansible_system | default(\x27undefined\x27) }}"}\n' false >g.yml
"$KPLAN" run g.yml -i inv.ini --format json 2>/dev/null | grep -o '"msg":"[^"]*"' | sort -u >g.out
check "gather_facts: false: a fact is undefined" '"msg":"undefined"' "$(cat g.out)"
sed -i 's/gather_facts: false/gather_facts: true/' g.yml
"$KPLAN" run g.yml -i inv.ini --format json 2>/dev/null | grep -o '"msg":"[^"]*"' | tail -n 1 >g.out
check "gather_facts: true" '"msg":"Linux"' "$(cat g.out)"
sed -i '/gather_facts/d' g.yml
"$KPLAN" run g.yml -i inv.ini --format json 2>/dev/null | grep -o '"msg":"[^"]*"' | sort -u >g.out
check "facts on first use" '"msg":"Linux"' "$(cat g.out)"

# a host that failed leaves ansible_play_hosts and ansible_play_batch
printf 'a ansible_connection=local\nb ansible_connection=local\nc ansible_connection=local\n' >inv3.ini
cat >ph.yml <<'YML'
- hosts: all
  gather_facts: false
  tasks:
    - fail: {msg: x}
      when: inventory_hostname == 'b'
    - debug: {msg: "{{ ansible_play_hosts }} {{ ansible_play_hosts_all }} {{ ansible_play_batch }}"}
YML
want=$(ANSIBLE_STDOUT_CALLBACK=json ansible-playbook ph.yml -i inv3.ini 2>/dev/null | /usr/bin/python3 -c '
import sys, json
print(json.load(sys.stdin)["plays"][0]["tasks"][1]["hosts"]["a"]["msg"])')
got=$("$KPLAN" run ph.yml -i inv3.ini --format json 2>/dev/null | /usr/bin/python3 -c '
import sys, json
for l in sys.stdin:
    e = json.loads(l)
    if e.get("event") == "host_result" and e.get("host") == "a" and e.get("status") == "ok":
        print(e["msg"])')
check "a failed host leaves ansible_play_hosts, as in Ansible" "$want" "$got"

# setup's filter: only the facts whose names match, with Ansible's values
# (Ansible also returns ansible_distribution_file_*, which kplan does not
# make)
ansible -m setup -a 'filter=ansible_distribution*' localhost -c local -i inv.ini 2>/dev/null |
	sed '1s/^[^{]*{/{/' >f.ansible
cat >f.yml <<'YML'
- hosts: localhost
  gather_facts: false
  tasks:
    - setup: {filter: "ansible_distribution*"}
      register: r
    - copy: {content: "{{ r.ansible_facts | to_json }}", dest: "{{ playbook_dir }}/f.json"}
YML
"$KPLAN" run f.yml -i inv.ini >/dev/null 2>&1
check "setup filter as Ansible's" "ansible_distribution ansible_distribution_major_version ansible_distribution_release ansible_distribution_version" "$(/usr/bin/python3 -c '
import json
a = json.load(open("f.ansible"))["ansible_facts"]
k = json.load(open("f.json"))
print(" ".join(n for n in sorted(k) if a.get(n) == k[n]))')"
