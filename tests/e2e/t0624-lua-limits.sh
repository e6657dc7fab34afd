#!/bin/sh
# Lua in hooks, steps and expressions stops within its limits, with
# file:line, whatever it does: an xpcall message handler that loops, a
# __gc finalizer, a backtracking pattern; and Ctrl-C or SIGTERM stop a
# step that loops, with exit 130 and the journal of an interrupted run.
. "$(dirname "$0")/lib.sh"
T=$E2E_TMP
cd "$T" || exit 1
printf 'h1 ansible_connection=local\n' >inv.ini

cat >expr.yml <<'EOF2'
- hosts: all
  vars:
    v: "{{ xpcall(error, function() while true do end end) }}"
  tasks:
    - debug: {msg: "{{ v }}"}
EOF2
timeout -k 5 30 "$KPLAN" validate expr.yml -i inv.ini >out 2>&1
check "validate: expressions are Jinja, Lua's xpcall is out of their reach (exit 2, at once)" 2 "$?"
check "validate names the expression" \
	"error: expr.yml:3:8: invalid template '{{ xpcall(error, function() while true do end end) }}': expected token ',', got 'while' (line 1, column 29)" \
	"$(head -n 1 out)"
timeout -k 5 30 "$KPLAN" plan expr.yml -i inv.ini >out 2>&1
check "the offline plan stops the same way" 2 "$?"

cat >steps.yml <<'EOF2'
- hosts: all
  hook_limits: {instructions: 200000}
  tasks:
    - name: handler
      lua:
        code: |
          local ok = xpcall(error, function() while true do end end)
          return {ok = ok}
      ignore_errors: true
    - name: finalizer
      lua:
        code: |
          setmetatable({}, {__gc = function() while true do end end})
          return {}
      ignore_errors: true
    - name: pattern
      lua:
        code: |
          local s = string.rep("a", 40)
          return {found = s:find(string.rep("a*", 40) .. "b")}
      ignore_errors: true
EOF2
timeout -k 5 60 "$KPLAN" run steps.yml -i inv.ini >out 2>&1
check "the steps end" 0 "$?"
grep -q '^  ignored: \[h1\] .*\[inline steps.yml:5\]:1: instruction limit exceeded (200000 instructions)' out
check "a looping xpcall handler is counted, with file:line" 0 $?
grep -q "^  ignored: \[h1\] .*\[inline steps.yml:11\]:1: setmetatable: a __gc finalizer is not allowed (finalizers run outside every limit)" out
check "a finalizer is refused, with file:line" 0 $?
grep -q '^  ignored: \[h1\] .*\[inline steps.yml:17\]:2: instruction limit exceeded (200000 instructions)' out
check "a backtracking pattern is counted, with file:line" 0 $?

cat >loop.yml <<EOF2
- hosts: all
  hook_limits: {instructions: 100000000000}
  tasks:
    - shell: touch $T/started
    - lua:
        code: |
          while true do end
    - shell: touch $T/never
EOF2
for sig in INT TERM; do
	rm -f started never
	rm -rf .kplan
	"$KPLAN" run loop.yml -i inv.ini >loop.out 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 100 ] && [ ! -f started ]; do sleep 0.1; i=$((i + 1)); done
	sleep 0.5
	kill -$sig $pid
	i=0
	while [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	if kill -0 $pid 2>/dev/null; then
		kill -9 $pid
		echo "not ok - SIG$sig stops a looping step (still running after 10s)"
		wait $pid
		continue
	fi
	wait $pid
	check "SIG$sig stops a looping step: exit 130" 130 "$?"
	check "no task starts after it" no "$(test -e never && echo yes || echo no)"
	check "the journal ends as an interrupted run" 130 \
		"$(tail -1 .kplan/runs/*.jsonl | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["exit_code"])')"
done
