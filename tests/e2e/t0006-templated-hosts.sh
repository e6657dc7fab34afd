#!/bin/sh
# A templated `hosts:` ("{{ node }}") is rendered once with the extra vars
# and the play's vars, before any host is known, and every command works on
# the rendered hosts: --list-hosts, plan, check and run target exactly that
# host; an undefined variable there stops everything before any host is
# touched.
. "$(dirname "$0")/lib.sh"
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
inv=$E2E_TMP/inv.ini
setup_nodes "$inv" 3
p=$E2E_TMP/plan.yml

cat >"$p" <<'PLAN'
- name: one node
  hosts: "{{ node }}"
  tasks:
    - name: mark
      shell: echo "{{ inventory_hostname }}" > marked
      args: {creates: marked}
- name: through a play var
  hosts: "{{ target }}"
  vars:
    target: "{{ node }}:h3"
  tasks:
    - name: count
      shell: echo x >> counted
PLAN
marks() { # which hosts have FILE, as "h1 h3"
	for h in h1 h2 h3; do
		node_sh $h "[ -f '$1' ]" && printf '%s ' $h
	done | sed 's/ $//'
}

# --list-hosts: exactly the rendered hosts
"$KPLAN" run "$p" -i "$inv" -e node=h2 --list-hosts >"$E2E_TMP/list" 2>&1
check "--list-hosts: exit 0" 0 "$?"
check "--list-hosts: play 1 is h2 only" "h2" \
	"$(sed -n '/play #1/,/play #2/p' "$E2E_TMP/list" | sed -n 's/^      //p' | paste -sd' ')"
check "--list-hosts: play 2 is h2 and h3" "h2 h3" \
	"$(sed -n '/play #2/,$p' "$E2E_TMP/list" | sed -n 's/^      //p' | paste -sd' ')"
check "--list-hosts: the rendered pattern is shown" 1 "$(grep -c '^    pattern: h2$' "$E2E_TMP/list")"

# plan (offline) and check agree with it
"$KPLAN" plan "$p" -i "$inv" -e node=h2 --no-color >"$E2E_TMP/plan" 2>&1
check "plan: exit 0" 0 "$?"
check "plan: the batches are [h2] then [h2, h3]" "BATCH 1/1 [h2] BATCH 1/1 [h2, h3]" \
	"$(sed -n 's/^  \(BATCH .*\)/\1/p' "$E2E_TMP/plan" | paste -sd' ')"
"$KPLAN" check "$p" -i "$inv" -e node=h2 --format json >"$E2E_TMP/check" 2>"$E2E_TMP/check.err"
check "check: exit 0" 0 "$?"
check "check: 'mark' only on h2" "h2=changed" "$($ev statuses mark <"$E2E_TMP/check" | paste -sd' ')"
check "check: 'count' on h2 and h3" "h2=changed h3=changed" \
	"$($ev statuses count <"$E2E_TMP/check" | paste -sd' ')"
check "check: nothing was touched" "" "$(marks marked)"

# run: exactly the rendered hosts
"$KPLAN" run "$p" -i "$inv" -e node=h2 --format json >"$E2E_TMP/run" 2>"$E2E_TMP/run.err"
check "run: exit 0" 0 "$?"
check "run: the batches are [h2] then [h2, h3]" "h2|h2 h3" "$($ev batches <"$E2E_TMP/run" | paste -sd'|')"
check "run: only h2 was marked" "h2" "$(marks marked)"
check "run: h2 and h3 were counted" "h2 h3" "$(marks counted)"
check "run: h2 marked itself" "h2" "$(node_cat h2 marked)"

# -e @file works the same; another node
printf 'node: h1\n' >"$E2E_TMP/vars.yml"
"$KPLAN" run "$p" -i "$inv" -e @"$E2E_TMP/vars.yml" --no-color >"$E2E_TMP/run2" 2>&1
check "run -e @file: exit 0" 0 "$?"
check "run -e @file: h1 now marked too" "h1 h2" "$(marks marked)"
check "run -e @file: the play header names the rendered pattern" 1 \
	"$(grep -c '^PLAY 1/2 \[one node\] hosts: h1 (1 host)$' "$E2E_TMP/run2")"

# no node given: a load-time error naming the variable, nothing runs
for h in h1 h2 h3; do node_sh $h "rm -f counted"; done
"$KPLAN" run "$p" -i "$inv" >"$E2E_TMP/run3" 2>"$E2E_TMP/run3.err"
check "undefined: exit 2" 2 "$?"
check "undefined: the error names the file, position, variable and play" \
	"error: $p:2:10: undefined variable 'node' (in 'hosts' of play 'one node')" \
	"$(cat "$E2E_TMP/run3.err")"
check "undefined: nothing ran" "" "$(cat "$E2E_TMP/run3")$(marks counted)"
