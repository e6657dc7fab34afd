#!/bin/sh
# apt_repository on a lab node against ansible-core's own model of the
# sources files: the module's SourcesList (parsing, file names, enabling
# a commented-out source, removal, rendering) is run by the test on a
# copy of the node's files for the same steps, and every file on the node
# must then equal its rendering byte for byte (and the same files exist).
# A second run changes nothing; check mode writes nothing; with
# update_cache apt-get update reads the new source and apt sees its
# package; a source apt-get update cannot read fails the task with
# Ansible's message and leaves the files as they were.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP apt_repository on lab nodes: needs root and /usr/sbin/sshd"
	exit 0
fi
if ! /usr/bin/python3 -c 'import ansible.modules.apt_repository' 2>/dev/null; then
	echo "# SKIP apt_repository: no ansible-core for its model"
	exit 0
fi
ev="/usr/bin/python3 tests/e2e/jsonevents.py"
repo=$E2E_TMP/repo
mkdir -p "$repo" "$E2E_TMP/build/DEBIAN"
printf 'Package: kp-alpha\nVersion: 1.0-1\nArchitecture: all\nMaintainer: kplan tests <root@localhost>\nDescription: kplan test package\n' >"$E2E_TMP/build/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$E2E_TMP/build" "$repo/kp-alpha_1.0-1_all.deb" >/dev/null
(cd "$repo" && apt-ftparchive packages . >Packages 2>/dev/null && apt-ftparchive release . >Release 2>/dev/null)

L=$E2E_TMP/lab
trap 'tests/lab/lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
tests/lab/lab up --names n1 --dir "$L" >"$E2E_TMP/lab.out" 2>&1 || {
	echo "not ok - lab up"
	tail -5 "$E2E_TMP/lab.out" | sed 's/^/    /'
	exit 1
}
on() { ssh -F "$L/ssh_config" n1 "$@"; }
on "rm -f /etc/apt/sources.list.d/*;
	printf '# deb http://old.example/ x main\ndeb   http://a.example/debian  stable main # keep\n\n#a remark\n' >/etc/apt/sources.list;
	printf 'APT::Sandbox::User \"root\";\nAcquire::Languages \"none\";\n' >/etc/apt/apt.conf.d/99kp-test;
	rm -rf /var/lib/apt/lists/*; mkdir -p /var/lib/apt/lists/partial"
addr=$(awk '$1 == "n1" {print $2}' "$L/nodes")
inv=$E2E_TMP/inv.ini
echo "n1 ansible_host=$addr ansible_user=root ansible_ssh_private_key_file=$L/id_ed25519 kplan_known_hosts=$L/known_hosts" >"$inv"
# the node's files before, for the model
mkdir -p "$E2E_TMP/model/sources.list.d"
on "cat /etc/apt/sources.list" >"$E2E_TMP/model/sources.list"

check() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: expected '$2', got '$3'"; fi
}
run() {
	"$KPLAN" run "$E2E_TMP/plan.yml" -i "$inv" --format json "$@" >"$E2E_TMP/ev" 2>"$E2E_TMP/ev.err"
	st=$(for t in $tasks; do $ev statuses "$t" <"$E2E_TMP/ev" | sed 's/^n1=//'; done | tr '\n' ' ')
}
cat >"$E2E_TMP/plan.yml" <<PLAN
- name: sources
  hosts: n1
  tasks:
    - name: flat
      apt_repository: {repo: "deb [trusted=yes] file:$repo ./", filename: kp-flat}
    - name: enable
      ansible.builtin.apt_repository: {repo: "deb http://old.example/ x main", update_cache: false}
    - name: named-by-url
      apt_repository:
        repo: deb http://user:pw@dl.example.com/linux/chrome/deb/ stable main
        update_cache: false
        mode: "0600"
    - name: remove
      apt_repository: {repo: "deb http://a.example/debian stable main", state: absent, update_cache: false}
PLAN
tasks="flat enable named-by-url remove"
on "find /etc/apt -name '*.list' -exec sha256sum {} + | sort" >"$E2E_TMP/sums0"
run --check
check "apt_repository check mode: every step would change" "changed changed changed changed " "$st"
check "apt_repository check mode: no file changed" "$(cat "$E2E_TMP/sums0")" "$(on "find /etc/apt -name '*.list' -exec sha256sum {} + | sort")"
run
check "apt_repository: every step changes" "changed changed changed changed " "$st"
/usr/bin/python3 - "$E2E_TMP/model" "$repo" <<'PY' >"$E2E_TMP/model.out"
import os, sys
from ansible.modules import apt_repository as ar
root, repo = sys.argv[1], sys.argv[2]
class M:
    params = {}
    def log(self, *a): pass
sl = ar.SourcesList.__new__(ar.SourcesList)
sl.module = M()
sl.files, sl.new_repos = {}, set()
sl.default_file = os.path.join(root, "sources.list")
sl._apt_cfg_dir = lambda spec: os.path.join(root, "sources.list.d")
sl.load(sl.default_file)
for line, state, fn in [("deb [trusted=yes] file:%s ./" % repo, "present", "kp-flat"),
                        ("deb http://old.example/ x main", "present", None),
                        ("deb http://user:pw@dl.example.com/linux/chrome/deb/ stable main", "present", None),
                        ("deb http://a.example/debian stable main", "absent", None)]:
    M.params = {"filename": fn}
    sl.add_source(line) if state == "present" else sl.remove_source(line)
for path, text in sorted(sl.dump().items()):
    name = os.path.relpath(path, root)
    print("== /etc/apt/" + name)
    sys.stdout.write(text)
PY
on 'for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && echo "== $f" && cat "$f"; done' >"$E2E_TMP/node.out"
if cmp -s "$E2E_TMP/model.out" "$E2E_TMP/node.out"; then
	echo "ok - apt_repository: the node's sources files are ansible-core's rendering, byte for byte"
else
	echo "not ok - apt_repository: the node's sources files differ from ansible-core's"
	diff -u "$E2E_TMP/model.out" "$E2E_TMP/node.out" | sed 's/^/    /' | head -30
fi
check "apt_repository: mode of a new file, given and default" "600 644" \
	"$(on 'stat -c %a /etc/apt/sources.list.d/dl_example_com_linux_chrome_deb.list /etc/apt/sources.list.d/kp-flat.list' | tr '\n' ' ' | sed 's/ $//')"
if on "apt-cache policy kp-alpha" | grep -q "file:$repo"; then
	echo "ok - apt_repository update_cache: apt sees kp-alpha from the new source"
else
	echo "not ok - apt_repository update_cache: apt does not see kp-alpha"
fi
run
check "apt_repository: a second run changes nothing" "ok ok ok ok " "$st"

cat >"$E2E_TMP/plan.yml" <<PLAN
- name: sources
  hosts: n1
  tasks:
    - name: broken
      apt_repository: {repo: "deb [trusted=yes] file:$E2E_TMP/missing ./", update_cache_retries: 1}
PLAN
tasks="broken"
on "find /etc/apt -name '*.list' -exec sha256sum {} + | sort" >"$E2E_TMP/sums1"
run
check "apt_repository: apt-get update failing fails the task" "failed " "$st"
grep -q '"msg":"Failed to update apt cache: ' "$E2E_TMP/ev" && echo "ok - apt_repository: Ansible's message" ||
	echo "not ok - apt_repository: no 'Failed to update apt cache' message"
check "apt_repository: the files are as they were" "$(cat "$E2E_TMP/sums1")" "$(on "find /etc/apt -name '*.list' -exec sha256sum {} + | sort")"
