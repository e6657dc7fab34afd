#!/bin/sh
# Real playbooks, task files and inventories from public repositories
# (tests/data/real/, sources in SOURCES.md) against kplan:
#
#  - every inventory: `kplan inventory --list` must equal
#    `ansible-inventory --list` (tests/e2e/invcompare.py); a difference
#    fails the script;
#  - every playbook and task file: `kplan validate` (a task file inside a
#    one-play plan that imports it), run in its repository's directory so
#    that the repository's ansible.cfg applies; the result of each, ok or the first
#    line of the error, is printed, and compared with RESULTS.txt, which
#    records what is known not to load yet and why. A file that starts to
#    validate, or fails differently, is reported, not failed; --record
#    rewrites RESULTS.txt.
#  - kubespray's ansible.cfg is read without an error.
#
# usage: tests/real.sh KPLAN [--record]
set -u
kplan=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
record=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
real=$root/tests/data/real
tmp=$(mktemp -d /tmp/kplan-real.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
ok=0

if command -v ansible-inventory >/dev/null 2>&1; then
	for inv in kubespray/inventory/sample/inventory.ini kubespray/inventory/local/hosts.ini k3s-ansible/inventory-sample.yml impsik-kubernetes/hosts giorgioaresu-homelab/inventory; do
		(cd "$real" && ansible-inventory -i "$inv" --list >"$tmp/a.json" 2>"$tmp/a.err")
		(cd "$real" && "$kplan" inventory -i "$inv" --list >"$tmp/k.json" 2>"$tmp/k.err")
		if /usr/bin/python3 "$root/tests/e2e/invcompare.py" "$tmp/a.json" "$tmp/k.json" >"$tmp/diff" 2>&1; then
			echo "ok - inventory $inv: as ansible-inventory --list"
			ok=$((ok + 1))
		else
			echo "not ok - inventory $inv"
			sed 's/^/    /' "$tmp/diff" "$tmp/k.err" | head -10
			fail=$((fail + 1))
		fi
	done
else
	echo "# SKIP inventories: no ansible-inventory"
fi

(cd "$real/kubespray" && ANSIBLE_CONFIG=ansible.cfg "$kplan" validate -v "$real/kubespray/playbooks/boilerplate.yml" >/dev/null 2>"$tmp/cfg.err")
if grep -q "^error: .*ansible\.cfg" "$tmp/cfg.err"; then
	echo "not ok - kubespray's ansible.cfg"
	sed 's/^/    /' "$tmp/cfg.err" | head -5
	fail=$((fail + 1))
else
	echo "ok - kubespray's ansible.cfg reads"
	ok=$((ok + 1))
fi

# validate every playbook and task file
: >"$tmp/results"
for f in $(cd "$real" && find . \( -name '*.yml' -o -name '*.yaml' \) ! -path '*/inventory/*' ! -name 'inventory-sample.yml' ! -path '*/defaults/*' ! -path '*/vars/*' ! -path '*/meta/*' ! -path '*/group_vars/*' ! -path '*/host_vars/*' ! -path '*/templates/*' ! -path '*/files/*' | sed 's|^\./||' | sort); do
	case $f in
	*/tasks/*)
		# a role's task file in its role: the role's defaults and vars
		# apply, as they do where the role uses it (import_role tasks_from)
		plan=$tmp/wrap.yml
		role=${f%%/tasks/*} from=${f#*/tasks/} from=${from%.yaml}
		printf -- '- name: wrapper\n  hosts: all\n  gather_facts: false\n  tasks:\n    - import_role:\n        name: %s\n        tasks_from: %s\n' "$real/$role" "${from%.yml}" >"$plan"
		;;
	*/handlers/*)
		plan=$tmp/wrap.yml
		printf -- '- name: wrapper\n  hosts: all\n  gather_facts: false\n  handlers:\n    - import_tasks: %s\n' "$real/$f" >"$plan"
		;;
	*) plan=$real/$f ;;
	esac
	# from the repository's top, as ansible-playbook is run there: its
	# ansible.cfg (roles_path) applies. k3s-ansible's names ./inventory.yml,
	# which users make from inventory-sample.yml: that one stands in.
	inv=
	case $f in k3s-ansible/*) inv=inventory-sample.yml ;; esac
	if (cd "$real/${f%%/*}" && ANSIBLE_INVENTORY=$inv "$kplan" validate "$plan" >/dev/null 2>"$tmp/v.err"); then
		res=ok
	else
		res=$(grep -v "^warning: " "$tmp/v.err" | head -1 | sed "s|$real/||g; s|$tmp/||g; s|$tmp|TMP|g")
	fi
	printf '%s\t%s\n' "$f" "$res" >>"$tmp/results"
done
if [ "$record" = --record ]; then
	cp "$tmp/results" "$real/RESULTS.txt"
	echo "# recorded $(wc -l <"$tmp/results") validate results in tests/data/real/RESULTS.txt"
fi
while IFS="$(printf '\t')" read -r f res; do
	want=$(awk -F '\t' -v f="$f" '$1 == f { print $2 }' "$real/RESULTS.txt" 2>/dev/null)
	if [ "$res" = ok ] && [ "$want" = ok ]; then
		echo "ok - validate $f"
	elif [ "$res" = "$want" ]; then
		echo "# known: validate $f: $res"
	else
		echo "# changed: validate $f: now '$res', recorded '$want'"
	fi
done <"$tmp/results"
# --list-hosts and --list-tasks of every playbook that validates, against
# ansible-playbook's (tests/e2e/listcompare.py), from the repository's
# directory with its inventory (a two-host one where it has none)
if command -v ansible-playbook >/dev/null 2>&1; then
	printf '[nodes]\nnode1\nnode2\n' >"$tmp/hosts.ini"
	while IFS="$(printf '\t')" read -r f res; do
		case $f in */tasks/* | */handlers/*) continue ;; esac
		[ "$res" = ok ] || continue
		repo=${f%%/*} pb=${f#*/}
		case $repo in
		k3s-ansible) inv=inventory-sample.yml ;;
		kubespray) inv=inventory/sample/inventory.ini ;;
		impsik-kubernetes) inv=hosts ;;
		*) inv=$tmp/hosts.ini ;;
		esac
		if ! (cd "$real/$repo" && ansible-playbook -i "$inv" "$pb" --list-hosts --list-tasks >"$tmp/a.list" 2>"$tmp/a.err"); then
			echo "# SKIP --list-hosts --list-tasks $f: ansible-playbook: $(grep -m1 ERROR "$tmp/a.err" | cut -c1-120)"
			continue
		fi
		(cd "$real/$repo" && "$kplan" run "$pb" -i "$inv" --list-hosts --list-tasks >"$tmp/k.list" 2>"$tmp/k.err")
		if /usr/bin/python3 "$root/tests/e2e/listcompare.py" both "$tmp/a.list" "$tmp/k.list" >"$tmp/diff" 2>&1; then
			echo "ok - --list-hosts --list-tasks $f: as ansible-playbook"
			ok=$((ok + 1))
		else
			echo "not ok - --list-hosts --list-tasks $f"
			sed 's/^/    /' "$tmp/diff" "$tmp/k.err" | head -8
			fail=$((fail + 1))
		fi
	done <"$tmp/results"
else
	echo "# SKIP --list-hosts, --list-tasks: no ansible-playbook"
fi
echo "real: $ok passed, $fail failed (inventories, ansible.cfg, listings); $(grep -c '	ok$' "$tmp/results") of $(wc -l <"$tmp/results") plans validate"
[ "$fail" = 0 ]
