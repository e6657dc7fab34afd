#!/bin/sh
# transports: local ssh
# Lua hooks and custom steps: the order of every hook point across a
# two-batch run, a before_batch stop (exit 4, reason in the recap), a
# before_host failure of one host, kplan.run, set_var/get_var seen by a
# later template, a registered `lua` step used in `when`, check mode with
# read-only and other steps, a runaway hook stopped with its file:line,
# the sandbox's refusals (os.execute, io.open, require, bytecode) and limits
# (a loop, a 1 GB string) at a host and a batch point,
# and kplan.kube against the fake API server (when python3 and openssl
# are there).
. "$(dirname "$0")/lib.sh"
inv=$E2E_TMP/inv.ini
setup_nodes "$inv" 2
p=$E2E_TMP/plan.yml
mkdir -p "$E2E_TMP/hooks"
cp tests/data/hooks/*.lua "$E2E_TMP/hooks/"
H=$E2E_TMP/hooks
notes() { grep '^hook: ' "$E2E_TMP/out" | paste -sd'|' -; }

# --- order --------------------------------------------------------------
cat >"$p" <<'PLAN'
- name: order
  hosts: nodes
  serial: 1
  max_fail_percentage: 100
  hooks:
    before_play: hooks/log.lua
    before_batch: hooks/log.lua
    before_host: hooks/log.lua
    before_task: hooks/log.lua
    after_task: [hooks/log.lua, {lua: "kplan.log('second after_task')"}]
    after_host: hooks/log.lua
    after_batch: hooks/log.lua
    after_play: hooks/log.lua
    on_failure: hooks/log.lua
  tasks:
    - name: t1
      shell: "test {{ inventory_hostname }} != h2"
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
check "order: exit code (h2 fails its task)" 1 "$rc"
check "order: every hook point, in order, around tasks and batches" \
	"hook: before_play|hook: before_batch b1|hook: h1: before_host b1 h1|hook: h1: before_task b1 h1 t1|hook: h1: after_task b1 h1 t1 rc=0|hook: h1: second after_task|hook: h1: after_host b1 h1|hook: after_batch b1|hook: before_batch b2|hook: h2: before_host b2 h2|hook: h2: before_task b2 h2 t1|hook: h2: after_task b2 h2 t1 rc=1|hook: h2: second after_task|hook: h2: on_failure b2 h2 t1 rc=1|hook: h2: after_host b2 h2|hook: after_batch b2|hook: after_play" \
	"$(notes)"

# --- a failing before_batch stops the rollout before that batch -----------
cat >"$p" <<'PLAN'
- name: stop
  hosts: nodes
  serial: 1
  hooks:
    before_batch: hooks/no-second-batch.lua
  tasks:
    - shell: echo ran > ran
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
check "before_batch stop: exit 4" 4 "$rc"
check "before_batch stop: the reason names the hook file and line" \
	"stopped: before_batch hook failed before batch 2/2: $H/no-second-batch.lua:4: no second batch today" \
	"$(grep '^stopped:' "$E2E_TMP/out")"
check "before_batch stop: batch 1 ran, batch 2 did not" "yes no" \
	"$(node_sh h1 'test -e ran' && echo yes || echo no) $(node_sh h2 'test -e ran' && echo yes || echo no)"
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --format json
check "before_batch stop: run_end carries the reason" \
	"4 stopped: before_batch hook failed before batch 2/2: $H/no-second-batch.lua:4: no second batch today" \
	"$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "run_end": print(e.get("exit_code"), e.get("reason"))' "$E2E_TMP/out")"
node_sh h1 'rm -f ran'

# --- a failing before_host fails just that host ----------------------------
cat >"$p" <<'PLAN'
- name: host
  hosts: nodes
  hooks:
    before_host: hooks/not-h2.lua
  tasks:
    - shell: echo ran > ran
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
check "before_host failure: exit 1" 1 "$rc"
check "before_host failure: h2 failed with the hook's message" \
	"failed: [h2] before_host hook failed: $H/not-h2.lua:4: h2 is in maintenance" \
	"$(grep 'failed: \[h2\]' "$E2E_TMP/out" | sed 's/^ *//; s/ [0-9.]*s / /')"
check "before_host failure: h1 ran, h2 did not" "yes no" \
	"$(node_sh h1 'test -e ran' && echo yes || echo no) $(node_sh h2 'test -e ran' && echo yes || echo no)"

