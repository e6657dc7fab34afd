#!/bin/sh
# Roles and includes before and after anything runs: `kplan plan` shows a
# role's tasks under ROLE and says when what an include brings is known
# only at run time; an include whose templated file name is missing on
# one host fails that host alone, naming the include; validate names the
# place of each mistake in roles and includes.
. "$(dirname "$0")/lib.sh"
cd "$E2E_TMP" || exit 1
mkdir -p roles/r/tasks roles/r/defaults
echo 'r_default: rd' >roles/r/defaults/main.yml
cat >roles/r/tasks/main.yml <<'Y'
- name: in r
  debug: {msg: "r {{ r_default }} {{ role_name }}"}
Y
echo '- {name: in a, debug: {msg: "a {{ item | default(0) }}"}}' >a.yml
cat >plan.yml <<'Y'
- name: p
  hosts: all
  roles: [r]
  tasks:
    - name: by name
      include_tasks: "{{ which }}.yml"
    - name: looped
      include_tasks: a.yml
      loop: [1, 2]
    - name: literal
      include_tasks: a.yml
Y
printf 'h1 ansible_connection=local which=a\nh2 ansible_connection=local which=missing\n' >inv.ini
cat >plan.expected <<'OUT'
  BATCH 1/1 [h1, h2]
    ROLE [r]
      TASK [in r] debug
        h1: msg="r rd r"
        h2: msg="r rd r"
    INCLUDE [by name] include_tasks: the file is named by a template, known only when it runs
    INCLUDE [looped] include_tasks: runs its tasks once per loop item, known only when it runs
    INCLUDE [literal] include_tasks
      TASK [in a] debug
        h1: msg="a 0"
        h2: msg="a 0"
OUT
"$KPLAN" plan plan.yml -i inv.ini --no-fold >plan.out 2>&1
sed -n '/BATCH 1/,$p' plan.out | grep -v '^$' >plan.got
if diff plan.expected plan.got >plan.diff; then
	echo "ok - plan shows roles and what includes bring"
else
	echo "not ok - plan preview"
	sed 's/^/    /' plan.diff | head -20
fi

"$KPLAN" run plan.yml -i inv.ini >run.out 2>&1
check "a missing included file fails its host: exit 1" 1 "$?"
expect_grep "the failure names the include" 1 \
	"failed: \[h2\] .*plan.yml:5:7: cannot read 'missing.yml': No such file or directory" \
	"$KPLAN" run plan.yml -i inv.ini
check "the other host runs the included files" 4 "$(grep -c 'ok: \[h1\] .* a [012]$' run.out)"
check "h2 runs nothing after its failed include" 0 "$(grep -c 'ok: \[h2\] .* a ' run.out)"

# mistakes, each where it was written
bad() { # NAME MESSAGE PLAN-TEXT
	printf '%s\n' "$3" >bad.yml
	expect_stderr "$1" 2 "$2" "$KPLAN" validate bad.yml
}
bad "a role that is not there" \
	"error: bad.yml:3:7: role 'nosuch' not found (looked in ./roles, .)" \
	'- hosts: all
  roles:
    - nosuch'
bad "import_tasks cannot be a template" \
	"error: bad.yml:3:21: 'import_tasks' is resolved when the plan loads and cannot hold a template (include_tasks can)" \
	'- hosts: all
  tasks:
    - import_tasks: "{{ f }}.yml"'
bad "import_tasks takes no loop" \
	"error: bad.yml:4:7: 'loop' cannot be used with 'import_tasks'" \
	'- hosts: all
  tasks:
    - import_tasks: a.yml
      loop: [1]'
bad "include_role's role is found at load" \
	"error: bad.yml:4:15: the role of 'include_role' is found when the plan loads and its name cannot hold a template" \
	'- hosts: all
  tasks:
    - include_role:
        name: "{{ r }}"'
bad "include_role's keys are checked" \
	"error: bad.yml:5:9: unknown key 'task_from' in include_role (did you mean 'tasks_from'?)" \
	'- hosts: all
  tasks:
    - include_role:
        name: r
        task_from: x'
bad "a role's tasks_from must exist" \
	"error: bad.yml:3:27: role 'r' has no tasks file 'nope'" \
	'- hosts: all
  tasks:
    - import_role: {name: r, tasks_from: nope}'
bad "a role parameter's template is checked" \
	"error: bad.yml:3:20: invalid template '{{ x': unexpected end of template, expected 'end of print statement' (line 1, column 5)
    {{ x
        ^" \
	'- hosts: all
  roles:
    - {role: r, p: "{{ x"}'
bad "import_playbook's keys" \
	"error: bad.yml:2:3: unknown key 'hosts' in import_playbook" \
	'- import_playbook: plan.yml
  hosts: all'
