#!/bin/sh
# The lab itself: three nodes come up answering real OpenSSH, each with its
# own hostname, its own copy-on-write filesystem, a clean root home and a
# sudo-capable kplan user; stop-node/start-node work; down leaves no process,
# mount or directory behind, and is safe to run twice.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "# SKIP lab tests: not root"
	exit 0
fi
lab=$(cd "$(dirname "$0")/../lab" && pwd)/lab
d=$E2E_TMP/lab
trap '"$lab" down --dir "$d" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# on NODE CMD: run CMD on NODE over real OpenSSH; stdout and stderr together
on() {
	ssh -F "$d/ssh_config" "$@" 2>&1
}

# dead PID: no such process, or a zombie (PID 1 here may not reap)
dead() {
	[ ! -e "/proc/$1" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]
}

"$lab" up --nodes 3 --dir "$d" >"$E2E_TMP/up.out" 2>&1
check "lab up --nodes 3" 0 "$?"
[ -f "$d/ssh_config" ] || {
	sed 's/^/    /' "$E2E_TMP/up.out"
	exit 0
}
pids=$(awk '{ print $1 }' "$d/pids")

for n in node1 node2 node3; do
	check "$n answers with its own hostname" "$n" "$(on "$n" hostname)"
done
check "a file written on node1 is there" x "$(on node1 'echo x >/etc/kplan-lab-test && cat /etc/kplan-lab-test')"
check "node1's file is not on node2" absent "$(on node2 'test -e /etc/kplan-lab-test && echo present || echo absent')"
check "node1's file is not on the machine" absent "$(test -e /etc/kplan-lab-test && echo present || echo absent)"
check "root's home on a node is clean" .ssh "$(on node1 'ls -A /root')"
check "sudo -u kplan works on a node" kplan "$(on node1 'sudo -n -u kplan id -un')"
# shellcheck disable=SC2016 # expanded on the node
check "kplan logs in with the lab key and sudoes without a password" "kplan root" \
	"$(on kplan@node3 'echo $(id -un) $(sudo -n id -un)')"
check "inventory lists the three nodes" "node1 node2 node3" \
	"$(awk '/^        [a-z0-9-]+:$/ { sub(/:/, ""); printf "%s%s", s, $1; s = " " }' "$d/inventory.yml")"

on node2 'echo kept >/root/kept' >/dev/null
"$lab" stop-node node2 --dir "$d" >/dev/null 2>&1
check "stop-node node2" 0 "$?"
on node2 true >/dev/null
check "a stopped node refuses connections" 255 "$?"
check "the other nodes stay up" node1 "$(on node1 hostname)"
"$lab" start-node node2 --dir "$d" >/dev/null 2>&1
check "start-node node2" 0 "$?"
# shellcheck disable=SC2016 # expanded on the node
check "a restarted node answers with the same host key and keeps its files" "node2 kept" \
	"$(on node2 'echo $(hostname) $(cat /root/kept)')"
pids="$pids $(awk '{ print $1 }' "$d/pids")"

"$lab" down --dir "$d" >/dev/null 2>&1
check "lab down" 0 "$?"
alive=
for p in $pids; do
	dead "$p" || alive="$alive $p"
done
check "no recorded pid is alive after down" "" "$alive"
check "no mount under the run directory remains" "" "$(grep -F "$d" /proc/self/mountinfo)"
check "the run directory is gone" absent "$(test -e "$d" && echo present || echo absent)"
"$lab" down --dir "$d" >/dev/null 2>&1
check "lab down twice" 0 "$?"
