#!/bin/sh
# Roles and includes on the local connection, run by ansible-playbook
# (json callback) and by kplan: every task in the same order with the same
# status, every debug message the same (variable precedence: role defaults
# < inventory < play vars < role vars < role parameters < extra vars;
# role_name, role_path, playbook_dir), the same files written by a role's
# template and copy, and --list-tasks the same.
# Covers roles: (strings, role:, params, vars:, when:, tags:), meta
# dependencies (once), role handlers, import_role, include_role (when,
# loop, tasks_from, vars_from, defaults_from, public), include_tasks (loop, vars,
# when, a templated file name, bare include), import_tasks with vars,
# import_playbook with vars and when, roles_path from ansible.cfg.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP roles vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
mkdir -p p/roles/web/tasks p/roles/web/defaults p/roles/web/vars p/roles/web/handlers \
	p/roles/web/templates p/roles/web/files p/roles/web/meta p/roles/base/tasks \
	p/roles/base/defaults p/shared/roles/extra/tasks p/shared/roles/extra/defaults \
	p/shared/roles/extra/vars
cd p || exit 1
printf '[defaults]\nroles_path = shared/roles\n' >ansible.cfg
cat >inv.ini <<'INV'
localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3 inv_over_default=from-inventory play_over_inv=from-inventory
INV
cat >roles/web/defaults/main.yml <<'Y'
web_default: from-defaults
inv_over_default: from-defaults
play_over_inv: from-defaults
rolevar_over_play: from-defaults
param_over_rolevar: from-defaults
extra_over_all: from-defaults
Y
cat >roles/web/vars/main.yml <<'Y'
rolevar_over_play: from-role-vars
param_over_rolevar: from-role-vars
Y
cat >roles/web/meta/main.yml <<'Y'
dependencies:
  - role: base
Y
cat >roles/web/tasks/main.yml <<'Y'
- name: web vars
  debug:
    msg: "{{ role_name }} {{ web_default }} {{ inv_over_default }} {{ play_over_inv }} {{ rolevar_over_play }} {{ param_over_rolevar }} {{ extra_over_all }} {{ base_default }}"
- name: web paths
  debug:
    msg: "{{ role_path | basename }} {{ playbook_dir == lookup('env', 'PWD') }}"
- name: web template
  template:
    src: page.j2
    dest: "{{ out }}/page-{{ param_over_rolevar }}.txt"
  notify: web restarted
- name: web copy
  copy:
    src: static.txt
    dest: "{{ out }}/static.txt"
- name: web include
  include_tasks: more.yml
Y
cat >roles/web/tasks/more.yml <<'Y'
- name: web more
  debug:
    msg: "more in {{ role_name }}"
Y
cat >roles/web/tasks/other.yml <<'Y'
- name: web other
  debug:
    msg: "other {{ web_default }} {{ alt_var | default('no alt') }} {{ item | default('-') }}"
Y
cat >roles/web/vars/alt.yml <<'Y'
alt_var: from-alt-vars
Y
cat >roles/web/defaults/alt.yml <<'Y'
web_default: from-alt-defaults
Y
cat >roles/web/handlers/main.yml <<'Y'
- name: web restarted
  debug:
    msg: "handler of {{ role_name }}"
Y
printf 'page {{ web_default }} {{ rolevar_over_play }}\n' >roles/web/templates/page.j2
printf 'static file\n' >roles/web/files/static.txt
cat >roles/base/defaults/main.yml <<'Y'
base_default: base-default
Y
cat >roles/base/tasks/main.yml <<'Y'
- name: base task
  debug:
    msg: "base {{ role_name }}"
Y
cat >shared/roles/extra/defaults/main.yml <<'Y'
extra_default: extra-default
Y
cat >shared/roles/extra/vars/main.yml <<'Y'
extra_private: extra-var
Y
cat >shared/roles/extra/tasks/main.yml <<'Y'
- name: extra task
  debug:
    msg: "extra {{ extra_default }} {{ extra_private }} {{ x | default('nox') }}"
Y
cat >inc.yml <<'Y'
- name: inc task
  debug:
    msg: "inc {{ item | default('-') }} {{ x | default('nox') }}"
Y
cat >imp.yml <<'Y'
- name: imp task
  debug:
    msg: "imp {{ y }}"
Y
cat >second.yml <<'Y'
- name: second play
  hosts: all
  tasks:
    - name: second task
      debug:
        msg: "second {{ from_import }}"
