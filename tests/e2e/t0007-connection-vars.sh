#!/bin/sh
# Connection variables on the local connection: ansible_become and
# ansible_become_user from the inventory (kplan_* winning, variables
# winning over the play's and task's keywords, as in Ansible), connection
# variables written with {{ }} rendered in the host's scope; and the
# mistakes that make run and check refuse before anything runs (exit 2, no
# journal): an unknown --limit, an unknown --start-at-task,
# --detailed-exitcode with run, confirm: true with no terminal (a check
# never asks).
. "$(dirname "$0")/lib.sh"
J=$E2E_TMP/journal
p=$E2E_TMP/plan.yml
inv=$E2E_TMP/inv.yml

# msgs TASK [HOST] < events: host=msg of that task's results, sorted
msgs() {
	/usr/bin/python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    e = json.loads(line)
    if e.get("event") == "host_result" and e.get("task") == sys.argv[1] and \
            sys.argv[2] in ("", e["host"]):
        rows.append("%s=%s" % (e["host"], e.get("msg", "")))
print(" ".join(sorted(rows)))' "$1" "${2:-}"
}

cat >"$inv" <<'INV'
all:
  vars:
    conn: local
  hosts:
    plain:
      ansible_connection: local
    inv_become:
      ansible_connection: local
      ansible_become: true
      ansible_become_user: nobody
    kplan_wins:
      ansible_connection: local
      ansible_become: false
      kplan_become: "yes"
      ansible_become_user: root
      kplan_become_user: daemon
    templated:
      ansible_connection: "{{ conn }}"
      ansible_become: "{{ want_become }}"
      ansible_become_user: "{{ who }}"
      want_become: true
      who: nobody
    bad_template:
      ansible_connection: local
      ansible_become: true
      ansible_become_user: "{{ nosuch_user }}"
INV

# a play without become: the inventory's become applies
cat >"$p" <<'PLAN'
- name: who
  hosts: all
  tasks:
    - name: whoami
      command: id -un
      register: who
    - name: show
      debug: {msg: "{{ who.stdout }}"}
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --journal "$J" --format json
check "become from the inventory: ansible_become/ansible_become_user, kplan_* winning, templated" \
	"inv_become=nobody kplan_wins=daemon plain=root templated=nobody" \
	"$(msgs show <"$E2E_TMP/out")"
check "a become variable that cannot be rendered fails the task, naming the variable" \
	"bad_template=undefined variable 'nosuch_user' (in the value of 'ansible_become_user')" \
	"$(msgs whoami bad_template <"$E2E_TMP/out")"
check "templated: ansible_connection: \"{{ conn }}\" connects" "templated=changed" \
	"$(/usr/bin/python3 tests/e2e/jsonevents.py statuses whoami <"$E2E_TMP/out" | grep -o 'templated=[a-z]*')"

# variables override keywords (Ansible's precedence): the play and the
# task say become nobody, the host's variables say otherwise
cat >"$p" <<'PLAN'
- name: keywords
  hosts: plain:no_become:other_user
  become: true
  become_user: nobody
  tasks:
    - name: whoami
      command: id -un
      register: who
    - name: show
      debug: {msg: "{{ who.stdout }}"}
    - name: task keyword
      command: id -un
      become_user: daemon
      register: who2
    - name: show2
      debug: {msg: "{{ who2.stdout }}"}
PLAN
cat >"$E2E_TMP/inv2.yml" <<'INV'
all:
  hosts:
    plain:
      ansible_connection: local
    no_become:
      ansible_connection: local
      ansible_become: false
    other_user:
      ansible_connection: local
      ansible_become_user: daemon
INV
run_kplan "$E2E_TMP/out" run "$p" -i "$E2E_TMP/inv2.yml" --journal "$J" --format json
check "play become_user applies without variables; ansible_become: false and ansible_become_user win over it" \
	"no_become=root other_user=daemon plain=nobody" "$(msgs show <"$E2E_TMP/out")"
check "the task's become_user applies without variables" \
	"no_become=root other_user=daemon plain=daemon" "$(msgs show2 <"$E2E_TMP/out")"

# bad usage: nothing runs, exit 2, no journal
rm -rf "$J"
cat >"$p" <<PLAN
- name: p
  hosts: all
  tasks:
    - name: first
      shell: touch $E2E_TMP/ran
