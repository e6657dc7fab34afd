#!/bin/sh
# no_log and register: the registered value of a no_log task stays usable
# in expressions (`when: sr.rc == 1`, `{{ sr.stdout }}` in a later
# command), but wherever it is printed (debug var/msg, JSON events, the
# journal, the check and plan previews in every format, -vvv) it shows in
# Ansible's censored form: the censored message and the verdict (changed,
# failed, skipped, rc, attempts), never the output or the arguments.
. "$(dirname "$0")/lib.sh"
inv=$E2E_TMP/inv.ini
J=$E2E_TMP/journal
O=$E2E_TMP/outs
mkdir -p "$O"
setup_nodes "$inv" 1
cat >"$E2E_TMP/plan.yml" <<'PLAN'
- name: nolog register
  hosts: nodes
  tasks:
    - name: a failing no_log command
      shell: "echo TOPSECRET; echo TOPSECRET2 >&2; exit 1"
      no_log: true
      register: sr
      ignore_errors: true
    - name: show the whole value
      debug: {var: sr}
    - name: show it as a message
      debug: {msg: "{{ sr }}"}
      register: shown
    - name: show one field
      debug: {msg: "out={{ sr.stdout }} err={{ sr.stderr_lines }}"}
    - name: the verdict is usable
      debug: {msg: "verdict rc={{ sr.rc }} failed={{ sr.failed }} changed={{ sr.changed }}"}
      when: not kplan.check_mode and sr.rc == 1 and sr.failed and sr.changed
    - name: the value is usable
      shell: "test {{ sr.stdout | length }} -eq 9"
    - name: a no_log loop
      shell: "echo LOOPSECRET-{{ item }}"
      loop: [a, b]
      no_log: true
      register: lr
    - name: show the loop value
      debug: {var: lr}
PLAN
planted='TOPSECRET|LOOPSECRET|echo TOPSECRET'
censored="the output has been hidden due to the fact that 'no_log: true' was specified for this result"
for cmd in run check plan; do
	for fmt in text json markdown; do
		[ "$cmd" = run ] && [ "$fmt" = markdown ] && continue
		"$KPLAN" $cmd "$E2E_TMP/plan.yml" -i "$inv" --format $fmt -vvv --journal "$J" \
			>"$O/$cmd.$fmt.out" 2>"$O/$cmd.$fmt.err"
		rc=$?
		check "no_log register: $cmd --format $fmt -vvv ran" yes \
			"$(case $rc in 0 | 10) echo yes ;; *) echo "no: exit $rc" ;; esac)"
	done
done
"$KPLAN" run "$E2E_TMP/plan.yml" -i "$inv" -vv --journal "$J" >"$O/run.vv.out" 2>"$O/run.vv.err"
for id in $(ls "$J" | sed 's/\.jsonl$//'); do
	"$KPLAN" runs "$id" --journal "$J" >"$O/runs-$id.out" 2>&1
done
check "no_log register: the runs wrote journals" yes \
	"$(ls "$J"/*.jsonl >/dev/null 2>&1 && echo yes || echo no)"

findings=$(grep -rEn "$planted" "$O" "$J" | sed "s|$E2E_TMP/||")
check "no_log register: the planted strings appear in no output, trace, journal or preview" 0 \
	"$(printf '%s' "$findings" | grep -c .)"
[ -z "$findings" ] || echo "$findings" | cut -c1-200 | sed 's/^/    finding: /' | head -20

check "no_log register: debug var shows the censored value with its verdict (text)" 1 \
	"$(grep -cF "sr: {\"censored\":\"$censored\",\"changed\":true,\"failed\":true,\"skipped\":false,\"rc\":1}" "$O/run.vv.out")"
check "no_log register: debug msg of the value is censored too (text)" 1 \
	"$(grep -F "show it as a message" -A1 "$O/run.text.out" | grep -cF "{\"censored\":")"
check "no_log register: a field of it shows as hidden" 1 \
	"$(grep -cF 'ok: [h1] 0.00s <hidden by no_log>' "$O/run.vv.out" | sed 's/^[1-9][0-9]*$/1/')"
check "no_log register: the censored message in the JSON events" 1 \
	"$(grep '"task":"show the whole value"' "$O/run.json.out" | grep -cF "\"censored\":\"$censored\"")"
check "no_log register: a loop's value is censored as a whole" 1 \
	"$(grep -cF "lr: {\"censored\":\"$censored\",\"changed\":true" "$O/run.vv.out")"
check "no_log register: the censored message in the check preview (markdown)" 1 \
	"$(grep -cF "sr: {\"censored\":\"$censored\"" "$O/check.markdown.out")"
check "no_log register: the censored message in the check preview (json)" 1 \
	"$(grep -cF '\"censored\":' "$O/check.json.out" | sed 's/^[1-9][0-9]*$/1/')"
check "no_log register: when on rc/failed/changed still works" 1 \
	"$(grep -cF 'verdict rc=1 failed=True changed=True' "$O/run.vv.out")"
check "no_log register: the value is still usable in a later command" 1 \
	"$(grep -A0 'the value is usable' "$O/run.json.out" | grep '"host_result"' | grep -c '"status":"changed"')"
check "no_log register: a registered debug of the value is journaled censored" 1 \
	"$(grep '"register":"shown"' "$J"/*.jsonl | grep -cF '"censored":' | sed 's/^[1-9][0-9]*$/1/')"
