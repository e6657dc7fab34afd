#!/bin/sh
# apt and dpkg_selections on a lab node, with real apt-get and dpkg against
# a repository this script builds (kp-alpha 1.0-1, 1.1-1, 2.0-1; kp-beta
# depends on kp-alpha; kp-gamma recommends kp-delta). Every step is one
# run; a step reports `changed` exactly when the node's package states
# (dpkg-query) differ before and after it, check mode changes nothing, and
# versions land where the pin or apt's own candidate says.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP apt on lab nodes: needs root and /usr/sbin/sshd"
	exit 0
fi
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
repo=$E2E_TMP/repo
mkdir -p "$repo" "$E2E_TMP/build"
pkg() { # NAME VERSION [CONTROL-LINE]
	r=$E2E_TMP/build/$1_$2
	mkdir -p "$r/DEBIAN" "$r/usr/share/kp-test"
	echo "$1 $2" >"$r/usr/share/kp-test/$1"
	{
		echo "Package: $1"
		echo "Version: $2"
		echo "Architecture: all"
		echo "Maintainer: kplan tests <root@localhost>"
		[ -z "${3:-}" ] || echo "$3"
		echo "Description: kplan's apt test package $1"
	} >"$r/DEBIAN/control"
	dpkg-deb --root-owner-group -Zgzip -z1 --build "$r" "$repo/$1_$2_all.deb" >/dev/null
}
pkg kp-alpha 1.0-1
pkg kp-alpha 1.1-1
pkg kp-alpha 2.0-1
pkg kp-beta 1.0-1 "Depends: kp-alpha"
pkg kp-gamma 1.0-1 "Recommends: kp-delta"
pkg kp-delta 1.0-1
pkg kp-local 3.0-1
mv "$repo/kp-local_3.0-1_all.deb" "$E2E_TMP/kp-local.deb"
(cd "$repo" && apt-ftparchive packages . >Packages 2>/dev/null && apt-ftparchive release . >Release 2>/dev/null)

