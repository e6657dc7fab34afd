#!/bin/sh
# meta: the same plan run by ansible-playbook and by kplan on three local
# hosts runs the same tasks on the same hosts, in the same order:
# flush_handlers runs the notified handlers at once, end_host takes one
# host out of the play, a host that failed stays out of the play after
# clear_host_errors but is back in the next one (and the run succeeds, as
# Ansible's does), end_batch ends each batch of a serial play, end_play
# ends the play without its handlers and the next play runs.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP meta vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
printf '[g]\nh1 ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\n' >inv.ini
cat >plan.yml <<'PLAN'
- name: flush-and-end-host
  hosts: g
  tasks:
    - name: notify
      command: "true"
      notify: handler-one
    - name: flush
      meta: flush_handlers
    - name: after-flush
      debug: {msg: after}
    - name: end-h2
      meta: end_host
      when: inventory_hostname == 'h2'
    - name: after-end-host
      debug: {msg: still}
    - name: fail-h3
      fail: {msg: boom}
      when: inventory_hostname == 'h3'
    - name: after-fail
      debug: {msg: two}
    - name: clear
      meta: clear_host_errors
    - name: after-clear
      debug: {msg: back}
    - name: noop
      meta: noop
  handlers:
    - name: handler-one
      debug: {msg: handled}
- name: end-batch
  hosts: g
  serial: 2
  tasks:
    - name: before-end-batch
      debug: {msg: b}
    - name: end-batch
      meta: end_batch
    - name: after-end-batch
      debug: {msg: never}
- name: end-play
  hosts: g
  tasks:
    - name: notify-late
      command: "true"
      notify: handler-two
    - name: end
      meta: end_play
    - name: after-end-play
      debug: {msg: never}
  handlers:
    - name: handler-two
      debug: {msg: never}
- name: next-play
  hosts: g
  tasks:
    - name: in-next-play
      debug: {msg: runs}
PLAN
sed 's/^  hosts: g$/&\n  gather_facts: false/' plan.yml >ansible.yml
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml >a.json 2>a.err
echo $? >a.rc
"$KPLAN" run plan.yml -i inv.ini --format json >k.json 2>k.err
echo $? >k.rc
if [ "$(cat a.rc)" = "$(cat k.rc)" ]; then
	echo "ok - meta: exit code $(cat k.rc), as Ansible's"
else
	echo "not ok - meta: exit code $(cat k.rc), Ansible's $(cat a.rc)"
	sed 's/^/    /' k.err | head -5
fi
/usr/bin/python3 - a.json k.json <<'PY'
import json, sys
# Ansible reports no result for most meta tasks: they are left out
meta = {"flush", "end-h2", "clear", "noop", "end-batch", "end"}
def status(r):
    return "skipped" if r.get("skipped") else "failed" if r.get("failed") else "changed" if r.get("changed") else "ok"
want = []
for bi, p in enumerate(json.load(open(sys.argv[1]))["plays"]):  # a play per batch
    for t in p["tasks"]:
        for h, r in sorted(t["hosts"].items()):
            want.append((bi, t["task"]["name"], h, status(r)))
got = []
bi = -1
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "batch_start":
        bi += 1
    if e.get("event") == "host_result":
        got.append((bi, e["task"], e["host"], e["status"]))
want = [w for w in want if w[1] not in meta]
got = [g for g in got if g[1] not in meta]
def order(rs):
    seen = []
    for r in rs:
        if (r[0], r[1]) not in seen:
            seen.append((r[0], r[1]))
    return seen
if sorted(want) == sorted(got) and order(want) == order(got):
    print(f"ok - meta: the same {len(got)} results on the same hosts, in Ansible's order")
else:
    print("not ok - meta: results differ from Ansible's")
    for r in sorted(set(want) - set(got)):
        print(f"    only ansible: {r}")
    for r in sorted(set(got) - set(want)):
        print(f"    only kplan: {r}")
    if order(want) != order(got):
        print(f"    order: ansible {order(want)}\n    kplan {order(got)}")
PY

# end_play, end_batch, clear_facts: run once, for the first host (so is
# their `when`), acting on every host; clear_facts leaves set_fact's
# variables; the recap counts no meta action
cat >once.yml <<'PLAN'
- hosts: g
  gather_facts: false
  tasks:
    - name: end-play-when-h2
      meta: end_play
      when: inventory_hostname == 'h2'
    - set_fact: {f1: kept}
    - setup: {gather_subset: ["!all", "!min", "env"], filter: "ansible_env"}
    - name: clear-facts-when-h1
      meta: clear_facts
      when: inventory_hostname == 'h1'
    - name: after-clear
      debug: {msg: "{{ f1 }} {{ ansible_env is defined }} {{ ansible_facts | length }}"}
    - name: end-batch-when-h3
      meta: end_batch
      when: inventory_hostname == 'h3'
    - name: after-end-batch
      debug: {msg: c}
    - name: end-play-when-h1
      meta: end_play
      when: inventory_hostname == 'h1'
    - name: after-end-play
      debug: {msg: never}
PLAN
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini once.yml >ao.json 2>ao.err
"$KPLAN" run once.yml -i inv.ini --format json >ko.json 2>ko.err
/usr/bin/python3 - ao.json ko.json <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
want = sorted((t["task"]["name"], h, r.get("msg", "")) for p in a["plays"] for t in p["tasks"]
              for h, r in t["hosts"].items() if t["task"]["name"].startswith("after"))
got, recap = [], {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result" and e["task"].startswith("after"):
        got.append((e["task"], e["host"], e.get("msg", "")))
    if e.get("event") == "recap":
        recap = {n: {k: h[k] for k in ("ok", "changed", "failed", "skipped")} for n, h in e["hosts"].items()}
got.sort()
print(("ok - " if want == got else "not ok - ") + f"meta once: the later tasks' results {got}" +
      ("" if want == got else f", Ansible's {want}"))
arecap = {h: {k: s[k] for k in ("ok", "changed", "failures", "skipped")} for h, s in a["stats"].items()}
arecap = {h: {"failed" if k == "failures" else k: v for k, v in s.items()} for h, s in arecap.items()}
print(("ok - " if arecap == recap else "not ok - ") + f"meta once: the recap {recap}" +
      ("" if arecap == recap else f", Ansible's {arecap}"))
PY
