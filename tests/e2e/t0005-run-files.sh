#!/bin/sh
# transports: local ssh
# File modules on the local connection: a second run changes nothing (no
# writes: mtimes stay), and --check changes nothing yet predicts exactly
# what the real run then does.
. "$(dirname "$0")/lib.sh"
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
inv=$E2E_TMP/inv.ini
setup_nodes "$inv" 2
p=$E2E_TMP/plan.yml
mkdir -p "$E2E_TMP/templates"
printf 'node={{ inventory_hostname }}\nversion={{ kube_version }}\n' >"$E2E_TMP/templates/node.conf.j2"
node_sh h1 "printf 'a=1\\nb=2\\n' > settings.conf"
node_sh h2 "printf 'a=1\\nb=2\\n' > settings.conf"

cat >"$p" <<'PLAN'
- name: files
  hosts: nodes
  vars:
    kube_version: "1.13.3"
  tasks:
    - name: directory
      file: {path: etc/kplan, state: directory, mode: "0750"}
    - name: copy
      copy: {content: "hello {{ inventory_hostname }}\n", dest: etc/kplan/hello.txt, mode: "0640"}
    - name: template
      template: {src: templates/node.conf.j2, dest: etc/kplan/node.conf}
    - name: lineinfile replace
      lineinfile: {path: settings.conf, regexp: "^b=", line: "b=3"}
    - name: lineinfile add
      lineinfile: {path: settings.conf, line: "c=4"}
PLAN

snapshot() { # the trees: names, types, modes, sizes, mtimes and hashes
	for h in h1 h2; do
		node_sh $h "find . -printf '%p %y %m %s %T@\\n' | sort && find . -type f -exec sha256sum {} + | sort"
	done
}
statuses() {
	for t in "directory" "copy" "template" "lineinfile replace" "lineinfile add"; do
		$ev statuses "$t" <"$1"
	done | paste -sd'|'
}

before=$(snapshot)
run_kplan "$E2E_TMP/check" check "$p" -i "$inv" --format json --diff
check "check: exit code" 0 "$rc"
check "check: nothing on the nodes changed (names, modes, sizes, mtimes, contents)" "$before" "$(snapshot)"
check "check: the JSON preview validates" "valid" \
	"$(/usr/bin/python3 -c 'import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
print("valid")' tests/schema/preview.schema.json "$E2E_TMP/check")"

run_kplan "$E2E_TMP/run1" run "$p" -i "$inv" --format json
check "first run: exit code" 0 "$rc"
check "first run: every task changed on every host" \
	"h1=changed h2=changed|h1=changed h2=changed|h1=changed h2=changed|h1=changed h2=changed|h1=changed h2=changed" \
	"$(statuses "$E2E_TMP/run1")"
check "check predicted exactly what the run did" "$(statuses "$E2E_TMP/run1")" "$(statuses "$E2E_TMP/check")"
check "copy wrote the content and mode" "640 hello h2" \
	"$(node_sh h2 'stat -c %a etc/kplan/hello.txt') $(node_cat h2 etc/kplan/hello.txt)"
check "template rendered the host's variables" "node=h1 version=1.13.3" \
	"$(node_cat h1 etc/kplan/node.conf | paste -sd' ')"
check "lineinfile replaced and added" "a=1 b=3 c=4" "$(node_cat h1 settings.conf | paste -sd' ')"
check "file made the directory with its mode" "750" "$(node_sh h1 'stat -c %a etc/kplan')"

after_first=$(snapshot)
sleep 1 # mtimes would move if anything were written again
run_kplan "$E2E_TMP/run2" run "$p" -i "$inv" --format json
check "second run: exit code" 0 "$rc"
check "second run: every task ok" \
	"h1=ok h2=ok|h1=ok h2=ok|h1=ok h2=ok|h1=ok h2=ok|h1=ok h2=ok" "$(statuses "$E2E_TMP/run2")"
check "second run: no file was written (mtimes unchanged)" "$after_first" "$(snapshot)"

run_kplan "$E2E_TMP/check2" check "$p" -i "$inv" --diff --detailed-exitcode
check "check after the run: nothing would change" 0 "$(grep -c '^  changed' "$E2E_TMP/check2")"
check "check --detailed-exitcode after the run: 0, nothing pending" 0 "$rc"
node_sh h2 "echo b=9 >> settings.conf"
run_kplan "$E2E_TMP/check3" check "$p" -i "$inv" --diff --detailed-exitcode --no-color
check "check --detailed-exitcode with a drifted file: 10, changes pending" 10 "$rc"
check "check --diff shows the line lineinfile would change" "-b=9|+b=3" \
	"$(grep -E '^    [-+]b=' "$E2E_TMP/check3" | sed 's/^    //' | paste -sd'|')"