# --- kplan.run, set_var/get_var, a registered lua step in when -------------
node_sh h1 'echo m1 > marker'
node_sh h2 'echo m2 > marker'
cat >"$p" <<'PLAN'
- name: api
  hosts: nodes
  hooks:
    before_host:
      lua: |
        local rc, out, err = kplan.run(ctx.host, "cat marker; echo oops >&2; exit 3")
        kplan.log("run:", rc, (out:gsub("\n", "")), (err:gsub("\n", "")))
        kplan.set_var(nil, "from_hook", {marker = out:gsub("\n", ""), n = 2})
  tasks:
    - name: step
      lua:
        script: hooks/step-uptime.lua
        args: {file: marker}
      register: st
    - name: read back
      lua:
        code: |
          local v = kplan.get_var(nil, "from_hook")
          return {changed = false, both = v.marker .. "/" .. v.n}
      register: rb
    - name: uses them
      shell: "echo '{{ from_hook.marker }} {{ st.marker }} {{ rb.both }}' > seen"
      when: st.seen and st.marker == 'm1'
PLAN
run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --forks 1
check "kplan.run: exit 0" 0 "$rc"
check "kplan.run: rc, stdout and stderr" "hook: h1: run: 3 m1 oops|hook: h2: run: 3 m2 oops" "$(notes)"
check "set_var/get_var and a registered step in a later template" "m1 m1 m1/2" "$(node_cat h1 seen)"
check "a registered step's facts drive when" "no" "$(node_sh h2 'test -e seen' && echo yes || echo no)"

# --- check mode -----------------------------------------------------------
cat >"$p" <<'PLAN'
- name: check
  hosts: nodes
  tasks:
    - name: acting
      lua:
        code: |
          kplan.run(ctx.host, "touch acted")
          return {changed = true}
    - name: reading
      lua:
        code: |
          kplan.readonly()
          local rc, out = kplan.run(ctx.host, "cat marker")
          return {changed = false, marker = out:gsub("\n", "")}
      register: r
    - name: show
      debug: msg="read {{ r.marker }}"
PLAN
run_kplan "$E2E_TMP/out" check "$p" -i "$inv" -l h1
check "check mode: exit 0" 0 "$rc"
check "check mode: the step that is not read-only is skipped, saying why" \
	"skipped: [h1] [inline plan.yml:5]:1: not run in check mode: it calls kplan.run without declaring itself read-only (kplan.readonly() at its top)" \
	"$(grep 'skipped: \[h1\]' "$E2E_TMP/out" | sed 's/^ *//; s/ [0-9.]*s / /')"
check "check mode: it did not act" "no" "$(node_sh h1 'test -e acted' && echo yes || echo no)"
check "check mode: the read-only step ran" "read m1" "$(grep -o 'read m1' "$E2E_TMP/out")"

# --- a runaway hook -----------------------------------------------------------
cat >"$p" <<'PLAN'
- name: runaway
  hosts: nodes
  hooks:
    after_host: hooks/runaway.lua
  tasks:
    - shell: "true"
PLAN
t0=$(date +%s)
run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
t1=$(date +%s)
check "runaway: the host fails" 1 "$rc"
check "runaway: stopped with the file and line" \
	"failed: [h1] after_host hook failed: $H/runaway.lua:3: instruction limit exceeded (10000000 instructions)" \
	"$(grep 'failed: \[h1\]' "$E2E_TMP/out" | sed 's/^ *//; s/ [0-9.]*s / /')"
# a hang guard, not a timing margin: the instruction limit, not a clock,
# stopped it (the message above); a loaded machine may take seconds
check "runaway: ends by itself" yes "$([ $((t1 - t0)) -le 60 ] && echo yes || echo no)"

# --- the sandbox's refusals and limits, at a host point and a batch point ---
# Each bad hook fails h1 only as a before_host hook (h2 goes on: exit 1) and
# stops the rollout as a before_batch hook (exit 4, nothing ran); each
# with its file:line. The limits, not a clock, stop them (the messages);
# the wall time is only a hang guard, generous for a loaded machine.
sandbox_case() { # NAME LUA MESSAGE
	printf '%s\n%s\n%s\n' "-- $1: refused or stopped on line 3" \
		"if ctx.host and ctx.host ~= 'h1' then return end" "$2" >"$H/bad-$1.lua"
	for point in before_host before_batch; do
		cat >"$p" <<PLAN
- name: sandbox
  hosts: nodes
  serial: 1
  max_fail_percentage: 100
  hooks:
    $point: hooks/bad-$1.lua
  tasks:
    - shell: echo ran > sandbox-ran
PLAN
		node_sh h1 'rm -f sandbox-ran'
		node_sh h2 'rm -f sandbox-ran'
		t0=$(date +%s%N)
		run_kplan "$E2E_TMP/out" run "$p" -i "$inv"
		t1=$(date +%s%N)
		ran="$(node_sh h1 'test -e sandbox-ran' && echo yes || echo no) $(node_sh h2 'test -e sandbox-ran' && echo yes || echo no)"
		if [ $point = before_host ]; then
			line=$(grep 'failed: \[h1\]' "$E2E_TMP/out" | sed 's/^ *//')
			check "sandbox $1, before_host: h1 fails with file:line, h2 goes on" \
				"1 failed: [h1] before_host hook failed: $H/bad-$1.lua:3: $3 / no yes" \
				"$rc $(echo "$line" | sed 's/ [0-9.]*s / /') / $ran"
			check "sandbox $1, before_host: the whole run ends by itself" yes \
				"$(awk -v d=$((t1 - t0)) 'BEGIN { print (d < 30e9) ? "yes" : "no: " d / 1e9 "s" }')"
		else
			check "sandbox $1, before_batch: the rollout stops, with file:line, nothing ran" \
				"4 stopped: before_batch hook failed before batch 1/2: $H/bad-$1.lua:3: $3 / no no" \
				"$rc $(grep '^stopped:' "$E2E_TMP/out") / $ran"
			check "sandbox $1, before_batch: the whole run ends by itself" yes \
				"$(awk -v d=$((t1 - t0)) 'BEGIN { print (d < 30e9) ? "yes" : "no: " d / 1e9 "s" }')"
		fi
	done
}
sandbox_case os-execute "os.execute('touch pwned')" \
	"os.execute is not available in kplan's Lua sandbox (only os.time, os.clock and os.date; run commands on a host with kplan.run)"