Y
cat >site.yml <<'Y'
- name: roles
  hosts: all
  vars:
    play_over_inv: from-play
    rolevar_over_play: from-play
    param_over_rolevar: from-play
    extra_over_all: from-play
    incname: inc
  roles:
    - base
    - role: web
      param_over_rolevar: from-param
    - role: web
      vars:
        param_over_rolevar: from-role-entry-vars
    - role: extra
      when: false
    - {role: extra, tags: extra_tag}
  tasks:
    - name: after roles
      debug:
        msg: "after {{ extra_default }} {{ extra_private | default('hidden') }} {{ web_default }}"
    - name: include loop
      include_tasks: inc.yml
      loop: [a, b]
      vars:
        x: "{{ item }}x"
    - name: include skipped
      include_tasks: inc.yml
      when: false
    - name: include templated
      include_tasks: "{{ incname }}.yml"
    - include: inc.yml
    - name: import with vars
      import_tasks: imp.yml
      vars:
        y: imported
    - name: import role
      import_role:
        name: base
    - name: include role
      include_role:
        name: web
        tasks_from: other
        vars_from: alt
        defaults_from: alt
    - name: include role loop
      include_role:
        name: extra
      loop: [1, 2]
      vars:
        x: "{{ item }}"
    - name: include role skipped
      include_role:
        name: extra
      when: false
    - name: private after include_role
      debug:
        msg: "{{ alt_var | default('alt hidden') }}"
    - name: include role public
      include_role:
        name: web
        tasks_from: other
        vars_from: alt
        public: true
    - name: public after include_role
      debug:
        msg: "{{ alt_var | default('alt hidden') }}"
- name: imported
  import_playbook: second.yml
  vars:
    from_import: import-vars
- name: imported not run
  import_playbook: second.yml
  when: false
Y
# ansible wants gather_facts off to match kplan, which gathers nothing
sed 's/^  hosts: all$/&\n  gather_facts: false/' site.yml >a-site.yml
sed 's/^  hosts: all$/&\n  gather_facts: false/' second.yml >a-second.yml
sed -i 's/second.yml/a-second.yml/' a-site.yml
mkdir -p a-out k-out
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini a-site.yml -e out="$PWD/a-out" \
	-e extra_over_all=from-extra >a.json 2>a.err
echo "$?" >a.rc
"$KPLAN" run site.yml -i inv.ini -e out="$PWD/k-out" -e extra_over_all=from-extra \
	--format json >k.json 2>k.err
echo "$?" >k.rc
check "exit codes as Ansible" "$(cat a.rc)" "$(cat k.rc)"
/usr/bin/python3 - a.json k.json <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
want = []
for play in a["plays"]:
    for t in play["tasks"]:
        h = t["hosts"].get("localhost")
        if h is None:
            continue
        st = ("skipped" if h.get("skipped") else "failed" if h.get("failed")
              else "changed" if h.get("changed") else "ok")
        msg = h.get("msg") if h.get("action") in ("debug", "ansible.builtin.debug") else None
        want.append((t["task"]["name"], st, msg))
got = []
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result" and e.get("host") == "localhost":
        msg = e.get("msg") if e.get("module", "debug") == "debug" else None
        got.append((e["task"], e["status"], msg))
# a skipped include reports nothing in kplan's json per item; compare in order
ok = True
for i in range(max(len(want), len(got))):
    w = want[i] if i < len(want) else None
    g = got[i] if i < len(got) else None
    if w is None or g is None or w[0] != g[0] or w[1] != g[1] or (w[2] is not None and w[2] != g[2]):
        print(f"not ok - task {i}: ansible {w} kplan {g}")
        ok = False
if ok:
    print(f"ok - {len(want)} task results as Ansible (names, statuses, debug messages)")
PY
for f in page-from-param.txt page-from-role-vars.txt static.txt; do
	if [ -f "a-out/$f" ] && cmp -s "a-out/$f" "k-out/$f"; then
		echo "ok - role wrote $f as Ansible"
	else
		echo "not ok - role file $f differs or is missing"
		diff "a-out/$f" "k-out/$f" 2>&1 | head -5
	fi
done
ansible-playbook -i inv.ini a-site.yml --list-tasks 2>/dev/null | sed '1,2d; s/a-site.yml/site.yml/' |
	grep -v "^ *$" >a.list
"$KPLAN" run site.yml -i inv.ini --list-tasks | sed 1d | grep -v "^ *$" >k.list
if diff a.list k.list >list.diff; then
	echo "ok - --list-tasks as Ansible"
else
	echo "not ok - --list-tasks differs from Ansible"
	head -20 list.diff
fi
