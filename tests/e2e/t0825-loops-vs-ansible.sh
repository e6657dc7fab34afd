#!/bin/sh
# with_<lookup> loops and loop_control (loop_var, index_var, label, pause,
# extended, extended_allitems): the same plan run by ansible-playbook and by
# kplan registers the same items, messages, ansible_loop and index values
# for every task, and the same error messages (kplan's carry the task's
# position in front).
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP loops vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
echo "localhost ansible_connection=local" >inv.ini
mkdir -p files/sub
touch files/a.conf files/b.conf files/sub/c.conf x.txt
cat >plan.yml <<'PLAN'
- name: p
  hosts: localhost
  vars:
    nested_list: [a, [b, c], [[d]]]
    users:
      - name: alice
        keys: [k1, k2]
        mysql: {hosts: [h1, h2], password: pw}
      - name: bob
        keys: [k3]
        mysql: {hosts: [h3]}
      - name: carol
    d: {one: 1, two: [2]}
  tasks:
    - name: items
      debug: {msg: "{{ item }}"}
      with_items: "{{ nested_list }}"
      register: r_items
    - name: items-inline
      debug: {msg: "{{ item }}"}
      with_items: [x, [y, z], "{{ d.two }}"]
      register: r_items2
    - name: items-scalar
      debug: {msg: "{{ item }}"}
      with_items: solo
      register: r_items3
    - name: list
      debug: {msg: "{{ item }}"}
      with_list: "{{ nested_list }}"
      register: r_list
    - name: dict
      debug: {msg: "{{ item.key }}={{ item.value }}"}
      with_dict: "{{ d }}"
      register: r_dict
    - name: indexed
      debug: {msg: "{{ item.0 }}:{{ item.1 }}"}
      with_indexed_items: "{{ nested_list }}"
      register: r_indexed
    - name: together
      debug: {msg: "{{ item }}"}
      with_together: [[1, 2, 3], [a, b]]
      register: r_together
    - name: nested
      debug: {msg: "{{ item }}"}
      with_nested: [[1, 2], [a, b], [X]]
      register: r_nested
    - name: seq-kv
      debug: {msg: "{{ item }}"}
      with_sequence: start=4 end=16 stride=4 format=host%02d
      register: r_seq1
    - name: seq-short
      debug: {msg: "{{ item }}"}
      with_sequence: "2-10/3"
      register: r_seq2
    - name: seq-count
      debug: {msg: "{{ item }}"}
      with_sequence: start=0x0f00 count=3 format=%04x
      register: r_seq3
    - name: seq-back
      debug: {msg: "{{ item }}"}
      with_sequence: start=5 end=1 stride=-2
      register: r_seq4
    - name: seq-bad
      debug: {msg: "{{ item }}"}
      with_sequence: start=5 end=1
      ignore_errors: true
      register: r_seq5
    - name: subelements
      debug: {msg: "{{ item.0.name }} {{ item.1 }}"}
      with_subelements:
        - "{{ users }}"
        - keys
        - {skip_missing: true}
      register: r_sub
    - name: subelements-nested
      debug: {msg: "{{ item.0.name }} {{ item.1 }} {{ item.0.mysql }}"}
      with_subelements:
        - "{{ users }}"
        - mysql.hosts
        - skip_missing: yes
      register: r_sub2
    - name: subelements-missing
      debug: {msg: "{{ item.1 }}"}
      with_subelements: ["{{ users }}", keys]
      ignore_errors: true
      register: r_sub3
    - name: fileglob
      debug: {msg: "{{ item | basename }}"}
      with_fileglob: ["*.conf"]
      register: r_glob
    - name: fileglob-sub
      debug: {msg: "{{ item | basename }}"}
      with_fileglob: "sub/*.conf"
      register: r_glob2
    - name: first-found
      debug: {msg: "{{ item | basename }}"}
      with_first_found:
        - missing.conf
        - "{{ undefined_thing }}"
        - b.conf
        - a.conf
      register: r_ff
    - name: first-found-paths
      debug: {msg: "{{ item | basename }}"}
      with_first_found:
        - files: [nope.conf, c.conf]
          paths: [/nonexistent, sub]
      register: r_ff2
    - name: first-found-skip
      debug: {msg: "{{ item }}"}
      with_first_found:
        - files: [nope.txt]
          skip: true
      register: r_ff3
    - name: first-found-none
      debug: {msg: "{{ item }}"}
      with_first_found: [nope1, nope2]
      ignore_errors: true
      register: r_ff4
    - name: ext
      debug: {msg: "{{ ansible_loop.index }}/{{ ansible_loop.length }} {{ ansible_loop.previtem | default('-') }} {{ ansible_loop.nextitem | default('-') }} {{ ansible_loop.first }} {{ ansible_loop.last }} {{ ansible_loop.revindex }} {{ ansible_loop.revindex0 }} {{ ix }}"}
      loop: [a, b, c]
      loop_control: {extended: true, index_var: ix, loop_var: it, label: "L{{ it }}"}
      register: r_ext
    - name: ext-noall
      debug: {msg: "{{ ansible_loop.allitems | default('none') }}"}
      loop: [a, b]
      loop_control: {extended: true, extended_allitems: false}
      register: r_ext2
    - name: pause
      debug: {msg: "{{ item }}"}
      loop: [1, 2]
      loop_control: {pause: 0.2}
      register: r_pause
    - name: when-per-item
      debug: {msg: "{{ item }}"}
      loop: [a, b, c]
      when: item != 'b'
      register: r_when
    - name: when-all-skipped
      debug: {msg: "{{ item }}"}
      with_items: [a, b]
      when: item == 'z'
      register: r_when2
    - name: when-guards-undefined-loop
      debug: {msg: "{{ item }}"}
      loop: "{{ not_defined_anywhere }}"
      when: not_defined_anywhere is defined
      register: r_when3
    - name: loop-not-a-list
      debug: {msg: "{{ item }}"}
      loop: "{{ 'abc' }}"
      ignore_errors: true
      register: r_notlist
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'r_items': r_items, 'r_items2': r_items2, 'r_items3': r_items3, 'r_list': r_list, 'r_dict': r_dict, 'r_indexed': r_indexed, 'r_together': r_together, 'r_nested': r_nested, 'r_seq1': r_seq1, 'r_seq2': r_seq2, 'r_seq3': r_seq3, 'r_seq4': r_seq4, 'r_seq5': r_seq5, 'r_sub': r_sub, 'r_sub2': r_sub2, 'r_sub3': r_sub3, 'r_glob': r_glob, 'r_glob2': r_glob2, 'r_ff': r_ff, 'r_ff2': r_ff2, 'r_ff3': r_ff3, 'r_ff4': r_ff4, 'r_ext': r_ext, 'r_ext2': r_ext2, 'r_pause': r_pause, 'r_when': r_when, 'r_when2': r_when2, 'r_when3': r_when3, 'r_notlist': r_notlist} | to_json }}"
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' plan.yml >ansible.yml
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml -e out="$E2E_TMP/a.json" \
	>a.log 2>a.err || echo "not ok - ansible-playbook failed: $(tail -3 a.err)"
