#!/bin/sh
# Run the numbered end-to-end scripts (tests/e2e/t[0-9]*.sh) against a kplan
# binary and count their "ok" / "not ok" lines.
# usage: tests/run-e2e.sh KPLAN [SCRIPT...]
#
# Scripts run KPLAN_E2E_JOBS at a time (default 4): most of their time is
# spent waiting for nodes, timeouts and signals, not on the CPU. Each script
# has its own temporary directory and its own lab (a lab's addresses come
# from its directory), so they do not meet. The cluster-lab scenarios
# (`# suite: lab`), the longest, start first. A script's output is printed
# in one piece when it ends, with how long it took.
set -u
KPLAN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
export KPLAN
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

# one unit: SCRIPT TRANSPORT, its output into WORK/N.log, then printed
if [ "${1:-}" = --one ]; then
	work=$2 t=$3 tr=$4
	out=$work/$(echo "$t.$tr" | tr / _).log
	start=$(date +%s)
	if [ "$tr" = ssh ]; then
		echo "# $t over ssh" >"$out"
		KPLAN_E2E_TRANSPORT=ssh sh "$t" </dev/null 2>&1 |
			sed 's/^\(not \)\{0,1\}ok - /&[ssh] /' >>"$out"
	else
		echo "# $t" >"$out"
		KPLAN_E2E_TRANSPORT=local sh "$t" </dev/null >>"$out" 2>&1
	fi
	echo "# $t ($tr): $(($(date +%s) - start))s" >>"$out"
	flock "$work/print.lock" cat "$out"
	exit 0
fi

if [ $# -eq 0 ]; then
	set -- tests/e2e/t[0-9]*.sh
fi
work=$(mktemp -d /tmp/kplan-e2e-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# Scripts marked `# transports: local ssh` run once per transport: over
# ssh on lab nodes when root and sshd are available, else with a visible skip.
ssh_ok=""
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ]; then ssh_ok=1; fi
: >"$work/units"
for pass in lab rest; do
	for t in "$@"; do
		if grep -q '^# suite: lab' "$t"; then
			[ $pass = lab ] || continue
		else
			[ $pass = rest ] || continue
		fi
		echo "$t local" >>"$work/units"
		if grep -q '^# transports:.*ssh' "$t"; then
			if [ -n "$ssh_ok" ]; then
				echo "$t ssh" >>"$work/units"
			else
				echo "# SKIP $t over ssh: needs root and /usr/sbin/sshd"
			fi
		fi
	done
done
xargs -P "${KPLAN_E2E_JOBS:-4}" -L 1 sh "$0" "$KPLAN" --one "$work" <"$work/units"
passed=$(cat "$work"/*.log | grep -c '^ok - ')
failed=$(cat "$work"/*.log | grep -c '^not ok - ')
# a script that died before its checks shows no lines at all: count it
for f in "$work"/*.log; do
	grep -q '^\(not \)\{0,1\}ok - \|^# SKIP' "$f" || {
		echo "not ok - $(head -1 "$f" | sed 's/^# //'): no result at all"
		failed=$((failed + 1))
	}
done
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
