#!/bin/sh
# deb822_repository and service on a lab node. The .sources files are
# compared byte for byte with what ansible-core's deb822_repository writes
# for the same arguments (its rules, from its source: fields in the sorted
# order of the argument names, name as X-Repolib-Name, uris as URIs, the
# rest Title-Cased, booleans yes/no, lists space-separated, a value of
# several lines folded by four spaces with "." for an empty line; the
# file named after the name with blanks as '-'); a key given by URL lands
# in /etc/apt/keyrings/NAME.gpg (not armored); a second run changes
# nothing; check mode writes nothing; state absent removes the file and
# its key; apt-get update reads the source and apt sees its package.
# service starts, enables and stops a unit, init-script arguments
# accepted and ignored.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP repositories and service on lab nodes: needs root and /usr/sbin/sshd"
	exit 0
fi
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
repo=$E2E_TMP/repo
mkdir -p "$repo" "$E2E_TMP/build/DEBIAN"
printf 'Package: kp-alpha\nVersion: 1.0-1\nArchitecture: all\nMaintainer: kplan tests <root@localhost>\nDescription: kplan test package\n' >"$E2E_TMP/build/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$E2E_TMP/build" "$repo/kp-alpha_1.0-1_all.deb" >/dev/null
(cd "$repo" && apt-ftparchive packages . >Packages 2>/dev/null && apt-ftparchive release . >Release 2>/dev/null)

