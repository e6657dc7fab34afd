#!/bin/sh
# Run every cmocka unit test binary given under valgrind's memcheck
# (`make valgrind`): any memory error, and any definitely, indirectly or
# possibly lost block, fails the binary. Only the test binary itself is
# checked (not its children: the fake API servers are Python, the commands
# the transports run are the system's). tests/valgrind.supp holds the
# suppressions, each with the reason it is not kplan's leak.
# usage: tests/run-valgrind.sh BIN...
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
command -v valgrind >/dev/null 2>&1 || {
	echo "valgrind: not installed (Debian package valgrind)" >&2
	exit 2
}
KPLAN_VALGRIND=1
export KPLAN_VALGRIND
logdir=${VALGRIND_LOGS:-$(mktemp -d /tmp/kplan-valgrind.XXXXXX)}
mkdir -p "$logdir"
status=0 passed=0 failed=0
for t in "$@"; do
	log=$logdir/$(basename "$t").log
	if valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
		--num-callers=30 --suppressions=tests/valgrind.supp \
		--log-file="$log" "$t" >"$log.out" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		status=1
		echo "valgrind: $t failed (log: $log, output: $log.out)" >&2
		grep -v '^--[0-9]*-- ' "$log" | head -40 >&2
		tail -5 "$log.out" >&2
	fi
done
echo "valgrind: unit test binaries: $passed passed, $failed failed (logs in $logdir)"
exit $status
