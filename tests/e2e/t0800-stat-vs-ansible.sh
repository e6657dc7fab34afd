#!/bin/sh
# stat: for every kind of path (file, directory, symlinks, dangling link,
# FIFO, character device, setuid file, missing path) with follow on and
# off and every checksum algorithm, kplan's registered `stat` equals what
# Ansible's own stat module returns for the same path (ansible-core run
# here, on the local connection). Not compared: attributes, attr_flags and
# version (lsattr output, which kplan does not read).
. "$(dirname "$0")/lib.sh"
if ! command -v ansible >/dev/null 2>&1; then
	echo "# SKIP stat vs Ansible: no ansible"
	exit 0
fi
d=$E2E_TMP/paths
mkdir -p "$d/dir"
printf 'hello\n' >"$d/file"
chmod 0640 "$d/file"
printf '#!/bin/sh\n' >"$d/suid"
chmod 4755 "$d/suid"
ln -s file "$d/link"
ln -s nowhere "$d/dangling"
mkfifo "$d/fifo"
printf 'x' >"$d/text.txt"
# access times ahead of every other time: reading a file (the checksums)
# then changes no atime (relatime), whichever program reads first
future=$(($(date +%s) + 3600))
for f in "$d"/* "$d"/dir; do
	touch -h -a -d "@$future" "$f"
done

cases="file:: file:follow=true dir:: link:: link:follow=true dangling:: fifo:: suid:: missing:: text.txt:checksum_algorithm=md5 text.txt:checksum_algorithm=sha256 text.txt:checksum_algorithm=sha512 file:get_checksum=false file:get_mime=false"
echo "localhost ansible_connection=local" >"$E2E_TMP/inv.ini"
p=$E2E_TMP/plan.yml
{
	echo "- name: stat"
	echo "  hosts: localhost"
	echo "  tasks:"
	for c in $cases; do
		path=${c%%:*} opts=${c#*:}
		opts=${opts#:}
		echo "    - name: \"$c\""
		echo "      stat:"
		echo "        path: $d/$path"
		[ -n "$opts" ] && echo "        ${opts%%=*}: ${opts#*=}"
	done
	echo "    - name: /dev/null"
	echo "      stat: {path: /dev/null}"
} >"$p"

# Ansible first (the same plan, facts not gathered): its reads set the
# access times that kplan then sees unchanged
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' "$p" >"$E2E_TMP/ansible.yml"
ANSIBLE_STDOUT_CALLBACK=json ANSIBLE_LOCALHOST_WARNING=0 \
	ansible-playbook -i "$E2E_TMP/inv.ini" "$E2E_TMP/ansible.yml" >"$E2E_TMP/ansible.json" 2>"$E2E_TMP/ansible.err"
check "ansible-playbook exits 0" 0 "$?"
run_kplan "$E2E_TMP/events" run "$p" -i "$E2E_TMP/inv.ini" --format json
check "kplan run exits 0" 0 "$rc"
[ "$rc" = 0 ] || grep -h "\"status\":\"failed\|error" "$E2E_TMP/events.err" "$E2E_TMP/events" | head -5 | cut -c1-300 | sed "s/^/    /"

/usr/bin/python3 - "$E2E_TMP/ansible.json" "$E2E_TMP/events" <<'PY'
import json, sys
skip = {"attributes", "attr_flags", "version"}
ans = {}
for t in json.load(open(sys.argv[1]))["plays"][0]["tasks"]:
    h = t["hosts"]["localhost"]
    ans[t["task"]["name"]] = h.get("stat", h)
got = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result":
        got[e["task"]] = e["result"]["stat"]
for name, want in ans.items():
    want = {k: v for k, v in want.items() if k not in skip}
    have = got.get(name)
    if have == want:
        print(f"ok - stat {name}: the same fields and values as Ansible")
    else:
        print(f"not ok - stat {name}")
        for k in sorted(set(want) | set(have or {})):
            if (have or {}).get(k, "<none>") != want.get(k, "<none>"):
                print(f"    {k}: ansible {want.get(k, '<none>')!r} kplan {(have or {}).get(k, '<none>')!r}")
PY
