#!/bin/sh
# Run every libFuzzer target built in BUILD/fuzz/ for SECONDS each, one after
# the other, and print the executions of each. The seed corpus is
# tests/fuzz/corpus/TARGET/ (read only); what a run finds goes to
# BUILD/corpus/TARGET/ and is kept for the next run; a crash, leak or
# timeout leaves its input in BUILD/artifacts/TARGET/ and fails the run
# (the other targets still run).
#
# usage: tests/fuzz/run.sh BUILD SECONDS [TARGET...]
#   e.g. tests/fuzz/run.sh build-fuzz 600 plan template
set -u
build=$(cd "$1" && pwd) # absolute: a target may chdir
secs=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -eq 0 ]; then
	set --
	for b in "$build"/fuzz/fuzz_*; do
		[ -x "$b" ] && set -- "$@" "$(basename "$b" | sed 's/^fuzz_//')"
	done
fi

# the longest input worth trying per target
max_len() {
	case "$1" in
	hostpattern) echo 512 ;;
	template) echo 2048 ;;
	luapattern) echo 128 ;;
	kube) echo 16384 ;;
	*) echo 8192 ;;
	esac
}

failed=0
summary=""
for t in "$@"; do
	bin="$build/fuzz/fuzz_$t"
	seeds="$root/tests/fuzz/corpus/$t"
	corpus="$build/corpus/$t"
	art="$build/artifacts/$t"
	log="$build/logs/$t.log"
	mkdir -p "$corpus" "$art" "$build/logs"
	dict=""
	[ -f "$root/tests/fuzz/$t.dict" ] && dict="-dict=$root/tests/fuzz/$t.dict"
	echo "fuzz: $t for ${secs}s"
	# stdin is /dev/null: nothing a target does may wait for a terminal
	"$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
		-max_len="$(max_len "$t")" -print_final_stats=1 \
		-artifact_prefix="$art/" $dict "$corpus" "$seeds" \
		</dev/null >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ $rc -ne 0 ]; then
		failed=1
		echo "fuzz: $t FAILED (exit $rc) after ${execs:-?} executions; see $log and $art/" >&2
		grep -m3 -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|Test unit written' "$log" >&2
	fi
	summary="$summary$(printf '%-16s %12s executions%s' "$t" "${execs:-?}" \
		"$([ $rc -ne 0 ] && echo '  FAILED')")
"
done
printf '\nfuzz: executions per target (%ss each)\n%s' "$secs" "$summary"
exit $failed