PLAN
printf 'h1 ansible_connection=local\n' >"$E2E_TMP/inv.ini"
for cmd in run check; do
	expect_stderr "$cmd -l nosuch: exit 2 and the error" 2 \
		"error: unknown host or group 'nosuch' in --limit" \
		"$KPLAN" $cmd "$p" -i "$E2E_TMP/inv.ini" -l nosuch --journal "$J" --format json
	check "$cmd -l nosuch: no JSON events" "" "$(cat "$E2E_TMP/out")"
	expect_stderr "$cmd --start-at-task nosuch: exit 2 and the error" 2 \
		"error: --start-at-task: no task named 'nosuch'" \
		"$KPLAN" $cmd "$p" -i "$E2E_TMP/inv.ini" --start-at-task nosuch --journal "$J"
done
expect_stderr "run --detailed-exitcode: exit 2, it is for check and plan" 2 \
	"error: --detailed-exitcode goes with 'kplan check' and 'kplan plan', not with 'kplan run'" \
	"$KPLAN" run "$p" -i "$E2E_TMP/inv.ini" --detailed-exitcode --journal "$J"
cat >"$E2E_TMP/confirm.yml" <<PLAN
- name: careful
  hosts: all
  confirm: true
  tasks:
    - name: first
      shell: touch $E2E_TMP/ran
PLAN
expect_stderr "confirm: true and no terminal: exit 2 before anything runs" 2 \
	"error: $E2E_TMP/confirm.yml:1:3: play 'careful' asks for confirmation before each batch and there is no terminal (use --yes)" \
	setsid -w "$KPLAN" run "$E2E_TMP/confirm.yml" -i "$E2E_TMP/inv.ini" --journal "$J"
check "bad usage: no journal was written" "0" "$(find "$J" -type f 2>/dev/null | wc -l)"
check "bad usage: the task never ran" "no" "$(test -e "$E2E_TMP/ran" && echo yes || echo no)"
# a check changes nothing, so it never asks: no terminal needed, and the
# preview says that the run will ask (run -C is the same check)
for cmd in check "run -C"; do
	setsid -w "$KPLAN" $cmd "$E2E_TMP/confirm.yml" -i "$E2E_TMP/inv.ini" --journal "$J" \
		>"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	check "$cmd on a confirm play without a terminal: exit 0, nothing on stderr" "0 " \
		"$rc $(cat "$E2E_TMP/err")"
	check "$cmd on a confirm play: the preview notes that the run asks" \
		"  confirm: the run asks before each batch; this preview does not ask" \
		"$(grep '^  confirm:' "$E2E_TMP/out")"
done
setsid -w "$KPLAN" check "$E2E_TMP/confirm.yml" -i "$E2E_TMP/inv.ini" --format json \
	>"$E2E_TMP/out" 2>"$E2E_TMP/err"
rc=$?
check "check --format json on a confirm play: exit 0, the play's confirm is true, schema-valid" \
	"0 True valid" "$rc $(/usr/bin/python3 -c 'import json, sys, jsonschema
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, json.load(open(sys.argv[1])))
print(doc["plays"][0]["confirm"], "valid")' tests/schema/preview.schema.json "$E2E_TMP/out" 2>&1)"
setsid -w "$KPLAN" check "$E2E_TMP/confirm.yml" -i "$E2E_TMP/inv.ini" --format markdown \
	>"$E2E_TMP/out" 2>"$E2E_TMP/err"
rc=$?
check "check --format markdown on a confirm play: exit 0 and the note" \
	"0 The run asks for confirmation before each batch (\`confirm: true\`); this preview did not ask." \
	"$rc $(grep 'asks for confirmation' "$E2E_TMP/out")"
check "a check on a confirm play: the task never ran, no journal" "no 0" \
	"$(test -e "$E2E_TMP/ran" && echo yes || echo no) $(find "$J" -type f 2>/dev/null | wc -l)"
setsid -w "$KPLAN" run "$E2E_TMP/confirm.yml" -i "$E2E_TMP/inv.ini" --journal "$J" --yes >"$E2E_TMP/out" 2>&1
rc=$?
check "confirm: true with --yes runs" "0 yes" "$rc $(test -e "$E2E_TMP/ran" && echo yes || echo no)"