"$KPLAN" run plan.yml -i inv.ini -e out="$E2E_TMP/k.json" >k.log 2>k.err ||
	echo "not ok - kplan run failed: $(tail -3 k.err)"
/usr/bin/python3 - a.json k.json <<'PY'
import json, re, sys
a = json.load(open(sys.argv[1]))
k = json.load(open(sys.argv[2]))
def view(r):
    if "results" not in r:
        msg = re.sub(r"^[^:]*:\d+:\d+: ", "", r.get("msg") or "")
        return {"failed": r.get("failed", False), "msg": msg, "skipped": r.get("skipped", False)}
    out = []
    for x in r["results"]:
        lv, iv = x.get("ansible_loop_var"), x.get("ansible_index_var")
        out.append({"item": x.get(lv), "loop_var": lv, "index_var": iv,
                    "skipped": x.get("skipped", False), "skip_reason": x.get("skip_reason"),
                    "index": x.get(iv) if iv else None,
                    "ansible_loop": x.get("ansible_loop"), "msg": x.get("msg")})
    if all(isinstance(o["item"], str) and o["item"].endswith(".conf") for o in out):
        out.sort(key=lambda o: o["item"])  # Python's glob order is the directory's
    return {"msg": r.get("msg"), "skipped": r.get("skipped"),
            "skipped_reason": r.get("skipped_reason"), "results": out}
for name in a:
    va, vk = view(a[name]), view(k.get(name, {}))
    if va == vk:
        print(f"ok - {name} as Ansible")
    else:
        print(f"not ok - {name}:\n  ansible {json.dumps(va)}\n  kplan   {json.dumps(vk)}")
PY