sandbox_case io-open "local f = io.open('/etc/passwd')" \
	"io.open is not available in kplan's Lua sandbox (hooks cannot reach the controller's files or programs; use kplan.run on a host)"
sandbox_case require "local socket = require('socket')" \
	"require is not available in kplan's Lua sandbox (hooks are single files)"
sandbox_case bytecode "local f = load('\\27Lua\\84\\0\\25\\147')" \
	"load: bytecode is not allowed in kplan's Lua sandbox (load Lua source text)"
sandbox_case loop "while true do end" \
	"instruction limit exceeded (10000000 instructions)"
sandbox_case 1gb "local s = string.rep('x', 1 << 30)" \
	"memory limit exceeded (64 MiB)"
check "sandbox: os.execute did nothing on the controller" no \
	"$(test -e pwned || test -e "$E2E_TMP/pwned" && echo yes || echo no)"

# --- kplan.kube ----------------------------------------------------------------
if command -v openssl >/dev/null && [ -x /usr/bin/python3 ]; then
	k=$E2E_TMP/kube
	mkdir -p "$k"
	sh tests/data/kube/mkcerts.sh "$k"
	cat >"$k/state.json" <<'JSON'
{"pdbs": [{"metadata": {"name": "web", "namespace": "default"}, "status": {"disruptionsAllowed": 0}}]}
JSON
	/usr/bin/python3 tests/data/kube/fake_apiserver.py "$k/state.json" "$k/log" "$k/port" "$k" &
	server=$!
	i=0
	while [ ! -s "$k/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	cat >"$k/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$(cat "$k/port")
    certificate-authority-data: $(cat "$k/ca.crt.b64")
contexts:
- name: test
  context: {cluster: test, user: admin}
users:
- name: admin
  user:
    client-certificate-data: $(cat "$k/client.crt.b64")
    client-key-data: $(cat "$k/client.key.b64")
EOF
	cat >"$p" <<'PLAN'
- name: pdb
  hosts: nodes
  serial: 1
  hooks:
    before_batch: hooks/pdb.lua
  tasks:
    - shell: echo ran > pdb-ran
PLAN
	run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --kubeconfig "$k/kubeconfig"
	check "kplan.kube: a zero-disruption budget stops the rollout" 4 "$rc"
	check "kplan.kube: the reason" \
		"stopped: before_batch hook failed before batch 1/2: $H/pdb.lua:9: PodDisruptionBudget web allows no disruption" \
		"$(grep '^stopped:' "$E2E_TMP/out")"
	kill "$server"
	wait "$server" 2>/dev/null
	echo '{"pdbs": [{"metadata": {"name": "web", "namespace": "default"}, "status": {"disruptionsAllowed": 1}}]}' >"$k/state.json"
	rm -f "$k/port"
	/usr/bin/python3 tests/data/kube/fake_apiserver.py "$k/state.json" "$k/log" "$k/port" "$k" &
	server=$!
	i=0
	while [ ! -s "$k/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	sed -i "s#server: https://127.0.0.1:.*#server: https://127.0.0.1:$(cat "$k/port")#" "$k/kubeconfig"
	run_kplan "$E2E_TMP/out" run "$p" -i "$inv" --kubeconfig "$k/kubeconfig"
	check "kplan.kube: budgets that allow a disruption let it run" 0 "$rc"
	check "kplan.kube: the decoded answer" "hook: budgets ok: 1|hook: budgets ok: 1" "$(notes)"
	kill "$server"
	wait "$server" 2>/dev/null
else
	echo "ok - kplan.kube # SKIP needs openssl and python3"
fi
