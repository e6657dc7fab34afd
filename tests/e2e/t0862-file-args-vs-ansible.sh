#!/bin/sh
# Arguments real roles use, against ansible-playbook on the same tree
# (each tool in its own copy): file recurse (mode inside a directory),
# file force (a link replaces a file), lineinfile mode and search_string,
# copy remote_src, a templated ignore_errors, no_log, run_once and become,
# file state hard, file attributes (chattr), fetch validate_checksum. The
# trees must end the same (paths, types, modes, owners, link counts, link
# targets, contents)
# and both tools must change as many tasks per host, in a first run and
# in a second one.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
mk() { # DIR: the starting tree
	mkdir -p "$1/d/sub"
	echo inside >"$1/d/sub/f"
	chmod 700 "$1/d/sub"
	chmod 600 "$1/d/sub/f"
	echo plain >"$1/link"
	printf 'a=1\n' >"$1/conf"
	chmod 600 "$1/conf"
	echo source >"$1/src.txt"
}
for d in a/h1 a/h2 k/h1 k/h2; do mk $d; done
cat >p.yml <<'PLAY'
- hosts: all
  gather_facts: false
  vars:
    quiet: "{{ 1 == 1 }}"
    once: "{{ 'yes' }}"
  tasks:
    - file: {path: "{{ root }}/d", state: directory, mode: "0755", recurse: true}
    - file: {dest: "{{ root }}/link", src: "{{ root }}/src.txt", state: link, force: true}
    - lineinfile: {path: "{{ root }}/conf", line: "b=2", mode: "0644"}
    - lineinfile: {path: "{{ root }}/conf", search_string: "a=1", line: "a=[3]"}
    - copy: {src: "{{ root }}/src.txt", dest: "{{ root }}/copied.txt", remote_src: true, mode: "0640"}
    - command: "false"
      changed_when: false
      ignore_errors: "{{ quiet }}"
      no_log: "{{ quiet }}"
    - command: "touch {{ root }}/once-{{ inventory_hostname }}"
      run_once: "{{ once }}"
    - file: {src: "{{ root }}/src.txt", dest: "{{ root }}/hard.txt", state: hard, mode: "0640"}
    - file: {path: "{{ root }}/conf", attributes: "+i"}
    - command: "lsattr -d {{ root }}/conf"
      register: r_attr
      changed_when: false
    - file: {path: "{{ root }}/conf", attributes: "-i"}
    - copy: {content: "{{ r_attr.stdout.split(' ')[0] }}", dest: "{{ root }}/attrs.txt"}
    - command: id -un
      become: "{{ quiet }}"
      become_user: nobody
      register: r_who
      changed_when: false
    - copy: {content: "{{ r_who.stdout }}", dest: "{{ root }}/who.txt"}
    - fetch: {src: "{{ root }}/who.txt", dest: "{{ root }}/fetched.txt", flat: true, validate_checksum: true}
PLAY
printf '[n]\nh1 ansible_connection=local root=%s/a/h1\nh2 ansible_connection=local root=%s/a/h2\n' "$E2E_TMP" "$E2E_TMP" >a.ini
printf '[n]\nh1 ansible_connection=local root=%s/k/h1\nh2 ansible_connection=local root=%s/k/h2\n' "$E2E_TMP" "$E2E_TMP" >k.ini
ansible-playbook -i a.ini p.yml >a.out 2>&1
check "ansible-playbook: exit 0" 0 "$?"
"$KPLAN" run p.yml -i k.ini >k.out 2>&1
check "kplan: exit 0" 0 "$?"
tree() { (cd "$1" && find . -printf '%p %y %m %u %n %l\n' | sort && find . -type f ! -name '*.out' -exec sh -c 'echo "$1: $(cat "$1")"' _ {} \; | sort); }
check "the same tree" "$(tree a | sed "s|$E2E_TMP/a|ROOT|g")" "$(tree k | sed "s|$E2E_TMP/k|ROOT|g")"
changed() { sed -n 's/^\(h[12]\) *: .*changed=\([0-9]*\).*/\1 \2/p' "$1" | sort; }
check "changed per host as ansible-playbook" "$(changed a.out)" "$(changed k.out)"
check "ignore_errors from a template: ignored=1" "ignored=1" "$(grep '^h1 ' k.out | grep -o 'ignored=[0-9]*')"
check "no_log from a template hides the output" 2 "$(grep -c 'ignored: .*<hidden by no_log>' k.out)"
"$KPLAN" run p.yml -i k.ini >k2.out 2>&1
ansible-playbook -i a.ini p.yml >a2.out 2>&1
check "second run: changed per host as ansible-playbook's second run" "$(changed a2.out)" "$(changed k2.out)"
