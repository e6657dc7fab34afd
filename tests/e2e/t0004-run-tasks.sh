#!/bin/sh
# transports: local ssh
# Task semantics on the local connection: block/rescue/always, handlers,
# until/retries, loop with register, no_log, timeouts and output caps.
. "$(dirname "$0")/lib.sh"
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
inv=$E2E_TMP/inv.ini
setup_nodes "$inv" 3
p=$E2E_TMP/plan.yml

cat >"$p" <<'PLAN'
- name: blocks
  hosts: nodes
  tasks:
    - name: guarded
      block:
        - shell: echo block-1 >> order
        - shell: "echo block-2 >> order; test {{ inventory_hostname }} != h2"
        - shell: echo block-3 >> order
      rescue:
        - shell: "echo rescue:{{ kplan.failed_task }}:{{ kplan.failed_result.rc }} >> order"
      always:
        - shell: echo always >> order
    - name: after
      shell: echo after >> order
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
check "block/rescue/always: a rescued host counts as ok, exit 0" 0 "$rc"
check "block/rescue/always: order on a host whose block passed" "block-1 block-2 block-3 always after" \
	"$(node_cat h1 order | paste -sd' ')"
check "block/rescue/always: order on the host whose block failed, with failed_task and failed_result" \
	"block-1 block-2 rescue:shell:1 always after" "$(node_cat h2 order | paste -sd' ')"
check "recap counts the rescue" "h2 : ok=4   changed=4   unreachable=0   failed=0   skipped=0   rescued=1   ignored=0" \
	"$(grep '^h2 ' "$E2E_TMP/out" | sed 's/ *$//')"

cat >"$p" <<'PLAN'
- name: handlers
  hosts: nodes
  tasks:
    - name: change on h1 only
      shell: "echo x > changed"
      changed_when: inventory_hostname == 'h1'
      notify: [restart thing, log it]
    - name: change again on h1
      shell: "true"
      changed_when: inventory_hostname == 'h1'
      notify: restart thing
  handlers:
    - name: log it
      shell: echo logged >> handlers
    - name: restart thing
      shell: echo restarted >> handlers
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
check "handlers: exit code" 0 "$rc"
check "handlers: run once, in the order they are defined, on the changed host" "logged restarted" \
	"$(node_cat h1 handlers | paste -sd' ')"
check "handlers: not on hosts that did not change" "no" "$(node_sh h2 'test -e handlers' && echo yes || echo no)"

cat >"$p" <<'PLAN'
- name: until
  hosts: nodes[0]
  tasks:
    - name: count to three
      shell: "echo x >> count; wc -l < count"
      register: r
      until: r.stdout | int >= 3
      retries: 5
      delay: 0
    - name: give up
      shell: "echo y >> tries; exit 1"
      register: g
      until: g.rc == 0
      retries: 2
      delay: 0
      ignore_errors: true
    - name: show
      debug:
        msg: "{{ r.attempts }} {{ g.attempts }} {{ g.failed }}"
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "until: stops as soon as the condition holds (3 attempts)" 3 "$(node_cat h1 count | wc -l)"
check "until: retries 2 means 3 attempts in all, then fails" 3 "$(node_cat h1 tries | wc -l)"
check "until: attempts are registered" '"3 3 True"' \
	"$(grep '"host_result".*"task":"show"' "$E2E_TMP/out" | sed 's/.*"msg":\("[^"]*"\).*/\1/')"

cat >"$p" <<'PLAN'
- name: loop
  hosts: nodes[0]
  tasks:
    - name: each
      shell: "echo {{ item.n }} >> items; echo {{ item.n * 10 }}"
      loop: [{n: 1}, {n: 2}, {n: 3}]
      loop_control: {label: "{{ item.n }}", index_var: i}
      register: each
    - name: results
      debug:
        msg: "{{ each.results | length }}:{{ each.results[1].stdout }}:{{ each.results[2].item.n }}:{{ each.changed }}"
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "loop: ran once per item in order" "1 2 3" "$(node_cat h1 items | paste -sd' ')"
check "loop + register: a results list with each item's result" '"3:20:3:True"' \
	"$(grep '"host_result".*"task":"results"' "$E2E_TMP/out" | sed 's/.*"msg":\("[^"]*"\).*/\1/')"
