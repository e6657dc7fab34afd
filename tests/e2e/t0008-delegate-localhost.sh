#!/bin/sh
# delegate_to: Ansible's implicit localhost and the load-time check of
# delegate_to. `delegate_to: localhost` (or 127.0.0.1) with no such
# inventory host runs on the controller over the local connection, in the
# context of the current host (its variables); the implicit host is in no
# group and no play's hosts. An inventory that defines localhost is used as
# it is. A literal delegate_to naming no host refuses the run before
# anything runs.
. "$(dirname "$0")/lib.sh"
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
J=$E2E_TMP/journal
p=$E2E_TMP/plan.yml
inv=$E2E_TMP/inv.yml
ctl=$E2E_TMP/controller

# web1 and web2 are unroutable (TEST-NET-1) over ssh: anything that ran
# there instead of on the controller would fail as unreachable
cat >"$inv" <<'INV'
all:
  vars:
    ansible_ssh_timeout: 2
  hosts:
    web1:
      ansible_host: 192.0.2.1
      node_label: first
    web2:
      ansible_host: 192.0.2.2
      node_label: second
INV
mkdir -p "$ctl"
cat >"$p" <<'PLAN'
- name: local steps
  hosts: all
  tasks:
    - name: write on the controller
      shell: "echo {{ inventory_hostname }} {{ node_label }} > {{ out_dir }}/{{ inventory_hostname }}"
      delegate_to: localhost
    - name: the IPv4 name
      command: "touch {{ out_dir }}/{{ inventory_hostname }}.v4"
      delegate_to: 127.0.0.1
- name: who is in the play
  hosts: all
  tasks:
    - name: groups
      debug: {msg: "{{ groups['all'] | join(',') }} {{ play_hosts | join(',') }}"}
      run_once: true
PLAN
run_kplan "$E2E_TMP/run" run "$p" -i "$inv" -e "out_dir=$ctl" --journal "$J" --format json
check "delegate_to: localhost without such a host: runs on the controller, exit 0" 0 "$rc"
check "delegate_to: localhost: the current host's variables are used" \
	"web1 first|web2 second" "$(cat "$ctl/web1" "$ctl/web2" | paste -sd'|')"
check "delegate_to: 127.0.0.1 is the implicit localhost too" "yes yes" \
	"$(for h in web1 web2; do test -e "$ctl/$h.v4" && echo yes || echo no; done | paste -sd' ')"
check "the results are the current hosts', delegated to localhost" \
	"web1=changed web2=changed" "$($ev statuses 'write on the controller' <"$E2E_TMP/run")"
check "the delegated_to field names the implicit host" "127.0.0.1 localhost" \
	"$(/usr/bin/python3 -c '
import json, sys
print(" ".join(sorted({e["delegated_to"] for e in map(json.loads, sys.stdin)
                       if e.get("event") == "host_result" and "delegated_to" in e})))' <"$E2E_TMP/run")"
check "the implicit localhost is not in all, play_hosts or the recap" \
	"web1,web2 web1,web2|web1 web2" \
	"$(/usr/bin/python3 -c '
import json, sys
evs = [json.loads(l) for l in sys.stdin]
msg = [e["msg"] for e in evs if e.get("event") == "host_result" and e["task"] == "groups"][0]
recap = [e for e in evs if e.get("event") == "recap"][0]
print(msg + "|" + " ".join(sorted(recap["hosts"])))' <"$E2E_TMP/run")"
expect_grep "--list-hosts: all holds web1 and web2 only" 0 \
	'^    hosts \(2\):$' "$KPLAN" run "$p" -i "$inv" --list-hosts

# check previews the delegated step on the controller as well
rm -f "$ctl"/*
run_kplan "$E2E_TMP/check" check "$p" -i "$inv" -e "out_dir=$ctl" --format json
check "check: delegate_to: localhost probes on the controller, exit 0" 0 "$rc"
check "check: nothing was written" "" "$(ls "$ctl")"

# an inventory that defines localhost: that host, as it is (here a
# connection that cannot be opened), and a member of all
cat >"$E2E_TMP/inv2.yml" <<'INV'
all:
  hosts:
    web1:
      ansible_connection: local
    localhost:
      ansible_host: 192.0.2.3
      ansible_ssh_timeout: 1
INV
cat >"$E2E_TMP/plan2.yml" <<PLAN
- name: p
  hosts: web1
  tasks:
    - name: delegated
      shell: touch $ctl/defined
      delegate_to: localhost
PLAN
run_kplan "$E2E_TMP/run2" run "$E2E_TMP/plan2.yml" -i "$E2E_TMP/inv2.yml" --journal "$J" --format json
check "an inventory's localhost is used as defined: its ssh connection, unreachable" \
	"3 web1=unreachable no" \
	"$rc $($ev statuses delegated <"$E2E_TMP/run2") $(test -e "$ctl/defined" && echo yes || echo no)"
expect_grep "an inventory's localhost is in all" 0 '^      localhost$' \
	"$KPLAN" run "$p" -i "$E2E_TMP/inv2.yml" --list-hosts

# a literal delegate_to naming no host: refused at load, nothing runs
rm -rf "$J"
cat >"$E2E_TMP/plan3.yml" <<PLAN
- name: p
  hosts: web1
  tasks:
    - name: first
      shell: touch $ctl/ran
    - name: elsewhere
      shell: "true"
      delegate_to: nosuchhost
PLAN
for cmd in validate plan check run; do
	expect_stderr "$cmd: delegate_to naming no host is a load error, exit 2" 2 \
		"error: $E2E_TMP/plan3.yml:8:20: delegate_to: no host 'nosuchhost' in the inventory" \
		"$KPLAN" $cmd "$E2E_TMP/plan3.yml" -i "$E2E_TMP/inv2.yml"
done
expect_stderr "run --journal: the same, before the journal" 2 \
	"error: $E2E_TMP/plan3.yml:8:20: delegate_to: no host 'nosuchhost' in the inventory" \
	"$KPLAN" run "$E2E_TMP/plan3.yml" -i "$E2E_TMP/inv2.yml" --journal "$J"
check "delegate_to naming no host: the task before it never ran, no journal" "no 0" \
	"$(test -e "$ctl/ran" && echo yes || echo no) $(find "$J" -type f 2>/dev/null | wc -l)"
