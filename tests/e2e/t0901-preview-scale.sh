#!/bin/sh
# A preview of 5,000 hosts: the text and markdown fold them into the two
# groups they form (every 50th host has role=db), saying what the per-host
# listing says; the JSON, written host by host, lists all 5,000 with their
# own names and validates. Time and memory are measured by
# bench/preview-scale.sh, not here.
. "$(dirname "$0")/lib.sh"
schema=tests/schema/preview.schema.json
inv=$E2E_TMP/hosts.yml
pb=$E2E_TMP/plan.yml
awk 'BEGIN {
	print "all:\n  vars:\n    role: web\n  hosts:"
	for (i = 1; i <= 5000; i++)
		printf "    n%04d:%s\n", i, i % 50 ? "" : " {role: db}"
}' >"$inv"
cat >"$pb" <<'YAML'
- hosts: all
  tasks:
    - name: step on {{ inventory_hostname }}
      command: echo {{ inventory_hostname }} {{ role }}
    - copy: {dest: "/etc/{{ inventory_hostname }}.conf", content: "role={{ role }}"}
    - debug: {msg: "database {{ inventory_hostname }}"}
      when: role == 'db'
    - lineinfile: {path: /etc/hosts, line: "{{ inventory_hostname }} {{ item }}"}
      loop: [a, b]
YAML

run_kplan "$E2E_TMP/f.txt" plan "$pb" -i "$inv"
check "plan, 5,000 hosts: exit 0" 0 "$rc"
check "plan, 5,000 hosts: two groups" \
	"    n0001 … n4999 (4,900 hosts): the same 4 tasks, shown as for n0001
    n0050 … n5000 (100 hosts): the same 4 tasks, shown as for n0050" \
	"$(grep 'the same' "$E2E_TMP/f.txt")"
check "plan, 5,000 hosts: one line per group and task (and item)" 10 \
	"$(grep -c '^      n00[05][01] … ' "$E2E_TMP/f.txt")"
run_kplan "$E2E_TMP/n.txt" plan "$pb" -i "$inv" --no-fold
check "plan --no-fold, 5,000 hosts: a line per host and task (and item)" 25000 \
	"$(grep -c '^      n[0-9]*[ :]' "$E2E_TMP/n.txt")"
check "plan, 5,000 hosts: the folded text says what the per-host text says" faithful \
	"$(/usr/bin/python3 tests/e2e/foldcheck.py "$E2E_TMP/f.txt" "$E2E_TMP/n.txt" 2>&1)"

run_kplan "$E2E_TMP/p.md" plan "$pb" -i "$inv" --format markdown
check "plan --format markdown, 5,000 hosts: a section and a summary line per group" \
	"| n0001 … n4999 (4,900 hosts, each) | 4 | 0 | 0 | runs 4, skipped 1 |
| n0050 … n5000 (100 hosts, each) | 4 | 0 | 0 | runs 5 |
#### n0001 … n4999 (4,900 hosts): the same 4 tasks
#### n0050 … n5000 (100 hosts): the same 4 tasks" \
	"$(grep -E '^(#### n|\| n)' "$E2E_TMP/p.md")"

run_kplan "$E2E_TMP/p.json" plan "$pb" -i "$inv" --format json
check "plan --format json, 5,000 hosts: every host, each with its own name and role" \
	"5000 5000 n0050:db" \
	"$(/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
hosts = d["plays"][0]["batches"][0]["hosts"]
own = sum(h["tasks"][0]["outcome"] == "cmd=\"echo %s %s\"" % (h["host"], "db" if h["host"].endswith(("00", "50")) else "web") for h in hosts)
print(len(hosts), own, "%s:%s" % (hosts[49]["host"], hosts[49]["tasks"][0]["outcome"].split()[-1][:-1]))' "$E2E_TMP/p.json")"
check "plan --format json, 5,000 hosts: validates against preview.schema.json" valid \
	"$(/usr/bin/python3 -c 'import json, sys, jsonschema
try:
    jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
    print("valid")
except Exception as e:
    print(str(e).splitlines()[0])' "$schema" "$E2E_TMP/p.json")"
