#!/bin/sh
# Facts on lab nodes over SSH: a play that names no fact runs no command
# to gather (-vvv shows every command sent), one that names facts in
# several tasks gathers exactly once per host, with one command, and the
# facts are each node's own (its hostname).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP facts on lab nodes: needs root and /usr/sbin/sshd"
	exit 0
fi
L=$E2E_TMP/lab
trap 'tests/lab/lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
tests/lab/lab up --names n1,n2 --dir "$L" >"$E2E_TMP/lab.out" 2>&1 || {
	echo "not ok - lab up"
	tail -5 "$E2E_TMP/lab.out" | sed 's/^/    /'
	exit 1
}
inv=$E2E_TMP/inv.ini
for n in n1 n2; do
	addr=$(awk -v n=$n '$1 == n {print $2}' "$L/nodes")
	echo "$n ansible_host=$addr ansible_user=root ansible_ssh_private_key_file=$L/id_ed25519 kplan_known_hosts=$L/known_hosts"
done >"$inv"

cat >"$E2E_TMP/none.yml" <<'YML'
- hosts: all
  tasks:
    - debug: {msg: "{{ inventory_hostname }} uses no fact"}
    - debug: {msg: "{{ ansible_play_hosts | length }}"}
YML
"$KPLAN" run "$E2E_TMP/none.yml" -i "$inv" -vvv >"$E2E_TMP/none.out" 2>&1
check "no fact named: the run succeeds" 0 $?
check "no fact named: no gathering" 0 "$(grep -c 'gathering facts' "$E2E_TMP/none.out")"
check "no fact named: no command on any node" 0 "$(grep -c 'exec a command' "$E2E_TMP/none.out")"

cat >"$E2E_TMP/some.yml" <<'YML'
- hosts: all
  tasks:
    - debug: {msg: "{{ inventory_hostname }}={{ ansible_hostname }}"}
    - debug: {msg: "{{ ansible_facts.distribution }} {{ ansible_default_ipv4.address | default('') }}"}
    - debug: {msg: "{{ ansible_kernel }}"}
YML
"$KPLAN" run "$E2E_TMP/some.yml" -i "$inv" -vvv >"$E2E_TMP/some.out" 2>&1
check "facts named: the run succeeds" 0 $?
for n in n1 n2; do
	check "$n: gathered once" 1 "$(grep -c "debug: $n: gathering facts" "$E2E_TMP/some.out")"
	check "$n: one command" 1 "$(grep -c "ssh $n: .*exec a command" "$E2E_TMP/some.out")"
	want=$(ssh -F "$L/ssh_config" $n 'uname -n | cut -d. -f1')
	check "$n: its own hostname" "$n=$want" "$(grep -o "$n=[^ ]*" "$E2E_TMP/some.out" | head -n 1)"
done

# gather_facts: true gathers every host at the play's start, so each
# host reads the others' facts through hostvars
cat >"$E2E_TMP/all.yml" <<'YML'
- hosts: all
  gather_facts: true
  tasks:
    - debug: {msg: "{{ inventory_hostname }} sees {{ hostvars['n1'].ansible_hostname }},{{ hostvars['n2'].ansible_hostname }}"}
YML
"$KPLAN" run "$E2E_TMP/all.yml" -i "$inv" -vvv >"$E2E_TMP/all.out" 2>&1
check "gather_facts: true: the run succeeds" 0 $?
h1=$(ssh -F "$L/ssh_config" n1 'uname -n | cut -d. -f1')
h2=$(ssh -F "$L/ssh_config" n2 'uname -n | cut -d. -f1')
for n in n1 n2; do
	check "$n: gathered at the play's start" 1 "$(grep -c "debug: $n: gathering facts" "$E2E_TMP/all.out")"
	check "$n reads both hosts' facts" "$n sees $h1,$h2" "$(grep -o "$n sees [^ ]*" "$E2E_TMP/all.out" | head -n 1)"
done
