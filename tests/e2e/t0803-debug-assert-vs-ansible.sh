#!/bin/sh
# debug's verbosity and assert's msg/fail_msg/success_msg/quiet: the same
# plan run by ansible-playbook (json callback) and by kplan at -v levels 0
# and 2 gives every task the same status, and a failed assert the same
# message.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP debug/assert vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
echo "localhost ansible_connection=local" >inv.ini
cat >plan.yml <<'PLAN'
- name: p
  hosts: localhost
  tasks:
    - name: d0
      debug: {msg: always}
    - name: d1
      debug: {msg: at v1, verbosity: 1}
    - name: d2
      debug: {msg: at v2, verbosity: 2}
    - name: d3
      debug: {msg: at v3, verbosity: 3}
    - name: a-msg
      assert: {that: ["1 == 2"], msg: the msg alias}
      ignore_errors: true
    - name: a-fail-msg
      assert: {that: ["1 == 1", "2 == 3"], fail_msg: two is not three}
      ignore_errors: true
    - name: a-quiet
      assert: {that: ["1 == 1"], quiet: true}
    - name: a-success
      assert: {that: ["1 == 1"], success_msg: fine}
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' plan.yml >ansible.yml
for v in 0 2; do
	vflag=
	[ "$v" = 2 ] && vflag=-vv
	ANSIBLE_STDOUT_CALLBACK=json ansible-playbook $vflag -i inv.ini ansible.yml >a$v.json 2>a$v.err
	"$KPLAN" run plan.yml -i inv.ini --format json $vflag >k$v.json 2>k$v.err
	/usr/bin/python3 - a$v.json k$v.json "$v" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
a = json.loads(text[text.index("{\n"):])  # -vv prints its settings first
want = {}
for t in a["plays"][0]["tasks"]:
    h = t["hosts"]["localhost"]
    st = "skipped" if h.get("skipped") else "ignored" if h.get("failed") else "changed" if h.get("changed") else "ok"
    want[t["task"]["name"]] = (st, h.get("msg") if h.get("failed") else None)
got = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result":
        got[e["task"]] = (e["status"], e.get("msg") if e["status"] == "ignored" else None)
for name, w in want.items():
    g = got.get(name)
    if g == w:
        print(f"ok - -v{sys.argv[3]} {name}: {w[0]}{' ' + repr(w[1]) if w[1] else ''} as Ansible")
    else:
        print(f"not ok - -v{sys.argv[3]} {name}: ansible {w} kplan {g}")
PY
done
