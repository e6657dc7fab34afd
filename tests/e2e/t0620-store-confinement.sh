#!/bin/sh
# A backup store holds what nodes send, and kplan writes it as root: a
# hostile node must not steer a write outside the store. cert-copy refuses
# listings whose paths climb out ('..'), hold a NUL or leave the listed
# directories; a store whose host directory is a symbolic link is refused,
# naming the link; restore refuses a manifest naming a path outside its
# directories; fetch never makes a copy wider than its source.
. "$(dirname "$0")/lib.sh"
T=$E2E_TMP
N=$T/node
mkdir -p "$N/pki" "$T/victim" "$T/bin" "$T/elsewhere"
printf 'ssh-ed25519 AAAA operator\n' >"$T/victim/authorized_keys"
chmod 0600 "$T/victim/authorized_keys"
openssl genpkey -algorithm ed25519 -out "$N/pki/ca.key" 2>/dev/null
chmod 0600 "$N/pki/ca.key"
printf 'h1 ansible_connection=local\n' >"$T/inv.ini"

# A node whose find(1) reports what it likes: FAKE_ENTRY is printed for
# -printf, its sha256sum for -exec.
cat >"$T/bin/find" <<'SH'
#!/bin/sh
case "$*" in
*-printf*) printf 'entry\td\t700\troot\troot\t4096\t%s\t\n' "$1"
	printf "$FAKE_ENTRY" ;;
*-exec*) ;;
esac
SH
chmod +x "$T/bin/find"

cat >"$T/backup.yml" <<EOF2
- hosts: all
  tasks:
    - name: backup
      cert-copy: {action: backup, paths: ["$N/pki"], store: "$T/store"}
EOF2

climb=$(i=0; while [ $i -lt 40 ]; do printf '../'; i=$((i + 1)); done)
evil="$N/pki/$climb$T/victim/authorized_keys"
ino=$(stat -c %i "$T/victim/authorized_keys")
FAKE_ENTRY="entry\\tf\\t644\\troot\\troot\\t26\\t$evil\\t\\n" PATH="$T/bin:$PATH" \
	run_kplan "$T/out" run "$T/backup.yml" -i "$T/inv.ini" --journal "$T/j"
check "a listing with '..' fails the task" 1 "$rc"
check "the file outside the store is untouched" "$ino 600" \
	"$(stat -c '%i %a' "$T/victim/authorized_keys")"
grep -q "refusing the listing from h1: path from h1 '$evil' has a '..' component: refusing a path that leaves the store" "$T/out"
check "the message names the path" 0 $?

FAKE_ENTRY="entry\\tf\\t644\\troot\\troot\\t26\\t/etc/passwd\\t\\n" PATH="$T/bin:$PATH" \
	run_kplan "$T/out" run "$T/backup.yml" -i "$T/inv.ini" --journal "$T/j"
check "a path outside the listed directories fails the task" 1 "$rc"
grep -q "refusing the listing from h1: '/etc/passwd' is not under $N/pki" "$T/out"
check "the message names the stray path" 0 $?

FAKE_ENTRY="entry\\tf\\t644\\troot\\troot\\t26\\t$N/pki/ca.key\\000/x\\t\\n" PATH="$T/bin:$PATH" \
	run_kplan "$T/out" run "$T/backup.yml" -i "$T/inv.ini" --journal "$T/j"
check "a listing with a NUL byte fails the task" 1 "$rc"
grep -q "refusing the listing from h1: it holds a NUL byte" "$T/out"
check "the message says NUL" 0 $?

# a store whose host directory is a link to somewhere else
rm -rf "$T/store"; mkdir -p "$T/store"
chmod 0755 "$T/elsewhere"
ln -s "$T/elsewhere" "$T/store/h1"
run_kplan "$T/out" run "$T/backup.yml" -i "$T/inv.ini" --journal "$T/j"
check "a linked host directory fails the backup" 1 "$rc"
check "nothing lands behind the link, its mode is kept" "0 755" \
	"$(find "$T/elsewhere" -mindepth 1 | wc -l) $(stat -c %a "$T/elsewhere")"
grep -q "'$T/store/h1' is a symbolic link: kplan never follows links inside a store" "$T/out"
check "the message names the link" 0 $?

# a real backup, then a manifest that names a file outside its directories
rm "$T/store/h1"
run_kplan "$T/out" run "$T/backup.yml" -i "$T/inv.ini" --journal "$T/j"
check "the honest backup works" 0 "$rc"
check "the store's host directory and the key are private" "700 600" \
	"$(stat -c %a "$T/store/h1") $(stat -c %a "$T/store/h1$N/pki/ca.key")"
python3 - "$T/store/h1/manifest.json" "$T/victim/authorized_keys" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for e in m["entries"]:
    if e["path"].endswith("ca.key"):
        e["path"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"))
PY
cat >"$T/restore.yml" <<EOF2
- hosts: all
  tasks:
    - name: restore
      cert-copy: {action: restore, store: "$T/store", force: true}
EOF2
run_kplan "$T/out" run "$T/restore.yml" -i "$T/inv.ini" --journal "$T/j"
check "restore refuses a manifest path outside its directories" 1 "$rc"
check "the file outside is untouched by the restore" "$ino 600" \
	"$(stat -c '%i %a' "$T/victim/authorized_keys")"
grep -q "'$T/store/h1/manifest.json': entry '$T/victim/authorized_keys' is not under $N/pki" "$T/out"
check "the message names the manifest entry" 0 $?

# fetch: a 0600 file stays 0600, in 0700 directories
printf 'secret\n' >"$N/admin.conf"
chmod 0600 "$N/admin.conf"
printf 'public\n' >"$N/public.txt"
chmod 0644 "$N/public.txt"
cat >"$T/fetch.yml" <<EOF2
- hosts: all
  tasks:
    - fetch: {src: "$N/public.txt", dest: "$T/fetched"}
    - fetch: {src: "$N/admin.conf", dest: "$T/fetched"}
EOF2
run_kplan "$T/out" run "$T/fetch.yml" -i "$T/inv.ini" --journal "$T/j"
check "fetch runs" 0 "$rc"
check "the secret's copy is 0600, the public one 0644" "600 644" \
	"$(stat -c %a "$T/fetched/h1$N/admin.conf") $(stat -c %a "$T/fetched/h1$N/public.txt")"
check "the directories on the way to a secret are 0700" "700 700" \
	"$(stat -c %a "$T/fetched/h1") $(stat -c %a "$T/fetched/h1$N")"

# fetch into a store whose host directory is a link
rm -rf "$T/fetched"
mkdir -p "$T/fetched"
ln -s "$T/elsewhere" "$T/fetched/h1"
run_kplan "$T/out" run "$T/fetch.yml" -i "$T/inv.ini" --journal "$T/j"
check "fetch refuses a linked host directory" 1 "$rc"
check "nothing lands behind the link" 0 "$(find "$T/elsewhere" -mindepth 1 | wc -l)"
grep -q "'$T/fetched/h1' is a symbolic link: kplan never follows links inside a store" "$T/out"
check "fetch names the link" 0 $?