root=$(pwd)
/usr/bin/python3 tests/e2e/httpd.py "$E2E_TMP/port" &
srv=$!
L=$E2E_TMP/lab
trap 'kill $srv 2>/dev/null; tests/lab/lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
i=0
while [ ! -s "$E2E_TMP/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
u=http://127.0.0.1:$(cat "$E2E_TMP/port")
tests/lab/lab up --names n1 --dir "$L" >"$E2E_TMP/lab.out" 2>&1 || {
	echo "not ok - lab up"
	tail -5 "$E2E_TMP/lab.out" | sed 's/^/    /'
	exit 1
}
on() { ssh -F "$L/ssh_config" n1 "$@"; }
on "rm -f /etc/apt/sources.list.d/*; : >/etc/apt/sources.list; rm -rf /etc/apt/keyrings;
	printf 'APT::Sandbox::User \"root\";\nAcquire::Languages \"none\";\n' >/etc/apt/apt.conf.d/99kp-test;
	rm -rf /var/lib/apt/lists/*; mkdir -p /var/lib/apt/lists/partial"
addr=$(awk '$1 == "n1" {print $2}' "$L/nodes")
inv=$E2E_TMP/inv.ini
echo "n1 ansible_host=$addr ansible_user=root ansible_ssh_private_key_file=$L/id_ed25519 kplan_known_hosts=$L/known_hosts" >"$inv"

check() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: expected '$2', got '$3'"; fi
}
# run NAME [OPTIONS]: plan.yml as a run; $st: every task's status, in order
run() {
	name=$1
	shift
	"$KPLAN" run "$E2E_TMP/plan.yml" -i "$inv" --format json "$@" >"$E2E_TMP/ev" 2>"$E2E_TMP/ev.err"
	st=$(for t in $tasks; do $ev statuses "$t" <"$E2E_TMP/ev" | sed 's/^n1=//'; done | tr '\n' ' ')
}
same_file() { # NAME NODE-PATH EXPECTED-FILE
	on "cat $2" >"$E2E_TMP/got" 2>/dev/null
	if cmp -s "$3" "$E2E_TMP/got"; then
		echo "ok - $1: $2 as ansible-core writes it"
	else
		echo "not ok - $1: $2 differs"
		diff -u "$3" "$E2E_TMP/got" | sed 's/^/    /' | head -20
	fi
}

cat >"$E2E_TMP/plan.yml" <<PLAN
- name: repos
  hosts: n1
  tasks:
    - name: local
      deb822_repository: {name: kp test, uris: "file:$repo", suites: ./, trusted: true}
    - name: keyed
      ansible.builtin.deb822_repository:
        name: keyed
        uris: [https://a.example/x, https://b.example/y]
        suites: stable
        components: [main, contrib]
        architectures: amd64
        enabled: false
        signed_by: $u/file
    - name: inline
      deb822_repository:
        name: inline
        types: [deb, deb-src]
        uris: https://c.example/
        suites: stable
        enabled: no
        mode: "0600"
        signed_by: |
          -----BEGIN PGP PUBLIC KEY BLOCK-----

          abc
          -----END PGP PUBLIC KEY BLOCK-----
PLAN
tasks="local keyed inline"
run "check" --check
check "deb822_repository check mode: would change all three" "changed changed changed " "$st"
check "deb822_repository check mode: nothing written" "" "$(on 'find /etc/apt/sources.list.d /etc/apt/keyrings -type f 2>/dev/null')"
run "first"
check "deb822_repository: the first run changes all three" "changed changed changed " "$st"
printf 'X-Repolib-Name: kp test\nSuites: ./\nTrusted: yes\nTypes: deb\nURIs: file:%s\n' "$repo" >"$E2E_TMP/want1"
same_file "local source" /etc/apt/sources.list.d/kp-test.sources "$E2E_TMP/want1"
printf 'Architectures: amd64\nComponents: main contrib\nEnabled: no\nX-Repolib-Name: keyed\nSigned-By: /etc/apt/keyrings/keyed.gpg\nSuites: stable\nTypes: deb\nURIs: https://a.example/x https://b.example/y\n' >"$E2E_TMP/want2"
same_file "keyed source" /etc/apt/sources.list.d/keyed.sources "$E2E_TMP/want2"
printf 'Enabled: no\nX-Repolib-Name: inline\nSigned-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n    -----END PGP PUBLIC KEY BLOCK-----\nSuites: stable\nTypes: deb deb-src\nURIs: https://c.example/\n' >"$E2E_TMP/want3"
same_file "inline key" /etc/apt/sources.list.d/inline.sources "$E2E_TMP/want3"
curl -s "$u/file" >"$E2E_TMP/key"
same_file "key fetched by URL" /etc/apt/keyrings/keyed.gpg "$E2E_TMP/key"
check "modes: keyring, key, sources, mode 0600" "755 644 644 600" \
	"$(on 'stat -c %a /etc/apt/keyrings /etc/apt/keyrings/keyed.gpg /etc/apt/sources.list.d/keyed.sources /etc/apt/sources.list.d/inline.sources' | tr '\n' ' ' | sed 's/ $//')"
run "again"
check "deb822_repository: a second run changes nothing" "ok ok ok " "$st"
if on "apt-get update -q >/dev/null 2>&1 && apt-cache policy kp-alpha" | grep -q "file:$repo"; then
	echo "ok - apt-get update reads the deb822 source; apt sees kp-alpha from it"
else
	echo "not ok - apt does not see kp-alpha from the deb822 source"
fi

cat >"$E2E_TMP/plan.yml" <<PLAN
- name: repos
  hosts: n1
  tasks:
    - name: gone
      deb822_repository: {name: keyed, state: absent}
    - name: gone-again
      deb822_repository: {name: keyed, state: absent}
PLAN
tasks="gone gone-again"
run "absent"
check "deb822_repository absent: removes, then is ok" "changed ok " "$st"
check "deb822_repository absent: the file and its key are gone" \
	"/etc/apt/sources.list.d/inline.sources /etc/apt/sources.list.d/kp-test.sources" \
	"$(on 'find /etc/apt/sources.list.d /etc/apt/keyrings -type f | sort' | tr '\n' ' ' | sed 's/ $//')"

# service, through the lab's systemctl (a lab node has no systemd)
on "cat >/usr/local/bin/systemctl && chmod 755 /usr/local/bin/systemctl" <tests/lab/cluster/systemctl
on "printf '[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n' >/etc/systemd/system/kp-sleep.service"
cat >"$E2E_TMP/plan.yml" <<PLAN
- name: service
  hosts: n1
  tasks:
    - name: start
      service: {name: kp-sleep, state: started, enabled: true, sleep: 2, pattern: sleep}
    - name: start-again
      ansible.builtin.service: name=kp-sleep state=started enabled=yes
PLAN
tasks="start start-again"
run "service"
check "service: started and enabled, then ok" "changed ok " "$st"
check "service: the unit is active and enabled" "active enabled" "$(on 'systemctl is-active kp-sleep; systemctl is-enabled kp-sleep' | tr '\n' ' ' | sed 's/ $//')"
cat >"$E2E_TMP/plan.yml" <<PLAN
- name: service
  hosts: n1
  tasks:
    - name: stop
      service: {name: kp-sleep, state: stopped, enabled: false}
PLAN
tasks="stop"
run "service stop"
check "service: stopped" "changed " "$st"
check "service: the unit is inactive and disabled" "inactive disabled" "$(on 'systemctl is-active kp-sleep; systemctl is-enabled kp-sleep' | tr '\n' ' ' | sed 's/ $//')"
