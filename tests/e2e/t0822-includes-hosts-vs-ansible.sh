#!/bin/sh
# include_tasks on two hosts, run by ansible-playbook (json callback) and
# by kplan: a file named per host, `when` per host and per loop item, an
# empty loop, loop_control, `apply`
# tags and become for the included tasks, a failure inside an include
# rescued by the block around it, a handler notified from an included
# file, and --tags selecting through `apply` (the include itself tagged
# `always`). Every task, on every host, with the same status and debug
# message. A file that includes itself until a `when` stops it runs its
# tasks as often as ansible-playbook runs them.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP includes on hosts vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
cat >inv.ini <<'INV'
h1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3 which=one
h2 ansible_connection=local ansible_python_interpreter=/usr/bin/python3 which=two
INV
cat >one.yml <<'Y'
- name: one task
  debug: {msg: "one on {{ inventory_hostname }} {{ n | default('-') }}"}
Y
cat >two.yml <<'Y'
- name: two task
  debug: {msg: "two on {{ inventory_hostname }} {{ n | default('-') }}"}
Y
cat >fails.yml <<'Y'
- name: fails here
  command: /bin/false
- name: not reached
  debug: {msg: unreachable}
Y
cat >notifies.yml <<'Y'
- name: changes
  command: /bin/true
  notify: said
Y
cat >tagged.yml <<'Y'
- name: tagged inside
  debug: {msg: "tagged {{ inventory_hostname }}"}
- name: untagged inside
  debug: {msg: "untagged"}
  tags: [other]
Y
cat >plan.yml <<'Y'
- name: includes
  hosts: all
  tasks:
    - name: per host file
      include_tasks: "{{ which }}.yml"
    - name: only h1
      include_tasks: one.yml
      when: inventory_hostname == 'h1'
    - name: numbered
      include_tasks: "{{ which }}.yml"
      loop: [1, 2]
      loop_control:
        loop_var: n
    - name: second item only
      include_tasks: "{{ which }}.yml"
      loop: [1, 2]
      loop_control:
        loop_var: n
      when: n == 2
    - name: no items
      include_tasks: one.yml
      loop: []
    - name: guarded
      block:
        - name: include that fails
          include_tasks: fails.yml
      rescue:
        - name: rescued
          debug: {msg: "rescued {{ inventory_hostname }}"}
    - name: notifying include
      include_tasks: notifies.yml
    - name: applied
      include_tasks:
        file: tagged.yml
        apply:
          tags: [picked]
      tags: [always]
  handlers:
    - name: said
      debug: {msg: "handler on {{ inventory_hostname }}"}
Y
sed 's/^  hosts: all$/&\n  gather_facts: false/' plan.yml >a-plan.yml
compare() { # NAME ARGS...
	name=$1
	shift
	ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini a-plan.yml "$@" >a.json 2>a.err
	"$KPLAN" run plan.yml -i inv.ini --format json "$@" >k.json 2>k.err
	/usr/bin/python3 - a.json k.json "$name" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
def status(h):
    return ("skipped" if h.get("skipped") else "failed" if h.get("failed")
            else "changed" if h.get("changed") else "ok")
want = []
for play in a["plays"]:
    for t in play["tasks"]:
        for host in sorted(t["hosts"]):
            h = t["hosts"][host]
            msg = h.get("msg") if h.get("action") in ("debug", "ansible.builtin.debug") else None
            want.append((t["task"]["name"], host, status(h), msg))
got = []
task = None
batch = []
def flush():
    got.extend(sorted(batch, key=lambda r: r[1]))
    batch.clear()
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "task_start":
        flush()
    if e.get("event") == "host_result":
        msg = e.get("msg") if e.get("module", "debug") == "debug" else None
        batch.append((e["task"], e["host"], e["status"], msg))
flush()
# each host's results in their order: which host's include runs first is
# not fixed (ansible-playbook's order changes from run to run)
want.sort(key=lambda r: r[1])
got.sort(key=lambda r: r[1])
bad = [(i, w, g) for i, (w, g) in enumerate(zip(want + [None] * len(got), got + [None] * len(want)))
       if (w or g) and (w is None or g is None or w[:3] != g[:3] or (w[3] is not None and w[3] != g[3]))]
if bad:
    for i, w, g in bad[:12]:
        print(f"not ok - {sys.argv[3]}: result {i}: ansible {w} kplan {g}")
else:
    print(f"ok - {sys.argv[3]}: {len(want)} host results as Ansible")
PY
}
compare "two hosts"
compare "--tags picked" --tags picked

# a file that includes itself until a `when` stops it (a retry): each
# level loads when it is reached, the same tasks run as many times
cat >retry.yml <<'Y'
- name: count
  set_fact:
    n: "{{ (n | default(0) | int) + 1 }}"
- name: again
  include_tasks: retry.yml
  when: n | int < 3
Y
cat >retry-plan.yml <<'Y'
- hosts: h1
  gather_facts: false
  tasks:
    - include_tasks: retry.yml
    - debug: {msg: "n={{ n }}"}
Y
ansible-playbook -i inv.ini retry-plan.yml >ra.out 2>&1
"$KPLAN" run retry-plan.yml -i inv.ini >rk.out 2>&1
tasks() { sed -n 's/^TASK \[\([^]]*\)\].*/\1/p; s/.*\(n=[0-9]*\).*/\1/p' "$1" | tr '\n' ' '; }
check "ansible-playbook ran the retry to n=3" "yes" "$(grep -q 'n=3' ra.out && echo yes)"
check "a self-including file: the tasks and n as ansible-playbook's" "$(tasks ra.out)" "$(tasks rk.out)"
