#!/bin/sh
# Run every cmocka unit test binary given; fail if any fails.
# cmocka prints its own summary per binary; the totals line is ours.
status=0
passed=0
failed=0
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		status=1
		echo "unit test binary failed: $t" >&2
	fi
done
echo "unit test binaries: $passed passed, $failed failed"
exit $status
