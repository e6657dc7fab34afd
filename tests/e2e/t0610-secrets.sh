#!/bin/sh
# Secrets never show: plans that use a no_log task, *_password variables
# (inventory, -e KEY=VALUE, -e @FILE), !secret values and a become
# password, run through run, check and plan in text, json and markdown (the
# preview format of check and plan) at -vvv with --diff; every stdout and
# stderr, the journal files and the preview documents are searched for the
# secret strings: zero findings. The tasks use the secrets without printing
# them themselves (a task that echoes a secret to its own stdout shows it,
# as it would in a terminal; that is no_log's job, tested here too).
. "$(dirname "$0")/lib.sh"
inv=$E2E_TMP/inv.ini
J=$E2E_TMP/journal
mkdir -p "$E2E_TMP/h1" "$E2E_TMP/outs"
cat >"$inv" <<INV
[nodes]
h1 ansible_connection=local kplan_workdir=$E2E_TMP/h1 ansible_become_password=BecPw-1a db_password=DbPw-2b
INV
cat >"$E2E_TMP/vars.yml" <<'VARS'
token: !secret Tok-3c
api_password: ApiPw-4d
VARS
cat >"$E2E_TMP/plan.yml" <<'PLAN'
- name: secrets
  hosts: nodes
  vars:
    nolog_value: NoLog-5e
  tasks:
    - name: a no_log command that prints its secret
      shell: "echo {{ nolog_value }}; echo {{ nolog_value }} >&2"
      no_log: true
      register: r
    - name: a failing no_log command
      shell: "echo {{ nolog_value }} >&2; exit 1"
      no_log: true
      ignore_errors: true
      register: rf
    - name: the registered no_log values shown
      debug: {var: r}
    - name: and as a message
      debug: {msg: "{{ rf }}"}
    - name: and one field of it
      debug: {msg: "out {{ r.stdout }}"}
    - name: a password in a command line
      command: "test -n '{{ db_password }}'"
    - name: a secret in a shell script
      shell: "printf %s '{{ token }}' > tokfile"
    - name: passwords in a file
      copy: {content: "api={{ api_password }}\nextra={{ extra_password }}\n", dest: "{{ kplan_workdir }}/pw.conf", mode: "0600"}
    - name: become with a password
      command: id -u
      become: true
    - name: a failing command with a password in its command line
      command: "false '{{ db_password }}'"
      ignore_errors: true
PLAN
secrets='BecPw-1a|DbPw-2b|Tok-3c|ApiPw-4d|NoLog-5e|ExPw-6f'
for cmd in run check plan; do
	for fmt in text json markdown; do
		[ "$cmd" = run ] && [ "$fmt" = markdown ] && continue # a preview format
		"$KPLAN" $cmd "$E2E_TMP/plan.yml" -i "$inv" -e @"$E2E_TMP/vars.yml" \
			-e 'extra_password=ExPw-6f other=1' --format $fmt -vvv --diff --journal "$J" \
			>"$E2E_TMP/outs/$cmd.$fmt.out" 2>"$E2E_TMP/outs/$cmd.$fmt.err"
		rc=$?
		check "secrets: $cmd --format $fmt -vvv: it ran" yes \
			"$(case $rc in 0 | 10) echo yes ;; *) echo "no: exit $rc" ;; esac)"
	done
done
# and what kplan inventory and kplan runs print
"$KPLAN" inventory -i "$inv" -e @"$E2E_TMP/vars.yml" --host h1 >"$E2E_TMP/outs/inventory-host.out" 2>&1
"$KPLAN" inventory -i "$inv" -e @"$E2E_TMP/vars.yml" --list >"$E2E_TMP/outs/inventory-list.out" 2>&1
"$KPLAN" runs --journal "$J" >"$E2E_TMP/outs/runs.out" 2>&1
for id in $(ls "$J" | sed 's/\.jsonl$//'); do
	"$KPLAN" runs "$id" --journal "$J" >"$E2E_TMP/outs/runs-$id.out" 2>&1
done
check "secrets: the runs wrote journals" yes "$(ls "$J"/*.jsonl >/dev/null 2>&1 && echo yes || echo no)"
check "secrets: the task with the passwords in its file worked" "api=ApiPw-4d extra=ExPw-6f" \
	"$(paste -sd' ' "$E2E_TMP/h1/pw.conf")"
findings=$(grep -rEn "$secrets" "$E2E_TMP/outs" "$J" | sed "s|$E2E_TMP/||")
check "secrets: zero findings in every output, trace, journal and preview" 0 \
	"$(printf '%s' "$findings" | grep -c .)"
[ -z "$findings" ] || echo "$findings" | cut -c1-160 | sed 's/^/    finding: /' | head -40
check "secrets: a no_log task's registered value prints censored" 1 \
	"$(grep -c "hidden due to the fact that 'no_log: true'" "$E2E_TMP/outs/run.text.out" | sed 's/^[1-9][0-9]*$/1/')"
