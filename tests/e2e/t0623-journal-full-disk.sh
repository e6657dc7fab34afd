#!/bin/sh
# The journal on a full disk: the first write that fails is reported with
# the file and errno, no new task starts, and the run ends saying the
# journal is incomplete and what a resume would do. The disk is a small
# tmpfs made here and unmounted whatever happens.
. "$(dirname "$0")/lib.sh"
T=$E2E_TMP
M=$T/disk
if [ "$(id -u)" != 0 ]; then
	echo "# SKIP needs root to mount a tmpfs"
	exit 0
fi
mkdir -p "$M"
trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT INT TERM
mount -t tmpfs -o size=64k,mode=0700 kplan-e2e "$M" || {
	echo "not ok - mount a tmpfs"
	exit 1
}
mkdir -p "$M/runs"
# leave about three pages free: the run's start and a small result fit
dd if=/dev/zero of="$M/fill" bs=4096 count=13 2>/dev/null
cd "$T" || exit 1
printf 'h1 ansible_connection=local\n' >inv.ini
cat >plan.yml <<EOF2
- hosts: all
  tasks:
    - name: small
      shell: echo small
      register: a
    - name: big
      shell: yes x | head -c 30000
      register: b
    - name: never
      shell: touch $T/never-ran
EOF2
run_kplan out run plan.yml -i inv.ini --journal "$M/runs"
check "the run stops" 4 "$rc"
check "no task starts after the failed write" no "$(test -e never-ran && echo yes || echo no)"
j=$(ls "$M"/runs/*.jsonl)
cat out out.err | grep -q "^error: cannot write journal '$j': No space left on device: no new task starts$"
check "the failed write is reported with the file and errno" 0 $?
cat out out.err | grep -q "^the journal '$j' is incomplete: its last 2 records are missing (from the failed write on); a resume would run again every task whose result is not in it, and would not know of nodes cordoned since$"
check "the end says the journal is incomplete and what a resume would do" 0 $?
check "the journal holds the start and the small result, whole" "run_start result" \
	"$(head -2 "$j" | /usr/bin/python3 -c 'import json,sys; print(" ".join(json.loads(l)["type"] for l in sys.stdin))')"
umount "$M"
check "the tmpfs is unmounted" no "$(grep -q " $M " /proc/mounts && echo yes || echo no)"
