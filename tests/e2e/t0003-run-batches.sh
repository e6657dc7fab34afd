#!/bin/sh
# transports: local ssh
# Running plans on the local connection: batch sizes and order, the sliding
# window, failure thresholds, any_errors_fatal, run_once, delegate_to.
. "$(dirname "$0")/lib.sh"
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
inv=$E2E_TMP/inv.ini
setup_nodes "$inv" 7
p=$E2E_TMP/plan.yml

cat >"$p" <<'PLAN'
- name: rolling
  hosts: nodes
  serial: [1, 2, "50%"]
  tasks:
    - name: mark
      command: touch marked
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "serial [1, 2, 50%] on 7 hosts: exit code" 0 "$rc"
check "serial [1, 2, 50%] on 7 hosts: batches of 1, 2, 3, 1 in inventory order" \
	"h1|h2 h3|h4 h5 h6|h7" "$($ev batches <"$E2E_TMP/out" | paste -sd'|')"
marked=0
for h in h1 h2 h3 h4 h5 h6 h7; do node_sh $h "test -e marked" && marked=$((marked + 1)); done
check "the command ran in each host's working directory" 7 "$marked"
check "the JSON event stream validates against tests/schema/events.schema.json" "valid: 23 events" \
	"$($ev validate tests/schema/events.schema.json <"$E2E_TMP/out" 2>&1)"

cat >"$p" <<'PLAN'
- name: sliding
  hosts: nodes
  window: 2
  tasks:
    - name: begin
      command: "true"
    - name: work
      command: sleep 0.3
    - name: end
      command: "true"
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json -f 10
check "window 2: exit code" 0 "$rc"
check "window 2: at most and at least two hosts in flight" 2 "$($ev maxflight begin end <"$E2E_TMP/out")"
check "window 2: every host ran" "h1=changed h2=changed h3=changed h4=changed h5=changed h6=changed h7=changed" "$($ev statuses end <"$E2E_TMP/out")"

cat >"$p" <<'PLAN'
- name: threshold
  hosts: nodes[0:5]
  serial: 2
  max_fail_percentage: 49
  tasks:
    - name: maybe fail
      command: "false"
      when: inventory_hostname == 'h3'
    - name: after
      command: "true"
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "max_fail_percentage 49 with 1 of 2 failed: stopped, exit 4" 4 "$rc"
check "max_fail_percentage: the third batch never starts" "h1 h2|h3 h4" "$($ev batches <"$E2E_TMP/out" | paste -sd'|')"
check "max_fail_percentage: the play stops after the task, before its batch mate goes on" \
	"" "$($ev statuses after <"$E2E_TMP/out" | grep -o 'h4=[a-z]*')"
sed -i 's/max_fail_percentage: 49/max_fail_percentage: 50/' "$p"
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "max_fail_percentage 50 with 1 of 2 failed: not exceeded, all batches run, exit 1" 1 "$rc"
check "max_fail_percentage 50: three batches" "h1 h2|h3 h4|h5 h6" "$($ev batches <"$E2E_TMP/out" | paste -sd'|')"
check "max_fail_percentage 50: the failed host drops out, the others go on" \
	"h1=changed h2=changed h4=changed h5=changed h6=changed" "$($ev statuses after <"$E2E_TMP/out")"

cat >"$p" <<'PLAN'
- name: fatal
  hosts: nodes[0:2]
  any_errors_fatal: true
  tasks:
    - name: one fails
      command: "false"
      when: inventory_hostname == 'h2'
    - name: never
      command: "true"
- name: second play never starts
  hosts: nodes
  tasks:
    - name: nope
      command: "true"
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "any_errors_fatal: exit 4" 4 "$rc"
check "any_errors_fatal: no host runs the next task" "" "$($ev statuses never <"$E2E_TMP/out")"
check "any_errors_fatal: no later play" "" "$($ev statuses nope <"$E2E_TMP/out")"

cat >"$p" <<'PLAN'
- name: once
  hosts: nodes
  serial: 3
  tasks:
    - name: once per batch
      shell: "echo {{ inventory_hostname }} >> once.log"
      run_once: true
      register: once
    - name: everyone sees the result
      shell: "echo {{ once.rc }} > saw-once"
    - name: delegated
      shell: "pwd > from-{{ inventory_hostname }}"
      delegate_to: h7
      when: inventory_hostname == 'h2'
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
check "run_once: exit code" 0 "$rc"
ran=""
saw=0
for h in h1 h2 h3 h4 h5 h6 h7; do
	node_sh $h "test -e once.log" && ran="$ran $h:$(node_cat $h once.log)"
	[ "$(node_cat $h saw-once)" = 0 ] && saw=$((saw + 1))
done
check "run_once: once per batch, on the batch's first host" " h1:h1 h4:h4 h7:h7" "$ran"
check "run_once: every host of the batch registered the result" 7 "$saw"
check "delegate_to: ran on h7 with h7's connection, in h7's working directory" "$(node_dir_of h7)" \
	"$(node_cat h7 from-h2)"
check "delegate_to: nothing ran on h2 itself" "no" "$(node_sh h2 'test -e from-h2' && echo yes || echo no)"
