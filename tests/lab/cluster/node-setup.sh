# node-setup.sh REPO VERSION [SOURCE] - run inside a lab node by 'setup start'
# (through 'lab exec NAME -- /bin/sh -s REPO VERSION' with this on stdin;
# SOURCE: scenario 5's signed pkgs.k8s.io-style line, in kubernetes.list):
# apt reads only the lab repository; kubeadm, kubelet and kubectl VERSION
# are installed and held; the kubelet (and the units listed in
# /etc/kplan-lab/units: etcd) are enabled and started.
set -eu
repo=$1 ver=$2 src=${3:-}
export DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# the machine's sources, hidden in this node's overlay only
for f in /etc/apt/sources.list.d/*; do
	[ ! -e "$f" ] || rm -f "$f"
done
: >/etc/apt/sources.list
if [ -n "$src" ]; then
	echo "$src" >/etc/apt/sources.list.d/kubernetes.list
else
	echo "deb [trusted=yes] file:$repo ./" >/etc/apt/sources.list.d/kplan-lab.list
fi
rm -rf /var/lib/apt/lists/*
mkdir -p /var/lib/apt/lists/partial
apt-get update -q -o Dpkg::Use-Pty=0
apt-get install -y -q --allow-downgrades --no-install-recommends -o Dpkg::Use-Pty=0 \
	-o Dpkg::Options::=--force-confold \
	"kubeadm=$ver" "kubelet=$ver" "kubectl=$ver"
apt-mark hold kubeadm kubelet kubectl
systemctl daemon-reload
systemctl enable kubelet
systemctl start kubelet
systemctl is-active kubelet
# the scenario's other units (etcd, or the static pods' runner)
for u in $(cat /etc/kplan-lab/units 2>/dev/null); do
	systemctl enable "$u"
	systemctl start "$u"
done
