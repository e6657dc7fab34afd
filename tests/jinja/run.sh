#!/bin/sh
# run.sh - the Jinja corpus: kplan's answers against ansible-core's.
#
#   tests/jinja/run.sh [JINJA_EVAL] [THEME...]
#   tests/jinja/run.sh --update [THEME...]
#
# First re-derives every expectation with oracle.py (ansible-core's own
# templating) and checks it equals the committed tests/jinja/expected/
# file, so the corpus never drifts from Ansible (--update rewrites them
# instead, and stops there). Then renders each case through kplan (JINJA_EVAL, default
# build/tests/jinja-eval) and compares value by value. Prints each failure
# and "N passed, N failed"; exits 1 on any failure or drift.
set -u
here=$(cd "$(dirname "$0")" && pwd)
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
bin=build/tests/jinja-eval
case "${1:-}" in */*) bin=$1; shift ;; esac
if [ $# -gt 0 ]; then
	themes=$*
else
	themes=$(cd "$here/cases" && ls *.yml | sed 's/\.yml$//')
fi
py=/usr/bin/python3 # Debian's python3, where Debian's ansible is

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/ansible" "$tmp/kplan" "$tmp/local"
: >"$tmp/ansible.cfg"
# the same environment for Ansible and kplan: a fixed $HOME (expanduser),
# one variable for the env lookup, no ansible.cfg from the caller
export HOME=/nonexistent/kplan-jinja-home KPLAN_JINJA_ENV=from-env
export ANSIBLE_CONFIG="$tmp/ansible.cfg" ANSIBLE_LOCAL_TEMP="$tmp/local"
export ANSIBLE_DEPRECATION_WARNINGS=false ANSIBLE_NOCOLOR=1

files=
for t in $themes; do files="$files $here/cases/$t.yml"; done
status=0
if [ $update = 1 ]; then
	KPLAN_JINJA_TMP="$tmp/ansible" $py "$here/oracle.py" $files 2>"$tmp/oracle.log" || {
		cat "$tmp/oracle.log" >&2
		exit 1
	}
	echo "expected/ rewritten from ansible-core's answers for:" $themes
	exit 0
else
	if ! KPLAN_JINJA_TMP="$tmp/ansible" $py "$here/oracle.py" --check $files \
		2>"$tmp/oracle.log"; then
		grep -v '^\[WARNING\]\|^  *\|^see paths\|^could not locate\|^Error was\|^.file.\.' \
			"$tmp/oracle.log" >&2
		echo "the committed expectations are not what ansible-core answers" >&2
		status=1
	fi
fi

if [ ! -x "$bin" ]; then
	echo "run.sh: '$bin' is not built (make $bin)" >&2
	exit 1
fi
passed=0
failed=0
for t in $themes; do
	exp="$here/expected/$t.json"
	if ! KPLAN_JINJA_TMP="$tmp/kplan" "$bin" "$here/data" "$tmp/kplan" "$exp" \
		>"$tmp/$t.out" 2>"$tmp/$t.err"; then
		echo "FAIL $t: jinja-eval stopped:" >&2
		cat "$tmp/$t.err" >&2
		n=$($py -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$exp")
		failed=$((failed + n))
		continue
	fi
	$py "$here/compare.py" "$exp" "$tmp/$t.out" >"$tmp/$t.cmp"
	grep -v '^[a-z0-9-]*: [0-9]* passed, [0-9]* failed$' "$tmp/$t.cmp"
	line=$(tail -n 1 "$tmp/$t.cmp")
	p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
done
echo "jinja: $passed passed, $failed failed"
[ $failed -eq 0 ] || status=1
exit $status
