#!/bin/sh
# Run the numbered end-to-end scripts (tests/e2e/t[0-9]*.sh) against a kplan
# binary and count their "ok" / "not ok" lines.
# usage: tests/run-e2e.sh KPLAN [SCRIPT...]
set -u
KPLAN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
export KPLAN
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
if [ $# -eq 0 ]; then
	set -- tests/e2e/t[0-9]*.sh
fi
log=$(mktemp /tmp/kplan-e2e-log.XXXXXX)
# Scripts marked `# transports: local ssh` run once per transport: over
# ssh on lab nodes when root and sshd are available, else with a visible skip.
ssh_ok=""
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ]; then ssh_ok=1; fi
for t in "$@"; do
	# KPLAN_E2E_QUICK=1 (make asan): the cluster-lab scenarios run once, in
	# make test; their kplan code is under the sanitizers in the other scripts
	if [ -n "${KPLAN_E2E_QUICK:-}" ] && grep -q '^# suite: lab' "$t"; then
		echo "# SKIP $t: a cluster-lab scenario (KPLAN_E2E_QUICK)"
		continue
	fi
	echo "# $t"
	KPLAN_E2E_TRANSPORT=local sh "$t" 2>&1 | tee -a "$log"
	if grep -q '^# transports:.*ssh' "$t"; then
		if [ -n "$ssh_ok" ]; then
			echo "# $t over ssh"
			KPLAN_E2E_TRANSPORT=ssh sh "$t" 2>&1 | sed 's/^\(not \)\{0,1\}ok - /&[ssh] /' | tee -a "$log"
		else
			echo "# SKIP $t over ssh: needs root and /usr/sbin/sshd"
		fi
	fi
done
passed=$(grep -c '^ok - ' "$log")
failed=$(grep -c '^not ok - ' "$log")
rm -f "$log"
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