check "loop: the label names each item" "1 2 3" \
	"$(grep '"task":"each"' "$E2E_TMP/out" | grep -o '"item":"[0-9]"' | grep -o '[0-9]' | paste -sd' ')"

cat >"$p" <<'PLAN'
- name: secrets
  hosts: nodes[0]
  vars:
    token: "s3cr3t-t0ken"
  tasks:
    - name: use the secret
      shell: "echo {{ token }}; echo {{ token }} >&2"
      no_log: true
      register: s
    - name: fail with the secret
      shell: "echo {{ token }}; exit 3"
      no_log: true
      ignore_errors: true
    - name: the registered value is still usable
      shell: "test {{ s.stdout | length }} -eq 12"
PLAN
for fmt in text json; do
	run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format $fmt -vvv
	check "no_log ($fmt, -vvv): the run works" 0 "$rc"
	check "no_log ($fmt, -vvv): the secret appears nowhere in the output" 0 \
		"$(cat "$E2E_TMP/out" "$E2E_TMP/out.err" | grep -c s3cr3t)"
	check "no_log ($fmt, -vvv): results say they are hidden" 2 \
		"$(grep -c 'hidden by no_log' "$E2E_TMP/out")"
done

# async with poll: 0: the job waits for a file the next task creates, so
# it can only finish if it runs in the background; async_status waits
cat >"$p" <<'PLAN'
- name: async
  hosts: nodes[0]
  environment: {HOME: "{{ node_dir }}"}
  tasks:
    - name: job
      shell: "while [ ! -f go ]; do sleep 0.1; done; echo job >> async-order; echo done"
      async: 120
      poll: 0
      register: job
    - name: next
      shell: "echo next >> async-order; touch go"
    - name: wait
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: st
      until: st.finished
      retries: 1200
      delay: 0.1
    - name: show
      debug: {msg: "{{ st.rc }} {{ st.stdout }}"}
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "async poll 0: the job ran in the background, after the next task" "0 next job" \
	"$rc $(node_cat h1 async-order | paste -sd' ')"
check "async poll 0: async_status reports its end" '"0 done"' \
	"$(grep '"host_result".*"task":"show"' "$E2E_TMP/out" | sed 's/.*"msg":\("[^"]*"\).*/\1/')"
check "async poll 0: the job's files in the node's HOME" 1 "$(node_sh h1 'ls .kplan_async | grep -c rc$')"

cat >"$p" <<'PLAN'
- name: limits
  hosts: nodes[0]
  tasks:
    - name: slow
      shell: "sleep 30 & echo $! > bgpid; sleep 30"
      timeout: 1s
      ignore_errors: true
    - name: loud
      shell: "head -c 6000000 /dev/zero | tr '\\0' x"
      register: loud
    - name: size
      debug:
        msg: "{{ loud.stdout | length }}"
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "timeout: the host's task fails with a message saying so" \
	'"command timed out after 1s (killed with its children)"' \
	"$(grep '"host_result".*"task":"slow"' "$E2E_TMP/out" | sed 's/.*"msg":\("[^"]*"\).*/\1/')"
sleep 0.5
# killed means gone or a zombie (this machine's init may not reap orphans)
bg=$(node_cat h1 bgpid)
check "timeout: the command's children were killed too" "gone" \
	"$(node_sh h1 "grep -q '^State:.*[^Z] (' /proc/$bg/status 2>/dev/null" && echo alive || echo gone)"
check "output beyond the 4 MiB cap is cut with a marker" \
	"$((4 * 1024 * 1024 + $(printf '\n[kplan: output truncated: more than 4194304 bytes]\n' | wc -c) - 1))" \
	"$(grep '"host_result".*"task":"size"' "$E2E_TMP/out" | sed 's/.*"msg":"\([0-9]*\)".*/\1/')"
