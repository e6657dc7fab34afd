#!/bin/sh
# The real-world corpus (tests/data/real/): every inventory lists as
# ansible-inventory lists it, kubespray's ansible.cfg reads; the
# playbooks' validate results are reported against RESULTS.txt.
. "$(dirname "$0")/lib.sh"
tests/real.sh "$KPLAN" >"$E2E_TMP/real.out" 2>&1
rc=$?
grep -E '^(not )?ok - ' "$E2E_TMP/real.out" | grep -v '^ok - validate'
check "tests/real.sh: exit 0" 0 "$rc"