L=$E2E_TMP/lab
trap 'tests/lab/lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
tests/lab/lab up --names n1 --dir "$L" >"$E2E_TMP/lab.out" 2>&1 || {
	echo "not ok - lab up"
	tail -5 "$E2E_TMP/lab.out" | sed 's/^/    /'
	exit 1
}
on() { ssh -F "$L/ssh_config" n1 "$@"; }
# apt in the node reads only this repository (the node's overlay only)
on "rm -f /etc/apt/sources.list.d/*; : >/etc/apt/sources.list;
	echo 'deb [trusted=yes] file:$repo ./' >/etc/apt/sources.list.d/kp-test.list;
	printf 'APT::Sandbox::User \"root\";\nAcquire::Languages \"none\";\n' >/etc/apt/apt.conf.d/99kp-test;
	rm -rf /var/lib/apt/lists/*; mkdir -p /var/lib/apt/lists/partial;
	apt-get update -q >/dev/null 2>&1 && test -f $repo/Packages" || {
	echo "not ok - the node's apt cannot read $repo"
	exit 1
}
on "cp /dev/stdin /root/kp-local.deb" <"$E2E_TMP/kp-local.deb"
addr=$(awk '$1 == "n1" {print $2}' "$L/nodes")
inv=$E2E_TMP/inv.ini
echo "n1 ansible_host=$addr ansible_user=root ansible_ssh_private_key_file=$L/id_ed25519 kplan_known_hosts=$L/known_hosts" >"$inv"

state() { on "dpkg-query -W -f '\${binary:Package} \${Version} \${db:Status-Abbrev}\n' | sort"; }
# the installed version of a package, "" when it is not installed
ver() { on "dpkg-query -W -f '\${db:Status-Abbrev}\${Version}' $1 2>/dev/null | sed -n 's/^.i.//p'"; }

# step NAME MODULE-LINE [RUN-OPTIONS]: one task as a run; sets st (status)
step() {
	name=$1 task=$2
	shift 2
	printf -- '- name: p\n  hosts: n1\n  tasks:\n    - name: t\n      %s\n' "$task" >"$E2E_TMP/p.yml"
	state >"$E2E_TMP/before"
	"$KPLAN" run "$E2E_TMP/p.yml" -i "$inv" --format json "$@" >"$E2E_TMP/ev" 2>"$E2E_TMP/ev.err"
	st=$($ev statuses t <"$E2E_TMP/ev" | sed 's/^n1=//')
	state >"$E2E_TMP/after"
	if cmp -s "$E2E_TMP/before" "$E2E_TMP/after"; then moved=ok; else moved=changed; fi
}
# step_exact NAME MODULE-LINE: changed exactly when dpkg's states moved
step_exact() {
	step "$@"
	check "$1: reported $st, the node's packages: $moved" "$moved" "$st"
}
msg() { /usr/bin/python3 -c 'import json,sys
for l in sys.stdin:
    e = json.loads(l)
    if e.get("event") == "host_result": print(e.get("msg", ""))' <"$E2E_TMP/ev"; }

step "check mode" "apt: {name: [kp-alpha=1.0-1, kp-beta]}" --check
check "check mode: nothing installed" ok "$moved"
check "check mode: would change" changed "$st"
step_exact "present with a pin and a dependency" "apt: {name: [kp-alpha=1.0-1, kp-beta]}"
check "present: the pinned version" 1.0-1 "$(ver kp-alpha)"
check "present: the dependent package" 1.0-1 "$(ver kp-beta)"
step_exact "present again" "apt: {name: [kp-alpha=1.0-1, kp-beta]}"
check "present again: ok" ok "$st"
step_exact "present without pin leaves the installed version" "apt: {name: kp-alpha, state: present}"
check "present: still 1.0-1" 1.0-1 "$(ver kp-alpha)"
cand=$(on "apt-cache policy kp-alpha" | awk '/Candidate:/ {print $2}')
step_exact "latest" "apt: {name: kp-alpha, state: latest}"
check "latest: apt's candidate" "$cand" "$(ver kp-alpha)"
step_exact "latest again" "apt: {name: kp-alpha, state: latest}"
check "latest again: ok" ok "$st"
step "a downgrade without allow_downgrade" "apt: {name: kp-alpha=1.1-1}"
check "downgrade refused: failed" failed "$st"
check "downgrade refused: nothing moved" ok "$moved"
check "downgrade refused: apt's reason (from the simulation)" "Packages were downgraded and -y was used without --allow-downgrades." "$(msg)"
step_exact "a downgrade with allow_downgrade" "apt: {name: kp-alpha=1.1-1, allow_downgrade: true}"
check "downgrade: the pin" 1.1-1 "$(ver kp-alpha)"

step_exact "dpkg_selections hold" "dpkg_selections: {name: kp-alpha, selection: hold}"
check "hold: changed" changed "$st"
check "hold: dpkg's selection" "hold" "$(on 'dpkg --get-selections kp-alpha' | awk '{print $2}')"
step "dpkg_selections hold again" "ansible.builtin.dpkg_selections: {name: kp-alpha, selection: hold}"
check "hold again: ok" ok "$st"
step "dist upgrade keeps a held package" "apt: {upgrade: dist}"
check "held: still 1.1-1" 1.1-1 "$(ver kp-alpha)"
check "dist upgrade with only a held package: $moved" "$moved" "$st"
step "dpkg_selections install" "dpkg_selections: {name: kp-alpha, selection: install}"
check "selection install: changed" changed "$st"
step_exact "dist upgrade" "apt: {upgrade: dist}"
check "dist upgrade: apt's candidate" "$cand" "$(ver kp-alpha)"
step_exact "dist upgrade again" "apt: {upgrade: dist}"
check "dist upgrade again: ok" ok "$st"

step_exact "install_recommends: false" "apt: {name: kp-gamma, install_recommends: false}"
check "no recommends: kp-delta not installed" "" "$(ver kp-delta)"
step_exact "absent" "apt: {name: kp-gamma, state: absent}"
check "absent: removed" "" "$(ver kp-gamma)"
step_exact "absent again" "apt: {name: kp-gamma, state: absent}"
check "absent again: ok" ok "$st"
step_exact "with recommends" "apt: {name: kp-gamma, install_recommends: true}"
check "recommends: kp-delta installed" 1.0-1 "$(ver kp-delta)"
step_exact "absent with autoremove" "apt: {name: kp-gamma, state: absent, autoremove: true}"
check "autoremove: the recommended package went too" "" "$(ver kp-delta)"

step_exact "deb" "apt: {deb: /root/kp-local.deb}"
check "deb: installed" 3.0-1 "$(ver kp-local)"
step_exact "deb again" "apt: {deb: /root/kp-local.deb}"
check "deb again: ok" ok "$st"

step "cache_valid_time: fresh lists are not updated" "apt: {update_cache: true, cache_valid_time: 3600}"
check "fresh cache: ok" ok "$st"
step "an unknown package" "apt: {name: kp-nope}"
check "unknown package: failed" failed "$st"
check "unknown package: apt's reason" "Unable to locate package kp-nope" "$(msg)"
step "a bad package spec" "apt: {name: kp-alpha=1=2}"
check "bad spec: Ansible's message" "invalid package spec: kp-alpha=1=2" "$(msg)"
