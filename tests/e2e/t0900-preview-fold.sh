#!/bin/sh
# Folded previews: hosts of a batch whose tasks are the same once each
# host's own name is put in place of the first one's are shown once, as
# "first … last (N hosts)", in text and markdown; --no-fold lists every
# host; JSON always lists every host. Six hosts, two of them with their own
# port: app1 stands alone (its message names itself), app2/app4/app6 and
# app3/app5 fold.
. "$(dirname "$0")/lib.sh"
pb=tests/e2e/data/fold.yml
inv=tests/e2e/data/fold-six.ini
schema=tests/schema/preview.schema.json

expect_output "plan: hosts with the same tasks fold" 0 plan-fold.txt \
	"$KPLAN" plan $pb -i $inv
expect_output "plan --no-fold: every host on its own line" 0 plan-fold-nofold.txt \
	"$KPLAN" plan $pb -i $inv --no-fold
expect_output "plan --format markdown: hosts with the same tasks fold" 0 plan-fold.md \
	"$KPLAN" plan $pb -i $inv --format markdown

run_kplan "$E2E_TMP/f.txt" plan $pb -i $inv
run_kplan "$E2E_TMP/n.txt" plan $pb -i $inv --no-fold
check "plan: the folded text says what the per-host text says" faithful \
	"$(/usr/bin/python3 tests/e2e/foldcheck.py "$E2E_TMP/f.txt" "$E2E_TMP/n.txt" 2>&1)"

run_kplan "$E2E_TMP/n.md" plan $pb -i $inv --format markdown --no-fold
check "plan --format markdown --no-fold: a section and a summary line per host" "6 6" \
	"$(grep -c '^#### app[0-9]$' "$E2E_TMP/n.md") $(grep -c '^| app[0-9] |' "$E2E_TMP/n.md")"

run_kplan "$E2E_TMP/p.json" plan $pb -i $inv --format json
run_kplan "$E2E_TMP/pn.json" plan $pb -i $inv --format json --no-fold
check "plan --format json: every host, with its own name in its tasks" \
	"app1 app2 app3 app4 app5 app6 | dest=/etc/app/app4.conf content=\"name=app4 port=8080\" | cmd=\"restart app5\"" \
	"$(/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
hosts = d["plays"][0]["batches"][0]["hosts"]
print(" ".join(h["host"] for h in hosts), "|", hosts[3]["tasks"][0]["outcome"], "|", hosts[4]["tasks"][3]["outcome"])' "$E2E_TMP/p.json")"
check "plan --format json: the same bytes with --no-fold" same \
	"$(cmp -s "$E2E_TMP/p.json" "$E2E_TMP/pn.json" && echo same)"
check "plan --format json: validates against preview.schema.json" valid \
	"$(/usr/bin/python3 -c 'import json, sys, jsonschema
try:
    jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
    print("valid")
except Exception as e:
    print(str(e).splitlines()[0])' "$schema" "$E2E_TMP/p.json")"

# check folds the same way: app1 and app2 would get the same file, app3 has it
d=$E2E_TMP/check
mkdir -p "$d"
printf '[app]\napp1 ansible_connection=local\napp2 ansible_connection=local\napp3 ansible_connection=local\n' >"$d/inv.ini"
cat >"$d/plan.yml" <<YAML
- hosts: app
  tasks:
    - name: Config
      copy: {dest: "$d/{{ inventory_hostname }}.conf", content: "port=8080\n"}
YAML
echo port=8080 >"$d/app3.conf"
run_kplan "$d/c.md" check "$d/plan.yml" -i "$d/inv.ini" --format markdown
check "check --format markdown: hosts with the same outcome fold" \
	"| app1 … app2 (2 hosts, each) | 1 | 0 | 0 | changed 1 |
| app3 | 0 | 0 | 0 | ok 1 |
#### app1 … app2 (2 hosts): the same 1 task
#### app3" \
	"$(grep -E '^(#### app|\| app)' "$d/c.md")"
run_kplan "$d/c.txt" check "$d/plan.yml" -i "$d/inv.ini"
check "check's text: a task's hosts with the same result fold, in the batch's order" \
	"TASK [Config] copy
  changed: [app1 … app2 (2 hosts)] would create '$d/app1.conf' (sha256 $(printf 'port=8080\n' | sha256sum | cut -c1-8)…)
    hosts: app1, app2
  ok: [app3]" \
	"$(sed -n '/^TASK \[Config\]/,/^$/p' "$d/c.txt" | sed 's/^\(  ok: \[app3\]\).*/\1/' | grep -v '^$')"
run_kplan "$d/n.txt" check "$d/plan.yml" -i "$d/inv.ini" --no-fold
check "check's text --no-fold: a line per host" "app1 app2 app3" \
	"$(grep -o '^  [a-z]*: \[app[0-9]\]' "$d/n.txt" | grep -o 'app[0-9]' | sort | tr '\n' ' ' | sed 's/ $//')"
run_kplan "$d/n.md" check "$d/plan.yml" -i "$d/inv.ini" --format markdown --no-fold
check "check --format markdown --no-fold: a section per host" "#### app1 #### app2 #### app3" \
	"$(grep '^#### app' "$d/n.md" | tr '\n' ' ' | sed 's/ $//')"
run_kplan "$d/c.json" check "$d/plan.yml" -i "$d/inv.ini" --format json
check "check --format json: every host" "app1 app2 app3" \
	"$(/usr/bin/python3 -c 'import json, sys
print(" ".join(h["host"] for h in json.load(open(sys.argv[1]))["plays"][0]["batches"][0]["hosts"]))' "$d/c.json")"
check "check changed nothing" "port=8080 absent absent" \
	"$(cat "$d/app3.conf") $([ -e "$d/app1.conf" ] && echo present || echo absent) $([ -e "$d/app2.conf" ] && echo present || echo absent)"
