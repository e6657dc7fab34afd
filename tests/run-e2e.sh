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
for t in "$@"; do
	echo "# $t"
	sh "$t" 2>&1 | tee -a "$log"
done
passed=$(grep -c '^ok - ' "$log")
failed=$(grep -c '^not ok - ' "$log")
rm -f "$log"
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
