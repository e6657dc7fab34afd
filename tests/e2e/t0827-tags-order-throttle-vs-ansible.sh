#!/bin/sh
# Which tasks --tags and --skip-tags select (always, never, tagged,
# untagged, all) and the order a play's `order` gives its hosts, each held
# against ansible-playbook; throttle on a task and on a play keeps one host
# at a time; vars_prompt with no terminal and no answer refuses the plan
# naming the variable.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP tags/order vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
echo "localhost ansible_connection=local" >inv.ini
cat >tags.yml <<'PLAN'
- name: p
  hosts: localhost
  tasks:
    - {name: plain, debug: {msg: x}}
    - {name: t-a, debug: {msg: x}, tags: [a]}
    - {name: t-ab, debug: {msg: x}, tags: [a, b]}
    - {name: t-always, debug: {msg: x}, tags: [always]}
    - {name: t-never, debug: {msg: x}, tags: [never]}
    - {name: t-never-a, debug: {msg: x}, tags: [never, a]}
    - {name: t-always-never, debug: {msg: x}, tags: [always, never]}
    - block:
        - {name: in-block, debug: {msg: x}}
        - {name: in-block-never, debug: {msg: x}, tags: [never]}
      tags: [blk]
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' tags.yml >tags-a.yml
for sel in "" "--tags a" "--tags all" "--tags never" "--tags tagged" "--tags untagged" \
	"--skip-tags a" "--skip-tags always" "--skip-tags all" "--skip-tags all,always" \
	"--skip-tags tagged" "--skip-tags untagged" "--tags blk" "--tags a --skip-tags b" \
	"--tags always"; do
	# shellcheck disable=SC2086
	ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini tags-a.yml $sel >a.json 2>a.err
	# shellcheck disable=SC2086
	"$KPLAN" run tags.yml -i inv.ini --format json $sel >k.json 2>k.err
	/usr/bin/python3 - a.json k.json "$sel" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
want = [t["task"]["name"] for p in a["plays"] for t in p["tasks"]]
got = []
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result" and e["task"] not in got:
        got.append(e["task"])
sel = sys.argv[3] or "(no tags)"
if want == got:
    print(f"ok - {sel}: {' '.join(want)} as Ansible")
else:
    print(f"not ok - {sel}: ansible {want} kplan {got}")
PY
done

# order, one host at a time so that the order is the run's
printf '%s ansible_connection=local\n' web3 web1 db2 web2 >hosts.ini
for order in inventory reverse_inventory sorted reverse_sorted shuffle; do
	cat >order.yml <<PLAN
- name: p
  hosts: all
  order: $order
  serial: 1
  tasks:
    - name: mark
      shell: echo {{ inventory_hostname }} >>{{ out }}
PLAN
	sed 's/^  hosts: all$/&\n  gather_facts: false/' order.yml >order-a.yml
	rm -f a.order k.order
	ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i hosts.ini order-a.yml -e out="$PWD/a.order" \
		>a.json 2>a.err
	"$KPLAN" run order.yml -i hosts.ini -e out="$PWD/k.order" >k.log 2>k.err
	if [ "$order" = shuffle ]; then
		a=$(sort a.order | tr '\n' ' ') k=$(sort k.order | tr '\n' ' ')
	else
		a=$(tr '\n' ' ' <a.order) k=$(tr '\n' ' ' <k.order)
	fi
	if [ -n "$a" ] && [ "$a" = "$k" ]; then
		echo "ok - order $order: $k as Ansible"
	else
		echo "not ok - order $order: ansible '$a' kplan '$k'"
	fi
done

# throttle: 1 runs the task on one host at a time: no host sees another's
# mark while it holds its own for a second
mkdir -p marks
cat >throttle.yml <<'PLAN'
- name: p
  hosts: all
  tasks:
    - name: one at a time
      shell: n=$(ls {{ dir }} | wc -l); touch {{ dir }}/{{ inventory_hostname }}; sleep 1; rm {{ dir }}/{{ inventory_hostname }}; echo $n
      throttle: 1
      register: r
    - name: dump
      shell: echo {{ r.stdout }} >>{{ out }}
- name: throttle on the play
  hosts: all
  throttle: 1
  tasks:
    - name: one at a time again
      shell: n=$(ls {{ dir }} | wc -l); touch {{ dir }}/{{ inventory_hostname }}; sleep 1; rm {{ dir }}/{{ inventory_hostname }}; echo $n
      register: r
    - name: dump
      shell: echo {{ r.stdout }} >>{{ out }}
PLAN
"$KPLAN" run throttle.yml -i hosts.ini -e dir="$PWD/marks" -e out="$PWD/thr" >k.log 2>k.err
if [ "$(sort -u thr 2>/dev/null | tr '\n' ' ')" = "0 " ] && [ "$(wc -l <thr)" = 8 ]; then
	echo "ok - throttle 1 on a task and on a play: no two hosts at once"
else
	echo "not ok - throttle 1: hosts saw $(tr '\n' ' ' <thr 2>/dev/null) others at once"
fi

# vars_prompt with no terminal, no default and no -e: refused at load
cat >prompt.yml <<'PLAN'
- name: p
  hosts: localhost
  vars_prompt:
    - name: word
      prompt: the word
  tasks:
    - {name: show, debug: {msg: "{{ word }}"}}
PLAN
expect_stderr "vars_prompt without an answer" 2 \
	"error: prompt.yml:4:7: vars_prompt 'word' has no answer: there is no terminal to ask on and no default (give it with -e word=...)" \
	"$KPLAN" run prompt.yml -i inv.ini
expect_grep "vars_prompt answered by -e" 0 '"msg":"xyzzy"' \
	"$KPLAN" run prompt.yml -i inv.ini --format json -e word=xyzzy
