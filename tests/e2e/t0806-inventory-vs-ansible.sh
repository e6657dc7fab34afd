#!/bin/sh
# kplan inventory --list against ansible-inventory --list: INI values of
# every shape (host lines and :vars sections) typed as ast.literal_eval
# types them, the repository's example inventories, and a legacy
# kubespray inventory (kube-master, kube-node, calico-rr, no-floating)
# whose compatibility groups follow kubespray's dynamic_groups (k8s_cluster
# holds calico_rr) and add no variables ansible-inventory would not
# (group_vars/k8s_cluster/ is not read for a group the inventory lacks);
# the inventory_hostnames lookup against ansible-playbook's.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-inventory >/dev/null 2>&1; then
	echo "# SKIP inventory vs Ansible: no ansible-inventory"
	exit 0
fi
root=$(pwd)
cd "$E2E_TMP" || exit 1
cat >shapes.ini <<'INI'
[web]
h1 a=true b=True c=false d=False e=yes f=no g=None h=none i=null j=1 k=-3 l=0x1f m=010 n=1_000 o=1.5 p=1e3 q=.5 r=inf s=nan t='quoted' u="dq" v=[1,2] w={'a':1} x=(1,2) y=1.0.0 z=v1.13.3 aa="a b" ab='it''s' ac=0o17 ad=0b101 ae=-0 af=+5 ag=1e ah=[1, ai=12:30 aj=2026-01-01 ak=~ am=0.1.2-00 an="True" ao=u'x' ap=b'x' ar=-1.5e-3 at=1_0.5 au="{'k': [1, (2, 3)], 'n': None}" av=1, aw="'a' 'b'" ax=0_0 ay=1__0 az=-1e5 ba=5. bb="r'\d+'" bc="'tab\there'"
h2 ansible_host=10.0.0.2 ansible_port=2222 ip=10.0.0.2

[web:vars]
gv_true=true
gv_True=True
gv_int=42
gv_float=1.5
gv_list=[1,2]
gv_none=None
gv_str='quoted'
gv_ver=1.13.3-00
gv_dict={"a": [1, 2]}
gv_spaces = spaced value
INI
mkdir -p legacy/group_vars/k8s_cluster legacy/group_vars/all
cat >legacy/hosts.yaml <<'YAML'
all:
  children:
    kube-master:
      hosts:
        m1: {ip: 10.0.0.1}
    etcd:
      hosts:
        m1:
    kube-node:
      hosts:
        n1:
        n2:
    calico-rr:
      hosts:
        rr1:
    no-floating:
      hosts:
        n2:
YAML
echo "from_k8s_cluster_dir: 1" >legacy/group_vars/k8s_cluster/main.yml
echo "from_all_dir: 2" >legacy/group_vars/all/main.yml

for inv in shapes.ini legacy "$root/inventory-examples/hosts.ini" "$root/inventory-examples/hosts.yml"; do
	name=$(basename "$inv")
	ansible-inventory -i "$inv" --list >a.json 2>a.err
	"$KPLAN" inventory --list -i "$inv" >k.json 2>k.err
	/usr/bin/python3 "$root/tests/e2e/invcompare.py" a.json k.json >diff.txt
	check "$name: the same hosts, groups and typed variables as ansible-inventory" "" "$(cat diff.txt)"
done
"$KPLAN" inventory --list -i legacy >k.json
check "legacy: k8s_cluster holds kube_control_plane, kube_node and calico_rr" \
	"kube_control_plane kube_node calico_rr" \
	"$(/usr/bin/python3 -c 'import json; print(" ".join(json.load(open("k.json"))["k8s_cluster"]["children"]))')"
check "legacy: the dashed names are children of the canonical ones" \
	"kube-master kube-node calico-rr no-floating" \
	"$(/usr/bin/python3 -c 'import json; d=json.load(open("k.json")); print(" ".join(d[g]["children"][0] for g in ("kube_control_plane","kube_node","calico_rr","no_floating")))')"

# the inventory_hostnames lookup: the hosts of each pattern, in order, as
# ansible-playbook's (unions, intersections, exclusions, wildcards, a
# regex, subscripts, commas, several terms, no match)
printf '[web]\nw1\nw2\nw3\n[db]\nd1\nw2\n[other]\nx9\n' >ih.ini
cat >ih.yml <<'PLAY'
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    pats: [all, "web:db", "web:&db", "all:!web", "!db", "w*", "~[dx]\\d", "web[0]", "web[1:2]",
           "web[-1]", "web[1:]", "web[0-1]:!w1", "db,w3", "d*:w1 , x9", nosuch]
  tasks:
    - copy:
        dest: "{{ out }}"
        content: |
          {% for p in pats %}{{ p }} = {{ query('inventory_hostnames', p) | join(' ') }}
          {% endfor %}two terms = {{ query('inventory_hostnames', 'w1', 'db') | join(' ') }}
          lookup = {{ lookup('inventory_hostnames', 'web') }}
PLAY
ansible-playbook -i ih.ini ih.yml -e out="$E2E_TMP/ih-a.txt" >ih-a.log 2>&1
"$KPLAN" run ih.yml -i ih.ini -e out="$E2E_TMP/ih-k.txt" >ih-k.log 2>&1
check "ansible-playbook wrote the patterns' hosts" "web:&db = w2" "$(grep -F 'web:&db' ih-a.txt 2>&1)"
check "inventory_hostnames: the hosts of every pattern as ansible-playbook's" "$(cat ih-a.txt)" "$(cat ih-k.txt 2>&1)"
