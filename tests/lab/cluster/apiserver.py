#!/usr/bin/python3
"""apiserver.py - the lab's Kubernetes API server (tests/lab/cluster/README.md).

HTTPS (TLS 1.2+) with client-certificate authentication required, one
thread per connection, HTTP/1.1 keep-alive; Python 3 standard library only.
It keeps the cluster in memory and serves real Kubernetes JSON shapes:

  /version, /healthz, /livez, /readyz; discovery (/api, /api/v1, /apis,
  /apis/GROUP/VERSION); nodes (+/status); pods (+/status, /eviction);
  namespaces; policy/v1 and v1beta1 PodDisruptionBudgets (status computed
  live); coordination.k8s.io/v1 Leases; apps/v1 Deployments, ReplicaSets,
  DaemonSets (read-only). Lists take labelSelector and fieldSelector.
  Patches: merge, strategic merge (maps merge, lists replace) and JSON
  patch. Errors are Status objects (400/404/405/409/415/422/429/500).
  meta.k8s.io/v1 Tables for clients that ask for them (kubectl get).

Simulated controllers: a deleted (or evicted) pod terminates for a moment
and goes; a ReplicaSet's pod is replaced ~1 s later, with a new name and UID,
on a schedulable Ready node (Running and Ready ~1 s after that); a
DaemonSet's pod comes back on its own node; a bare pod is gone. A node
whose kubelet stops posting status turns Ready=Unknown after a grace time;
a deleted node's pods are deleted with it; a registered node gets its
DaemonSet pods.

Lab-only endpoints (need the same client certificate):
  GET  /lab/state            the whole state (JSON)
  POST /lab/reset            back to the scenario's initial state
  PUT  /lab/version          {"gitVersion": "v1.13.3"}: the control plane's version
  GET  /lab/kubectl/get?resource=nodes|pods[&name=][&namespace=][&all=1][&wide=1]
                             kubectl's table as text (for the lab kubectl)
  POST /lab/settle           wait until no controller action is pending
  POST /lab/faults           {"status500": N, "drop": N[, "user": CN][, "agent": S]
                             [, "path": RE][, "methods": [M...]]}: the next N matching API
                             requests answer 500 / are carried out but their
                             answer is cut off mid-body and the connection
                             closed (alternating while both remain); {} clears
  GET  /lab/faults           what is left, and how many were injected
  POST /lab/hold             {"path": RE, "together": N[, "methods": [M...]][, "timeout": S]}:
                             the next matching API requests wait until N of them are in
                             (or S seconds, 30 by default, have passed since the first),
                             then all go on; each is marked "(held: K of N together)" or
                             "(held: K of N, timed out)" in the log; then the hold is
                             over; {} clears
  GET  /lab/hold             the hold, and how many requests it has
  POST /lab/workloads        Deployments and StatefulSets with their budgets, start and stop
                             times (see workloads()); starts the ready history
  GET  /lab/ready            {"history": {"NS/KIND/NAME": {"ready", "lowest", "lowestAt",
                             "want"[, "desired", "breaches"]}}}: each workload's ready
                             replicas and each budget's currentHealthy, now and at their
                             lowest, and how often a budget fell below desiredHealthy
  POST /lab/ready            start the history afresh

usage: apiserver.py --bind ADDR --port PORT --cert F --key F --ca F
                    --scenario N --nodes NAME=ADDR[,NAME=ADDR...]
                    [--node-grace SECONDS] [--log FILE] [--ready-file FILE]
"""
import argparse
import base64
import copy
import datetime
import http.server
import json
import math
import os
import random
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

LOCK = threading.RLock()
# injected faults (POST /lab/faults); never applied to /lab/ requests
FAULTS = {"status500": 0, "drop": 0, "user": None, "agent": None, "path": None, "methods": None,
          "injected": {"status500": 0, "drop": 0}}
COND = threading.Condition(LOCK)
# a hold (POST /lab/hold): requests that wait for each other, to show that a
# client has them in flight together (its own lock: held requests wait
# outside LOCK)
HOLD = {"path": None, "methods": None, "together": 0, "timeout": 30.0, "arrived": 0}
HOLD_COND = threading.Condition()
ARGS = None
LOG = None

# ---- versions ---------------------------------------------------------------------

BUILDS = {
    "v1.12.5": ("51dd616cdd25d6ee22c83a858773b607328a18ec", "2019-01-16T18:14:49Z", "go1.10.7"),
    "v1.13.0": ("ddf47ac13c1a9483ea035a79cd7c10005ff21a6d", "2018-12-03T20:56:12Z", "go1.11.2"),
    "v1.13.1": ("eec55b9ba98609a46fee712359c7b5b365bdd920", "2018-12-13T10:31:33Z", "go1.11.2"),
    "v1.13.2": ("cff46ab41ff0bb44d8584413b598ad8360ec1def", "2019-01-10T23:28:14Z", "go1.11.4"),
    "v1.13.3": ("721bfa751924da8d1680787490c54b9179b1fed0", "2019-02-01T20:00:57Z", "go1.11.5"),
    "v1.14.0": ("641856db18352033a0d96dbc99153fa3b27298e5", "2019-03-25T15:45:25Z", "go1.12.1"),
}


def version_info(git):
    commit, date, go = BUILDS.get(git, ("0000000000000000000000000000000000000000",
                                        "2019-01-01T00:00:00Z", "go1.11.5"))
    parts = git.lstrip("v").split(".")
    return {"major": parts[0], "minor": parts[1] if len(parts) > 1 else "0",
            "gitVersion": git, "gitCommit": commit, "gitTreeState": "clean",
            "buildDate": date, "goVersion": go, "compiler": "gc",
            "platform": "linux/amd64"}


# ---- time and names -------------------------------------------------------------------

def ts(t=None):
    return datetime.datetime.fromtimestamp(time.time() if t is None else t,
                                           datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    try:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return time.time()


def human_duration(secs):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration"""
    s = int(max(0, secs))
    if s < 60 * 2:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 60 * 3:
        return "%dm" % m
    h = m // 60
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd%dh" % (h // 24, h % 24) if h % 24 else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    return "%dy%dd" % (h // 24 // 365, (h // 24) % 365)


RAND = random.Random()
SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def suffix(n=5):
    return "".join(RAND.choice(SUFFIX) for _ in range(n))


# ---- the store ---------------------------------------------------------------------

# resource -> (group, version, kind, namespaced, short names, verbs)
RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
RESOURCES = {
    "nodes": ("", "v1", "Node", False, ["no"], RW),
    "pods": ("", "v1", "Pod", True, ["po"], RW),
    "namespaces": ("", "v1", "Namespace", False, ["ns"], ["create", "delete", "get", "list", "patch", "update", "watch"]),
    "poddisruptionbudgets": ("policy", "v1", "PodDisruptionBudget", True, ["pdb"], RW),
    "leases": ("coordination.k8s.io", "v1", "Lease", True, [], RW),
    "deployments": ("apps", "v1", "Deployment", True, ["deploy"], RW),
    "replicasets": ("apps", "v1", "ReplicaSet", True, ["rs"], RW),
    "daemonsets": ("apps", "v1", "DaemonSet", True, ["ds"], RW),
    "statefulsets": ("apps", "v1", "StatefulSet", True, ["sts"], RW),
}
RESOURCES["events"] = ("", "v1", "Event", True, ["ev"], RW)
RESOURCES["customresourcedefinitions"] = ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", False,
                                          ["crd", "crds"], RW)

# What each Kubernetes release served: api-versions.json (sources in it).
# Discovery and routing come from it alone, for the cluster's current
# version (PUT /lab/version moves it).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "api-versions.json")) as _f:
    API_TABLE = json.load(_f)


def minor_key(v):
    """'v1.13.3' or '1.13' -> (1, 13)"""
    m = re.match(r"v?(\d+)\.(\d+)", v or "")
    if not m:
        raise ValueError("not a Kubernetes version: %r" % v)
    return int(m.group(1)), int(m.group(2))


def in_release(entry, mk):
    return minor_key(entry["since"]) <= mk and ("until" not in entry or mk < minor_key(entry["until"]))


_SERVED = {}


def served(version=None):
    """what the release of `version` (default: the cluster's) serves:
    gvs {(group, version): {resource: entry}}, groups {group: [versions,
    preferred first]}, eviction (its entry), tables [meta.k8s.io versions]"""
    mk = minor_key(version or CL.version)
    if mk in _SERVED:
        return _SERVED[mk]
    gvs = {}
    for e in API_TABLE["resources"]:
        if in_release(e, mk):
            gvs.setdefault((e["group"], e["version"]), {})[e["resource"]] = e
    order = API_TABLE["versionOrder"]
    groups = {}
    for g in API_TABLE["groupOrder"]:
        vs = sorted((v for (gg, v) in gvs if gg == g), key=order.index)
        if vs:
            groups[g] = vs
    ev = next((e for e in API_TABLE["eviction"] if in_release(e, mk)), None)
    tables = [t["version"] for t in API_TABLE["table"] if in_release(t, mk)]
    _SERVED[mk] = {"gvs": gvs, "groups": groups, "eviction": ev, "tables": tables}
    return _SERVED[mk]


def gv_text(group, version):
    return (group + "/" if group else "") + version


def check_body_version(r, obj, kind, accepts=None):
    """the real server decodes a body of any version its scheme knows for
    the kind; one it does not know is a 400 with the decoder's words"""
    av = obj.get("apiVersion") if isinstance(obj, dict) else None
    if not av:
        return
    if accepts is None:
        accepts = [gv_text(g, v) for (g, v), res in served()["gvs"].items()
                   if any(e["kind"] == kind for e in res.values())]
    if av not in accepts:
        ver = av.split("/")[-1]
        raise ApiError(400, "BadRequest", '%s in version "%s" cannot be handled as a %s: no kind "%s" is '
                       'registered for version "%s"' % (kind, ver, kind, kind, av))


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def qualified(resource):
    g = RESOURCES[resource][0]
    return resource + ("." + g if g else "")


def not_found(resource, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(resource), name),
                    {"name": name, "group": RESOURCES[resource][0], "kind": resource})


class Cluster:
    def __init__(self, scenario, nodes):
        self.scenario, self.node_addrs = scenario, nodes
        self.reset()

    # -- bookkeeping
    def reset(self):
        self.rv = 1000
        self.objs = {r: {} for r in RESOURCES}
        self.timers = []  # (when, seq, fn)
        self.seq = 0
        self.version = ARGS.version if ARGS else "v1.13.0"
        self.heartbeat = {}
        self.stopped = set()  # uids of deleted pods whose containers have stopped
        self.watchlog = []    # (resourceVersion, type, resource, object): what watches stream
        self.epoch = getattr(self, "epoch", 0) + 1  # a reset ends every watch
        self.tracking = False  # /lab/workloads: the ready history of workloads and budgets
        self.history = {}
        RAND.seed(self.scenario)  # the same names after every reset (UIDs differ)
        load_scenario(self, self.scenario, self.node_addrs)

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def later(self, delay, fn):
        self.seq += 1
        self.timers.append((time.time() + delay, self.seq, fn))
        COND.notify_all()

    def key(self, resource, ns, name):
        return (ns or "", name) if RESOURCES[resource][3] else ("", name)

    def get(self, resource, ns, name):
        o = self.objs[resource].get(self.key(resource, ns, name))
        if o is None:
            raise not_found(resource, name)
        return o

    def find(self, resource, ns, name):
        return self.objs[resource].get(self.key(resource, ns, name))

    def put(self, resource, obj):
        md = obj["metadata"]
        md["resourceVersion"] = self.next_rv()
        key = self.key(resource, md.get("namespace"), md["name"])
        kind = "MODIFIED" if key in self.objs[resource] else "ADDED"
        self.objs[resource][key] = obj
        self.record(kind, resource, obj)
        if resource == "pods" and self.tracking:
            self.track(obj)
        COND.notify_all()
        return obj

    def remove(self, resource, obj):
        md = obj["metadata"]
        self.objs[resource].pop(self.key(resource, md.get("namespace"), md["name"]), None)
        md["resourceVersion"] = self.next_rv()
        self.record("DELETED", resource, obj)
        if resource == "pods" and self.tracking:
            self.track(obj)
        COND.notify_all()

    def record(self, kind, resource, obj):
        self.watchlog.append((self.rv, kind, resource, copy.deepcopy(obj)))
        if len(self.watchlog) > 20000:
            del self.watchlog[:10000]

    def event(self, obj, reason, message, kind="Normal", component="kubelet", host=None):
        """an Event about obj in its namespace, as the kubelet or a
        controller records it"""
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        now = ts()
        name = "%s.%x" % (md["name"], int(time.time() * 1e9))
        ev = {"kind": "Event", "apiVersion": "v1",
              "metadata": self.new_meta(name, ns),
              "involvedObject": {"kind": obj.get("kind") or "Pod", "namespace": ns, "name": md["name"],
                                 "uid": md.get("uid"), "apiVersion": obj.get("apiVersion", "v1"),
                                 "resourceVersion": md.get("resourceVersion")},
              "reason": reason, "message": message, "type": kind,
              "source": {"component": component} if not host else {"component": component, "host": host},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1}
        self.put("events", ev)

    def new_meta(self, name, ns=None, labels=None, owner=None, age=0.0, generate=None):
        md = {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": ts(time.time() - age)}
        if generate:
            md["generateName"] = generate
        if ns is not None:
            md["namespace"] = ns
        if labels:
            md["labels"] = dict(labels)
        if owner:
            md["ownerReferences"] = [{
                "apiVersion": "apps/v1", "kind": owner["kind"],
                "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                "controller": True, "blockOwnerDeletion": True}]
        return md

    # -- nodes
    def node_ready(self, node):
        for c in node.get("status", {}).get("conditions", []):
            if c.get("type") == "Ready":
                return c.get("status") == "True"
        return False

    def schedulable(self, node, pod):
        if node["spec"].get("unschedulable") or not self.node_ready(node):
            return False
        tolerations = pod["spec"].get("tolerations", [])
        for t in node["spec"].get("taints", []):
            if t.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(tolerates(tol, t) for tol in tolerations):
                return False
        sel = pod["spec"].get("nodeSelector") or {}
        labels = node["metadata"].get("labels", {})
        return all(labels.get(k) == v for k, v in sel.items())

    def pick_node(self, pod):
        """the least loaded schedulable node, preferring ones without a
        pod of the same owner (the scheduler's spreading, roughly)"""
        owner = owner_uid(pod)
        best = None
        for n in sorted(self.objs["nodes"].values(), key=lambda n: n["metadata"]["name"]):
            if not self.schedulable(n, pod):
                continue
            name = n["metadata"]["name"]
            here = [p for p in self.objs["pods"].values()
                    if p["spec"].get("nodeName") == name and not p["metadata"].get("deletionTimestamp")]
            same = sum(1 for p in here if owner and owner_uid(p) == owner)
            score = (same, len(here))
            if best is None or score < best[0]:
                best = (score, name)
        return best[1] if best else None

    # -- pods
    def pod_status(self, pod, phase, ready):
        now = ts()
        pod["status"]["phase"] = phase
        conds = [
            {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": now},
            {"type": "Ready", "status": "True" if ready else "False", "lastProbeTime": None,
             "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True" if ready else "False", "lastProbeTime": None,
             "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now},
        ]
        if not ready:
            for c in conds[1:3]:
                c["reason"] = "ContainersNotReady"
                c["message"] = "containers with unready status: [%s]" % ", ".join(
                    c2["name"] for c2 in pod["spec"]["containers"])
        pod["status"]["conditions"] = conds
        statuses = []
        for c in pod["spec"]["containers"]:
            st = {"name": c["name"], "ready": ready, "restartCount": 0, "image": c["image"],
                  "imageID": "docker-pullable://" + c["image"], "containerID": ""}
            if ready:
                st["containerID"] = "docker://" + uuid.uuid4().hex + uuid.uuid4().hex
                st["state"] = {"running": {"startedAt": now}}
            else:
                st["state"] = {"waiting": {"reason": "ContainerCreating"}}
            statuses.append(st)
        pod["status"]["containerStatuses"] = statuses

    def bind(self, pod, node_name):
        pod["spec"]["nodeName"] = node_name
        node = self.find("nodes", None, node_name)
        ip = addr_of(node) if node else ""
        pod["status"]["hostIP"] = ip
        if pod["spec"].get("hostNetwork"):
            pod["status"]["podIP"] = ip
        else:
            idx = sorted(self.objs["nodes"]).index(("", node_name)) if node else 0
            pod["status"]["podIP"] = "10.244.%d.%d" % (idx, RAND.randint(2, 250))
        pod["status"]["startTime"] = ts()
        self.pod_status(pod, "Pending", False)
        self.put("pods", pod)
        key = self.key("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        uid = pod["metadata"]["uid"]

        def run():
            p = self.objs["pods"].get(key)
            if p and p["metadata"]["uid"] == uid and not p["metadata"].get("deletionTimestamp"):
                self.pod_status(p, "Running", True)
                self.put("pods", p)
        start = (pod["metadata"].get("annotations") or {}).get("lab.kplan/start-seconds")
        self.later(float(start) if start is not None else ARGS.ready_delay, run)

    def schedule_pending(self):
        for p in list(self.objs["pods"].values()):
            if p["spec"].get("nodeName") or p["metadata"].get("deletionTimestamp"):
                continue
            node = self.pick_node(p)
            if node:
                self.bind(p, node)

    def pod_from_template(self, owner, node=None, name=None):
        tmpl = copy.deepcopy(owner["spec"]["template"])
        ns = owner["metadata"]["namespace"]
        if not name:
            name = owner["metadata"]["name"] + "-" + suffix()
        labels = dict(tmpl["metadata"].get("labels", {}))
        if owner["kind"] == "DaemonSet":
            labels["controller-revision-hash"] = owner["metadata"]["annotations"]["lab/revision-hash"]
            labels["pod-template-generation"] = "1"
        pod = {"kind": "Pod", "apiVersion": "v1",
               "metadata": self.new_meta(name, ns, labels, owner,
                                         generate=None if owner["kind"] == "StatefulSet"
                                         else owner["metadata"]["name"] + "-"),
               "spec": tmpl["spec"], "status": {"phase": "Pending", "qosClass": "BestEffort"}}
        if owner["kind"] == "StatefulSet":
            pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = name
        if tmpl["metadata"].get("annotations"):
            pod["metadata"]["annotations"] = dict(tmpl["metadata"]["annotations"])
        pod["spec"].setdefault("restartPolicy", "Always")
        pod["spec"].setdefault("terminationGracePeriodSeconds", 30)
        pod["spec"].setdefault("dnsPolicy", "ClusterFirst")
        pod["spec"].setdefault("schedulerName", "default-scheduler")
        pod["spec"].setdefault("serviceAccountName", "default")
        if owner["kind"] == "DaemonSet":
            pod["spec"]["tolerations"] = pod["spec"].get("tolerations", []) + DS_TOLERATIONS
        if node:
            self.bind(pod, node)
        else:
            node = self.pick_node(pod)
            if node:
                self.bind(pod, node)
            else:
                pod["status"]["conditions"] = [{
                    "type": "PodScheduled", "status": "False", "lastProbeTime": None,
                    "lastTransitionTime": ts(), "reason": "Unschedulable",
                    "message": "0/%d nodes are available." % len(self.objs["nodes"])}]
                self.put("pods", pod)
        return pod

    def replace_later(self, pod):
        """what the pod's controller does about its deletion"""
        ref = controller_ref(pod)
        if not ref:
            return
        ns = pod["metadata"]["namespace"]
        node = pod["spec"].get("nodeName")
        if ref["kind"] == "Node" and is_mirror(pod):
            gone = copy.deepcopy(pod)

            def again():
                n = self.find("nodes", None, node)
                if n and not self.find("pods", ns, gone["metadata"]["name"]):
                    p = copy.deepcopy(gone)
                    for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
                        p["metadata"].pop(k, None)
                    p["metadata"]["uid"] = str(uuid.uuid4())
                    p["metadata"]["creationTimestamp"] = ts()
                    mirror_meta(p, n)
                    self.put("pods", p)
            self.later(ARGS.replace_delay, again)
            return
        res = {"ReplicaSet": "replicasets", "DaemonSet": "daemonsets",
               "StatefulSet": "statefulsets"}.get(ref["kind"])
        if not res:
            return
        gone_name = pod["metadata"]["name"]

        def run():
            owner = self.find(res, ns, ref["name"])
            if not owner or owner["metadata"]["uid"] != ref["uid"]:
                return
            if res == "statefulsets":
                # the same identity, once the old pod is gone (OrderedReady:
                # a StatefulSet never runs two pods of one ordinal)
                if self.find("pods", ns, gone_name):
                    self.later(0.2, run)
                else:
                    self.pod_from_template(owner, name=gone_name)
            elif res == "daemonsets":
                if self.find("nodes", None, node):
                    self.pod_from_template(owner, node)
            else:
                active = [p for p in self.objs["pods"].values()
                          if owner_uid(p) == ref["uid"] and not p["metadata"].get("deletionTimestamp")]
                if len(active) < owner["spec"].get("replicas", 1):
                    self.pod_from_template(owner)
        self.later(ARGS.replace_delay, run)

    def delete_pod(self, pod, grace=None, dry=False):
        """graceful deletion as the API server and the kubelet do it: the
        pod gets its deletionTimestamp (now + grace) and stays Terminating
        until its containers have stopped (its grace period, or sooner when
        the containers stop on SIGTERM: the annotation lab.kplan/stop-seconds)
        and no finalizer is left; grace 0 or an unbound pod: at once"""
        md = pod["metadata"]
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        if dry:
            out = copy.deepcopy(pod)
            if pod["spec"].get("nodeName") and not md.get("deletionTimestamp"):
                out["metadata"]["deletionTimestamp"] = ts(time.time() + grace)
                out["metadata"]["deletionGracePeriodSeconds"] = grace
            return out
        if md.get("deletionTimestamp"):
            if grace == 0 or grace < (md.get("deletionGracePeriodSeconds") or 0):
                md["deletionGracePeriodSeconds"] = grace
                self.stop_containers(pod, grace)
            return copy.deepcopy(pod)
        if not pod["spec"].get("nodeName") or grace == 0:
            md["deletionTimestamp"] = ts()
            md["deletionGracePeriodSeconds"] = 0
            self.stopped.add(md["uid"])
            if not self.finish_delete(pod):
                self.put("pods", pod)
            self.replace_later(pod)
            return copy.deepcopy(pod)
        md["deletionTimestamp"] = ts(time.time() + grace)
        md["deletionGracePeriodSeconds"] = grace
        self.put("pods", pod)
        self.replace_later(pod)
        for c in pod["spec"].get("containers", []):
            self.event(pod, "Killing", "Stopping container %s" % c["name"], host=pod["spec"]["nodeName"])
        self.stop_containers(pod, grace)
        return copy.deepcopy(pod)

    def stop_containers(self, pod, grace):
        md = pod["metadata"]
        key = self.key("pods", md["namespace"], md["name"])
        uid = md["uid"]
        stop = (md.get("annotations") or {}).get("lab.kplan/stop-seconds")
        delay = min(float(grace), float(stop)) if stop is not None else float(grace)

        def stopped():
            p = self.objs["pods"].get(key)
            if p and p["metadata"]["uid"] == uid:
                self.stopped.add(uid)
                self.finish_delete(p)
        self.later(delay, stopped)

    def finish_delete(self, pod):
        """remove a deleted pod once its containers stopped and no
        finalizer holds it; True when it is gone"""
        md = pod["metadata"]
        if md.get("deletionTimestamp") and md["uid"] in self.stopped and not md.get("finalizers"):
            self.stopped.discard(md["uid"])
            self.remove("pods", pod)
            return True
        return False

    def mirror_pod(self, node, name, image, component, age):
        """the API's copy of a static pod the kubelet of `node` runs"""
        n = self.find("nodes", None, node)
        pod = {"kind": "Pod", "apiVersion": "v1",
               "metadata": self.new_meta(name + "-" + node, "kube-system",
                                         {"component": component, "tier": "control-plane"}, age=age),
               "spec": {"containers": [container(name, image, command=[name])],
                        "hostNetwork": True, "priorityClassName": "system-cluster-critical",
                        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}]},
               "status": {"qosClass": "Burstable"}}
        mirror_meta(pod, n)
        place_running(self, pod, node, age)
        return pod

    # -- the ready history (GET /lab/ready): what an operator would read off
    # the workloads' readyReplicas and the budgets' currentHealthy over time
    def track(self, pod):
        ref = controller_ref(pod)
        ns = pod["metadata"].get("namespace")
        res = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets"}.get(ref["kind"]) if ref else None
        owner = self.find(res, ns, ref["name"]) if res else None
        if owner:
            uid = owner["metadata"]["uid"]
            kind = owner["kind"]
            name = owner["metadata"]["name"]
            if kind == "ReplicaSet":  # its Deployment's name
                dref = controller_ref(owner)
                kind, name = ("Deployment", dref["name"]) if dref else (kind, name)
            ready = sum(1 for p in self.objs["pods"].values()
                        if owner_uid(p) == uid and pod_ready(p) and not p["metadata"].get("deletionTimestamp"))
            self.note("%s/%s/%s" % (ns, kind, name), ready, owner["spec"].get("replicas", 1), None)
        for b in self.budgets_for(pod):
            st = self.pdb_status(b)
            self.note("%s/PodDisruptionBudget/%s" % (ns, b["metadata"]["name"]), st["currentHealthy"],
                      st["expectedPods"], st["desiredHealthy"])

    def note(self, key, ready, want, desired):
        h = self.history.get(key)
        if h is None:
            h = self.history[key] = {"ready": ready, "lowest": ready, "lowestAt": ts(), "breaches": 0}
        if desired is not None:
            if ready < desired and h["ready"] >= h.get("desired", desired):
                h["breaches"] += 1
            h["desired"] = desired
        h["ready"], h["want"] = ready, want
        if ready < h["lowest"]:
            h["lowest"], h["lowestAt"] = ready, ts()

    # -- budgets
    def pdb_status(self, pdb):
        ns = pdb["metadata"]["namespace"]
        sel = pdb["spec"].get("selector")
        pods = [p for p in self.objs["pods"].values()
                if p["metadata"]["namespace"] == ns and sel is not None
                and selector_matches(sel, p["metadata"].get("labels", {}))]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        healthy = sum(1 for p in live if pod_ready(p))
        expected = None
        owners = {owner_uid(p) for p in pods}
        if owners and None not in owners:
            total = 0
            for uid in owners:
                rs = next((r for res in ("replicasets", "statefulsets") for r in self.objs[res].values()
                           if r["metadata"]["uid"] == uid), None)
                if rs is None:
                    total = None
                    break
                total += rs["spec"].get("replicas", 1)
            expected = total
        if expected is None:
            expected = len(live)
        spec = pdb["spec"]
        if "minAvailable" in spec:
            desired = int_or_percent(spec["minAvailable"], expected, True)
        elif "maxUnavailable" in spec:
            desired = max(0, expected - int_or_percent(spec["maxUnavailable"], expected, True))
        else:
            desired = expected
        allowed = max(0, healthy - desired) if expected else 0
        return {"observedGeneration": pdb["metadata"].get("generation", 1),
                "disruptionsAllowed": allowed, "currentHealthy": healthy,
                "desiredHealthy": desired, "expectedPods": expected,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": "True" if allowed else "False",
                    "reason": "SufficientPods" if allowed else "InsufficientPods",
                    "message": "", "observedGeneration": pdb["metadata"].get("generation", 1),
                    "lastTransitionTime": pdb["metadata"]["creationTimestamp"]}]}

    def budgets_for(self, pod):
        ns = pod["metadata"]["namespace"]
        return [b for b in self.objs["poddisruptionbudgets"].values()
                if b["metadata"]["namespace"] == ns and b["spec"].get("selector") is not None
                and selector_matches(b["spec"]["selector"], pod["metadata"].get("labels", {}))]

    # -- periodic work
    def tick(self):
        now = time.time()
        due = sorted(t for t in self.timers if t[0] <= now)
        self.timers = [t for t in self.timers if t[0] > now]
        for _, _, fn in due:
            try:
                fn()
            except Exception as e:  # a timer must never kill the loop
                log("timer failed: %r" % e)
        for n in self.objs["nodes"].values():
            name = n["metadata"]["name"]
            hb = self.heartbeat.get(name)
            if hb is None or now - hb <= ARGS.node_grace:
                continue
            for c in n["status"].get("conditions", []):
                if c.get("status") != "Unknown":
                    c["status"] = "Unknown"
                    c["reason"] = "NodeStatusUnknown"
                    c["message"] = "Kubelet stopped posting node status."
                    c["lastTransitionTime"] = ts()
                    self.put("nodes", n)
        self.schedule_pending()
        return min((t[0] for t in self.timers), default=now + 0.5) - now


# ---- helpers on objects ------------------------------------------------------------

DS_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def tolerates(tol, taint):
    if tol.get("effect") and tol["effect"] != taint.get("effect"):
        return False
    if tol.get("operator") == "Exists":
        return not tol.get("key") or tol["key"] == taint.get("key")
    return tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", "")


def is_mirror(pod):
    return "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {})


def mirror_meta(pod, node):
    """what the kubelet puts on a mirror pod: the config annotations and
    (since 1.17's MirrorPodNodeRestriction, done here for every version)
    its Node as owner"""
    h = uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(pod["spec"], sort_keys=True)).hex
    ann = pod["metadata"].setdefault("annotations", {})
    ann.setdefault("kubernetes.io/config.hash", h)
    ann.setdefault("kubernetes.io/config.mirror", ann["kubernetes.io/config.hash"])
    ann.setdefault("kubernetes.io/config.seen", ts())
    ann.setdefault("kubernetes.io/config.source", "file")
    if node and not pod["metadata"].get("ownerReferences"):
        pod["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node["metadata"]["name"],
                                               "uid": node["metadata"]["uid"], "controller": True}]


def controller_ref(obj):
    for r in obj["metadata"].get("ownerReferences", []) or []:
        if r.get("controller"):
            return r
    return None


def owner_uid(obj):
    r = controller_ref(obj)
    return r["uid"] if r else None


def pod_ready(p):
    if p.get("status", {}).get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in p["status"].get("conditions", []))


def addr_of(node):
    for a in node.get("status", {}).get("addresses", []):
        if a.get("type") == "InternalIP":
            return a.get("address", "")
    return ""


def int_or_percent(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        f = total * int(v[:-1]) / 100.0
        return int(math.ceil(f) if round_up else math.floor(f))
    return int(v)


def selector_matches(sel, labels):
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def bad_selector(msg):
    return ApiError(400, "BadRequest", msg)


def check_label_key(k):
    prefix, _, name = k.rpartition("/")
    if not LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix))) \
            or k.count("/") > 1:
        raise bad_selector('unable to parse requirement: invalid label key "%s": name part must consist of '
                           "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                           "alphanumeric character" % k)


def check_label_value(v):
    if v and not LABEL_NAME.match(v):
        raise bad_selector('unable to parse requirement: invalid label value: "%s": a valid label must be an '
                           "empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                           "start and end with an alphanumeric character" % v)


def parse_label_selector(s):
    """k8s.io/apimachinery labels.Parse: 'a=b,c!=d,e,!f,g in (h,i)' -> a
    predicate on labels; anything else is the server's 400"""
    terms, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    terms.append(cur)
    if depth:
        raise bad_selector("unable to parse requirement: found '%s', expected: ')'" % s)
    preds = []
    for t in (t.strip() for t in terms):
        if not t:
            if s.strip():
                raise bad_selector("found ',', expected: !, identifier, or 'end of string'")
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", t)
        if m:
            k, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            check_label_key(k)
            for v in vals:
                check_label_value(v)
            if op == "notin":
                preds.append(lambda l, k=k, vals=vals: not (k in l and l[k] in vals))
            else:
                preds.append(lambda l, k=k, vals=vals: l.get(k) in vals)
            continue
        m = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$", t)
        if m:
            k, op, v = m.groups()
            check_label_key(k)
            check_label_value(v)
            if op == "!=":
                preds.append(lambda l, k=k, v=v: l.get(k) != v)
            else:
                preds.append(lambda l, k=k, v=v: l.get(k) == v)
            continue
        m = re.match(r"^(!?)\s*([^=!\s()]+)$", t)
        if not m:
            raise bad_selector("unable to parse requirement: found '%s', expected: in, notin, =, ==, !=, "
                               "gt, lt" % t)
        check_label_key(m.group(2))
        if m.group(1):
            preds.append(lambda l, k=m.group(2): k not in l)
        else:
            preds.append(lambda l, k=m.group(2): k in l)
    return lambda labels: all(p(labels) for p in preds)


# the fields each resource can be selected by, with their zero values
# (a field the object leaves out is compared as its zero value)
FIELDS = {
    "pods": {"metadata.name": "", "metadata.namespace": "", "spec.nodeName": "",
             "spec.restartPolicy": "", "spec.schedulerName": "", "spec.serviceAccountName": "",
             "status.phase": "", "status.podIP": "", "status.nominatedNodeName": ""},
    "nodes": {"metadata.name": "", "spec.unschedulable": "false"},
    "events": {"metadata.name": "", "metadata.namespace": "", "involvedObject.kind": "",
               "involvedObject.namespace": "", "involvedObject.name": "", "involvedObject.uid": "",
               "involvedObject.apiVersion": "", "involvedObject.resourceVersion": "",
               "involvedObject.fieldPath": "", "reason": "", "source": "", "type": ""},
    "namespaces": {"metadata.name": "", "status.phase": ""},
}


def field_value(obj, path, zero=""):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return zero
        cur = cur.get(part)
    if cur is None:
        return zero
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict):  # events' source: the component
        return cur.get("component", "")
    return str(cur)


def parse_field_selector(s, resource=None):
    """fields.ParseSelector and the resource's field set: malformed or
    unknown fields are the server's 400"""
    known = FIELDS.get(resource, {"metadata.name": "", "metadata.namespace": ""})
    preds = []
    for t in (t.strip() for t in s.split(",")):
        if not t:
            if s.strip():
                raise bad_selector("invalid selector: '%s'; can't understand ''" % s)
            continue
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", t)
        if not m:
            raise bad_selector("invalid selector: '%s'; can't understand '%s'" % (s, t))
        k, op, v = m.groups()
        if k not in known:
            raise bad_selector('"%s" is not a known field selector: only "%s"'
                               % (k, '", "'.join(sorted(known))))
        zero = known[k]
        if op == "!=":
            preds.append(lambda o, k=k, v=v, z=zero: field_value(o, k, z) != v)
        else:
            preds.append(lambda o, k=k, v=v, z=zero: field_value(o, k, z) == v)
    return lambda o: all(p(o) for p in preds)


# ---- patches ----------------------------------------------------------------------

def merge_patch(target, patch, strategic=False):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if strategic and k.startswith("$"):
            continue  # $patch, $retainKeys, $setElementOrder/...: lists are replaced here
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            out[k] = merge_patch(out.get(k), v, strategic)
        else:
            out[k] = copy.deepcopy(v)
    return out


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", "invalid JSON pointer: %s" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    for op in ops:
        parts = json_pointer(op.get("path", ""))
        if not parts:
            raise ApiError(422, "Invalid", "cannot patch the root")
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.get(p)
            if parent is None:
                raise ApiError(422, "Invalid", "doc is missing path: %s" % op.get("path"))
        last = parts[-1]
        kind = op.get("op")
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op.get("value"):
                raise ApiError(422, "Invalid", "testing value %s failed" % op.get("path"))
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op.get("value"))
                elif kind == "add":
                    parent.insert(int(last), op.get("value"))
                else:
                    parent[int(last)] = op.get("value")
            else:
                if kind == "replace" and last not in parent:
                    raise ApiError(422, "Invalid", "replace operation does not apply: doc is missing key: %s" % op.get("path"))
                parent[last] = op.get("value")
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            elif last in parent:
                del parent[last]
            else:
                raise ApiError(422, "Invalid", "remove operation does not apply: doc is missing path: %s" % op.get("path"))
        else:
            raise ApiError(422, "Invalid", "unsupported JSON patch operation: %s" % kind)
    return doc


# ---- the scenario -----------------------------------------------------------------

def hashname(n=10):
    return suffix(n)


def container(name, image, **kw):
    c = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
         "resources": {}, "terminationMessagePath": "/dev/termination-log",
         "terminationMessagePolicy": "File"}
    c.update(kw)
    return c


# the lab's containers stop on SIGTERM within this many seconds (nginx,
# CoreDNS... do), well inside their 30 s grace period
QUICK_STOP = {}


def load_scenario(cl, scenario, nodes):
    QUICK_STOP["lab.kplan/stop-seconds"] = str(ARGS.terminate_delay if ARGS else 0.5)
    day = 86400.0
    names = [n for n, _ in nodes]
    cl.objs["namespaces"] = {}
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        cl.put("namespaces", {"kind": "Namespace", "apiVersion": "v1",
                              "metadata": cl.new_meta(ns, age=12 * day),
                              "spec": {"finalizers": ["kubernetes"]},
                              "status": {"phase": "Active"}})
    for i, (name, addr) in enumerate(nodes):
        master = i == 0 or name.startswith("k8s-master")
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/hostname": name}
        if master:
            labels["node-role.kubernetes.io/master"] = ""
        node = {"kind": "Node", "apiVersion": "v1",
                "metadata": cl.new_meta(name, labels=labels, age=12 * day - i * 600),
                "spec": {"podCIDR": "10.244.%d.0/24" % i},
                "status": {"addresses": [{"type": "InternalIP", "address": addr},
                                         {"type": "Hostname", "address": name}],
                           "conditions": [], "nodeInfo": {}, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                           "capacity": {"cpu": "2", "memory": "4039060Ki", "pods": "110",
                                        "ephemeral-storage": "41152736Ki", "hugepages-2Mi": "0"},
                           "allocatable": {"cpu": "2", "memory": "3936660Ki", "pods": "110",
                                           "ephemeral-storage": "37926361435", "hugepages-2Mi": "0"}}}
        node["metadata"]["annotations"] = {
            "kubeadm.alpha.kubernetes.io/cri-socket": "/var/run/dockershim.sock",
            "node.alpha.kubernetes.io/ttl": "0",
            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            "flannel.alpha.coreos.com/public-ip": addr}
        if master:
            node["spec"]["taints"] = [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]
        # until its kubelet posts a status, a node is not Ready
        node["status"]["conditions"] = [{
            "type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
            "message": "Kubelet never posted node status.", "lastHeartbeatTime": None,
            "lastTransitionTime": ts(), }]
        node["status"]["nodeInfo"] = {"kubeletVersion": "v1.13.0", "kubeProxyVersion": "v1.13.0",
                                      "operatingSystem": "linux", "architecture": "amd64"}
        if scenario == "5":
            modern_node(node, name.startswith("k8s-control"))
        cl.put("nodes", node)
    if scenario != "1":
        return
    master_tol = [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                  {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]

    def deployment(ns, name, replicas, labels, spec, age, placement):
        d = {"kind": "Deployment", "apiVersion": "apps/v1",
             "metadata": cl.new_meta(name, ns, labels, age=age),
             "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                      "template": {"metadata": {"labels": dict(labels), "annotations": dict(QUICK_STOP)},
                                   "spec": spec},
                      "strategy": {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
                      "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
             "status": {}}
        d["metadata"]["generation"] = 1
        d["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
        cl.put("deployments", d)
        h = hashname()
        rl = dict(labels)
        rl["pod-template-hash"] = h
        rs = {"kind": "ReplicaSet", "apiVersion": "apps/v1",
              "metadata": cl.new_meta(name + "-" + h, ns, rl, d, age=age),
              "spec": {"replicas": replicas, "selector": {"matchLabels": dict(rl)},
                       "template": {"metadata": {"labels": dict(rl), "annotations": dict(QUICK_STOP)},
                                    "spec": spec}},
              "status": {}}
        rs["metadata"]["annotations"] = {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                         "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                                         "deployment.kubernetes.io/revision": "1"}
        rs["metadata"]["generation"] = 1
        cl.put("replicasets", rs)
        for node in placement:
            initial_pod(cl, rs, names[node], age)

    def daemonset(ns, name, labels, spec, age):
        ds = {"kind": "DaemonSet", "apiVersion": "apps/v1",
              "metadata": cl.new_meta(name, ns, labels, age=age),
              "spec": {"selector": {"matchLabels": dict(labels)},
                       "template": {"metadata": {"labels": dict(labels), "annotations": dict(QUICK_STOP)},
                                    "spec": spec},
                       "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                       "revisionHistoryLimit": 10},
              "status": {}}
        ds["metadata"]["generation"] = 1
        ds["metadata"]["annotations"] = {"lab/revision-hash": hashname(10)[:9]}
        cl.put("daemonsets", ds)
        for node in names:
            initial_pod(cl, ds, node, age - 60 * (names.index(node)))

    # kube-system, as kubeadm 1.13 and flannel make it; CoreDNS started on
    # the master before the workers joined, as on a real kubeadm cluster
    deployment("kube-system", "coredns", 2, {"k8s-app": "kube-dns"}, {
        "containers": [container("coredns", "k8s.gcr.io/coredns:1.2.6",
                                 args=["-conf", "/etc/coredns/Corefile"],
                                 ports=[{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                        {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                                        {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}])],
        "priorityClassName": "system-cluster-critical", "serviceAccountName": "coredns",
        "dnsPolicy": "Default", "tolerations": master_tol,
        "volumes": [{"name": "config-volume", "configMap": {"name": "coredns", "defaultMode": 420,
                                                            "items": [{"key": "Corefile", "path": "Corefile"}]}}],
    }, 12 * day, [0, 0])
    cl.put("poddisruptionbudgets", {
        "kind": "PodDisruptionBudget", "apiVersion": "policy/v1",
        "metadata": dict(cl.new_meta("coredns", "kube-system", {"k8s-app": "kube-dns"}, age=11 * day),
                         generation=1),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}}}})
    daemonset("kube-system", "kube-proxy", {"k8s-app": "kube-proxy"}, {
        "containers": [container("kube-proxy", "k8s.gcr.io/kube-proxy:v1.13.0",
                                 command=["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                          "--hostname-override=$(NODE_NAME)"],
                                 securityContext={"privileged": True})],
        "hostNetwork": True, "priorityClassName": "system-node-critical",
        "serviceAccountName": "kube-proxy", "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                                            {"operator": "Exists"}],
        "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy", "defaultMode": 420}},
                    {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                    {"name": "lib-modules", "hostPath": {"path": "/lib/modules", "type": ""}}],
    }, 12 * day)
    daemonset("kube-system", "kube-flannel-ds-amd64", {"app": "flannel", "tier": "node"}, {
        "containers": [container("kube-flannel", "quay.io/coreos/flannel:v0.10.0-amd64",
                                 command=["/opt/bin/flanneld"], args=["--ip-masq", "--kube-subnet-mgr"],
                                 securityContext={"privileged": True})],
        "hostNetwork": True, "serviceAccountName": "flannel",
        "nodeSelector": {"beta.kubernetes.io/arch": "amd64"},
        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
        "volumes": [{"name": "run", "hostPath": {"path": "/run", "type": ""}},
                    {"name": "cni", "hostPath": {"path": "/etc/cni/net.d", "type": ""}},
                    {"name": "flannel-cfg", "configMap": {"name": "kube-flannel-cfg", "defaultMode": 420}}],
    }, 12 * day - 300)
    w1 = 1 if len(names) > 1 else 0
    w2 = 2 if len(names) > 2 else w1
    deployment("kube-system", "kube-state-metrics", 1, {"k8s-app": "kube-state-metrics"}, {
        "containers": [container("kube-state-metrics", "quay.io/coreos/kube-state-metrics:v1.4.0",
                                 ports=[{"containerPort": 8080, "name": "http-metrics", "protocol": "TCP"}])],
        "serviceAccountName": "kube-state-metrics",
    }, 9 * day, [w2])
    deployment("kube-system", "metrics-server", 1, {"k8s-app": "metrics-server"}, {
        "containers": [container("metrics-server", "k8s.gcr.io/metrics-server-amd64:v0.3.1",
                                 volumeMounts=[{"name": "tmp-dir", "mountPath": "/tmp"}])],
        "serviceAccountName": "metrics-server",
        "volumes": [{"name": "tmp-dir", "emptyDir": {}}],
    }, 9 * day, [w1])
    deployment("default", "nginx", 5, {"app": "nginx"}, {
        "containers": [container("nginx", "nginx:1.15.8",
                                 ports=[{"containerPort": 80, "protocol": "TCP"}])],
    }, 3 * day, [w1, w2, w1, w2, w1])
    # the bare pod of the multiple-schedulers example: no controller at all
    bare = {"kind": "Pod", "apiVersion": "v1",
            "metadata": dict(cl.new_meta("no-annotation", "default", {"name": "multischeduler-example"},
                                         age=2 * day), annotations=dict(QUICK_STOP)),
            "spec": {"containers": [container("pod-with-no-annotation-container",
                                              "k8s.gcr.io/pause:2.0")],
                     "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                     "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default"},
            "status": {"qosClass": "BestEffort"}}
    place_running(cl, bare, names[w2], 2 * day)
    # kubeadm's control plane: static pods, seen in the API as mirror pods
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        cl.mirror_pod(names[0], comp, "k8s.gcr.io/%s:v1.13.0" % comp, comp, 12 * day)


def modern_node(node, control_plane):
    """Scenario 5: a Node as a kubeadm cluster of today registers it (the
    control-plane role label and taint, containerd's CRI socket, the
    kubelet at the cluster's version)."""
    meta = node["metadata"]
    meta["labels"].pop("node-role.kubernetes.io/master", None)
    meta["labels"].update({"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"})
    meta["annotations"] = {"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                           "node.alpha.kubernetes.io/ttl": "0",
                           "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
    node["spec"].pop("taints", None)
    if control_plane:
        meta["labels"]["node-role.kubernetes.io/control-plane"] = ""
        meta["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        node["spec"]["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    v = ARGS.version if ARGS else "v1.13.0"
    node["status"]["nodeInfo"].update({"kubeletVersion": v, "kubeProxyVersion": v})


def drain_fixture(cl, node):
    """POST /lab/reset {"fixture": "drain", "node": N}: besides the
    scenario's pods, one pod on N of each kind kubectl drain's filters
    treat apart (see tests/e2e/t0701-drain-differential.sh)"""
    if not cl.find("nodes", None, node):
        raise ApiError(400, "BadRequest", 'no node "%s"' % node)
    now, day = time.time(), 86400.0

    def bare(name, ns="default", phase="Running", owner=None, **meta):
        pod = {"kind": "Pod", "apiVersion": "v1",
               "metadata": dict(cl.new_meta(name, ns, {"fixture": name}, age=day), **meta),
               "spec": {"containers": [container("main", "k8s.gcr.io/pause:3.1")],
                        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                        "serviceAccountName": "default"},
               "status": {"qosClass": "BestEffort"}}
        pod["metadata"].setdefault("annotations", {}).update(QUICK_STOP)
        if owner:
            pod["metadata"]["ownerReferences"] = [owner]
        place_running(cl, pod, node, day)
        if phase != "Running":
            pod["status"]["phase"] = phase
            for c in pod["status"]["containerStatuses"]:
                c["ready"] = False
                c["state"] = {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1,
                                             "reason": "Completed" if phase == "Succeeded" else "Error"}}
            for c in pod["status"]["conditions"]:
                if c["type"] in ("Ready", "ContainersReady"):
                    c["status"] = "False"
            cl.put("pods", pod)
        return pod
    ds = next(d for d in cl.objs["daemonsets"].values() if d["metadata"]["name"] == "kube-proxy")
    ds_ref = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-proxy",
              "uid": ds["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    bare("kube-proxy-failed", "kube-system", "Failed", ds_ref)
    bare("retired-agent-x1", "kube-system", owner={
        "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "retired-agent", "uid": str(uuid.uuid4()),
        "controller": True, "blockOwnerDeletion": True})
    bare("bare-worker")
    bare("job-done", phase="Succeeded")
    cl.mirror_pod(node, "static-web", "nginx:1.15.8", "static-web", day)
    # a Deployment of one held by its budget
    rs = next(r for r in cl.objs["replicasets"].values() if r["metadata"]["name"].startswith("nginx-"))
    gd = copy.deepcopy(rs)
    gd["metadata"] = cl.new_meta("guarded-7d9f", "default", {"app": "guarded"}, age=day)
    gd["metadata"]["annotations"] = dict(rs["metadata"]["annotations"])
    gd["spec"]["replicas"] = 1
    gd["spec"]["selector"] = {"matchLabels": {"app": "guarded"}}
    gd["spec"]["template"]["metadata"]["labels"] = {"app": "guarded"}
    cl.put("replicasets", gd)
    initial_pod(cl, gd, node, day)
    cl.put("poddisruptionbudgets", {
        "kind": "PodDisruptionBudget", "apiVersion": "policy/v1beta1",
        "metadata": dict(cl.new_meta("guarded", "default", age=day), generation=1),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}})
    # deleted a minute ago, held by a finalizer: Terminating for good
    rs_ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
              "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    for name, ns in (("stuck-terminating", "default"), ("leftover", "doomed")):
        if ns == "doomed":
            cl.put("namespaces", {"kind": "Namespace", "apiVersion": "v1",
                                  "metadata": dict(cl.new_meta("doomed", age=day), deletionTimestamp=ts(now - 60)),
                                  "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}})
        p = bare(name, ns, owner=rs_ref if ns == "default" else None,
                 deletionTimestamp=ts(now - 60), deletionGracePeriodSeconds=0, finalizers=["lab.kplan/hold"])
        cl.stopped.add(p["metadata"]["uid"])


def workloads(cl, spec):
    """POST /lab/workloads {"workloads": [{"kind": "Deployment"|"StatefulSet",
    "namespace": NS, "name": N, "replicas": R, "stopSeconds": S (how long
    its containers take to stop on SIGTERM; the grace period is
    "grace", default 30), "startSeconds": S (from scheduled to Ready),
    "pdb": {"maxUnavailable": X} | {"minAvailable": X}}, ...]}: the
    workloads, their pods Running and Ready, spread over the schedulable
    nodes one after another, and their budgets (policy/v1 as stored; served
    in the version the cluster's release has). From then on the server keeps
    each workload's and budget's ready history (GET /lab/ready)."""
    items = spec.get("workloads") if isinstance(spec, dict) else None
    if not isinstance(items, list):
        raise ApiError(400, "BadRequest", 'want {"workloads": [{"kind": ..., "name": ..., "replicas": N}, ...]}')
    nodes = [n["metadata"]["name"] for n in sorted(cl.objs["nodes"].values(), key=lambda n: n["metadata"]["name"])]
    probe = {"spec": {}}
    nodes = [n for n in nodes if cl.schedulable(cl.find("nodes", None, n), probe)]
    if not nodes:
        raise ApiError(409, "Conflict", "no schedulable Ready node for the workloads")
    at = 0
    for w in items:
        kind, ns, name = w.get("kind"), w.get("namespace") or "default", w.get("name")
        if kind not in ("Deployment", "StatefulSet") or not name:
            raise ApiError(400, "BadRequest", "a workload needs kind Deployment or StatefulSet and a name")
        if not cl.find("namespaces", None, ns):
            cl.put("namespaces", {"kind": "Namespace", "apiVersion": "v1", "metadata": cl.new_meta(ns),
                                  "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        replicas = int(w.get("replicas", 1))
        labels = {"app": name}
        ann = {"lab.kplan/stop-seconds": str(w.get("stopSeconds", ARGS.terminate_delay)),
               "lab.kplan/start-seconds": str(w.get("startSeconds", ARGS.ready_delay))}
        pspec = {"containers": [container(name, "nginx:1.15.8", ports=[{"containerPort": 80, "protocol": "TCP"}])],
                 "terminationGracePeriodSeconds": int(w.get("grace", 30))}
        tmpl = {"metadata": {"labels": dict(labels), "annotations": ann}, "spec": pspec}
        if kind == "Deployment":
            d = {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": cl.new_meta(name, ns, labels, age=3600),
                 "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": tmpl,
                          "strategy": {"type": "RollingUpdate",
                                       "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}},
                 "status": {}}
            d["metadata"]["generation"] = 1
            cl.put("deployments", d)
            h = hashname()
            rl = dict(labels, **{"pod-template-hash": h})
            owner = {"kind": "ReplicaSet", "apiVersion": "apps/v1",
                     "metadata": cl.new_meta(name + "-" + h, ns, rl, d, age=3600),
                     "spec": {"replicas": replicas, "selector": {"matchLabels": dict(rl)},
                              "template": {"metadata": {"labels": dict(rl), "annotations": dict(ann)},
                                           "spec": pspec}},
                     "status": {}}
            owner["metadata"]["generation"] = 1
            cl.put("replicasets", owner)
        else:
            owner = {"kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": cl.new_meta(name, ns, labels, age=3600),
                     "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": tmpl,
                              "serviceName": name, "podManagementPolicy": "OrderedReady",
                              "updateStrategy": {"type": "RollingUpdate"}},
                     "status": {}}
            owner["metadata"]["generation"] = 1
            cl.put("statefulsets", owner)
        for i in range(replicas):
            node = nodes[at % len(nodes)]
            at += 1
            if kind == "StatefulSet":
                pod = {"kind": "Pod", "apiVersion": "v1",
                       "metadata": cl.new_meta("%s-%d" % (name, i), ns,
                                               dict(labels, **{"statefulset.kubernetes.io/pod-name": "%s-%d" % (name, i)}),
                                               owner, age=3600),
                       "spec": copy.deepcopy(pspec), "status": {"qosClass": "BestEffort"}}
                pod["metadata"]["annotations"] = dict(ann)
                for k, v in (("restartPolicy", "Always"), ("dnsPolicy", "ClusterFirst"),
                             ("schedulerName", "default-scheduler"), ("serviceAccountName", "default")):
                    pod["spec"].setdefault(k, v)
                place_running(cl, pod, node, 3600)
            else:
                initial_pod(cl, owner, node, 3600)
        budget = w.get("pdb")
        if budget:
            cl.put("poddisruptionbudgets", {
                "kind": "PodDisruptionBudget", "apiVersion": "policy/v1",
                "metadata": dict(cl.new_meta(name, ns, labels, age=3600), generation=1),
                "spec": dict(budget, selector={"matchLabels": dict(labels)})})
    ready_reset(cl)
    return {"created": len(items), "nodes": len(nodes)}


def ready_reset(cl):
    """start the ready history afresh from the current state"""
    cl.tracking = True
    cl.history = {}
    for p in list(cl.objs["pods"].values()):
        cl.track(p)


def initial_pod(cl, owner, node, age):
    tmpl = copy.deepcopy(owner["spec"]["template"])
    labels = dict(tmpl["metadata"].get("labels", {}))
    if owner["kind"] == "DaemonSet":
        labels["controller-revision-hash"] = owner["metadata"]["annotations"]["lab/revision-hash"]
        labels["pod-template-generation"] = "1"
        tmpl["spec"]["tolerations"] = tmpl["spec"].get("tolerations", []) + DS_TOLERATIONS
    name = owner["metadata"]["name"] + "-" + suffix()
    pod = {"kind": "Pod", "apiVersion": "v1",
           "metadata": cl.new_meta(name, owner["metadata"]["namespace"], labels, owner, age=age,
                                   generate=owner["metadata"]["name"] + "-"),
           "spec": tmpl["spec"], "status": {"qosClass": "BestEffort"}}
    if tmpl["metadata"].get("annotations"):
        pod["metadata"]["annotations"] = dict(tmpl["metadata"]["annotations"])
    pod["spec"].setdefault("restartPolicy", "Always")
    pod["spec"].setdefault("terminationGracePeriodSeconds", 30)
    pod["spec"].setdefault("dnsPolicy", "ClusterFirst")
    pod["spec"].setdefault("schedulerName", "default-scheduler")
    pod["spec"].setdefault("serviceAccountName", "default")
    place_running(cl, pod, node, age)


def place_running(cl, pod, node, age):
    pod["spec"]["nodeName"] = node
    n = cl.find("nodes", None, node)
    ip = addr_of(n)
    pod["status"]["hostIP"] = ip
    idx = sorted(cl.objs["nodes"]).index(("", node))
    pod["status"]["podIP"] = ip if pod["spec"].get("hostNetwork") else "10.244.%d.%d" % (idx, RAND.randint(2, 250))
    pod["status"]["startTime"] = ts(time.time() - age)
    cl.pod_status(pod, "Running", True)
    for c in pod["status"]["conditions"]:
        c["lastTransitionTime"] = ts(time.time() - age + 5)
    for s in pod["status"]["containerStatuses"]:
        s["state"]["running"]["startedAt"] = ts(time.time() - age + 4)
    cl.put("pods", pod)


# ---- presentation -------------------------------------------------------------------

def present(resource, obj):
    """the object as the API returns it (computed status included)"""
    o = copy.deepcopy(obj)
    g, v, kind, _, _, _ = RESOURCES[resource]
    o["kind"] = kind
    o.setdefault("apiVersion", (g + "/" if g else "") + v)
    if resource == "poddisruptionbudgets":
        o["status"] = CL.pdb_status(obj)
    elif resource in ("replicasets", "deployments"):
        uid = obj["metadata"]["uid"]
        if resource == "deployments":
            rs = [r for r in CL.objs["replicasets"].values() if owner_uid(r) == uid]
            uids = {r["metadata"]["uid"] for r in rs}
        else:
            uids = {uid}
        pods = [p for p in CL.objs["pods"].values()
                if owner_uid(p) in uids and not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        want = obj["spec"].get("replicas", 1)
        o["status"] = {"observedGeneration": 1, "replicas": len(pods), "readyReplicas": ready,
                       "availableReplicas": ready}
        if resource == "deployments":
            o["status"].update({"updatedReplicas": len(pods),
                                "unavailableReplicas": max(0, want - ready)})
        else:
            o["status"]["fullyLabeledReplicas"] = len(pods)
    elif resource == "statefulsets":
        uid = obj["metadata"]["uid"]
        pods = [p for p in CL.objs["pods"].values()
                if owner_uid(p) == uid and not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        o["status"] = {"observedGeneration": 1, "replicas": len(pods), "readyReplicas": ready,
                       "currentReplicas": len(pods), "updatedReplicas": len(pods)}
    elif resource == "daemonsets":
        uid = obj["metadata"]["uid"]
        pods = [p for p in CL.objs["pods"].values()
                if owner_uid(p) == uid and not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        n = len(CL.objs["nodes"])
        o["status"] = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": n,
                       "numberAvailable": ready, "numberMisscheduled": 0, "numberReady": ready,
                       "observedGeneration": 1, "updatedNumberScheduled": len(pods)}
    return o


def node_roles(node):
    roles = sorted(k.split("/", 1)[1] for k in node["metadata"].get("labels", {})
                   if k.startswith("node-role.kubernetes.io/"))
    return ",".join(roles) or "<none>"


def node_status_text(node):
    ready = next((c for c in node["status"].get("conditions", []) if c.get("type") == "Ready"), None)
    s = "Unknown"
    if ready:
        s = "Ready" if ready["status"] == "True" else "NotReady"
    if node["spec"].get("unschedulable"):
        s += ",SchedulingDisabled"
    return s


def pod_status_text(p):
    if p["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for s in p["status"].get("containerStatuses", []):
        w = s.get("state", {}).get("waiting")
        if w:
            return w.get("reason", "Waiting")
    return p["status"].get("phase", "Pending")


def table_for(resource, objs, wide):
    now = time.time()
    age = lambda o: human_duration(now - parse_ts(o["metadata"].get("creationTimestamp")))
    col = lambda name, typ="string", fmt="", prio=0, desc="": {
        "name": name, "type": typ, "format": fmt, "description": desc, "priority": prio}
    if resource == "nodes":
        cols = [col("Name", fmt="name", desc="Name must be unique within a namespace."),
                col("Status", desc="The status of the node"),
                col("Roles", desc="The roles of the node"),
                col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created."),
                col("Version", desc="Kubelet Version reported by the node."),
                col("Internal-IP", prio=1, desc="List of addresses reachable to the node."),
                col("External-IP", prio=1, desc="List of addresses reachable to the node."),
                col("OS-Image", prio=1, desc="OS Image reported by the node from /etc/os-release."),
                col("Kernel-Version", prio=1, desc="Kernel Version reported by the node."),
                col("Container-Runtime", prio=1, desc="Container Runtime Version reported by the node.")]
        rows = []
        for n in objs:
            info = n["status"].get("nodeInfo", {})
            rows.append([n["metadata"]["name"], node_status_text(n), node_roles(n), age(n),
                         info.get("kubeletVersion", ""), addr_of(n), "<none>",
                         info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
                         info.get("containerRuntimeVersion", "<unknown>")])
    elif resource == "pods":
        cols = [col("Name", fmt="name", desc="Name must be unique within a namespace."),
                col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
                col("Status", desc="The aggregate status of the containers in this pod."),
                col("Restarts", desc="The number of times the containers in this pod have been restarted."),
                col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created."),
                col("IP", prio=1, desc="IP address allocated to the pod."),
                col("Node", prio=1, desc="Name of the node this pod is assigned to."),
                col("Nominated Node", prio=1, desc="Name of the node this pod is nominated to."),
                col("Readiness Gates", prio=1, desc="Pod readiness gates.")]
        rows = []
        for p in objs:
            cs = p["status"].get("containerStatuses", [])
            rows.append([p["metadata"]["name"], "%d/%d" % (sum(1 for c in cs if c.get("ready")),
                                                            len(p["spec"]["containers"])),
                         pod_status_text(p), sum(c.get("restartCount", 0) for c in cs), age(p),
                         p["status"].get("podIP") or "<none>", p["spec"].get("nodeName") or "<none>",
                         "<none>", "<none>"])
    elif resource == "poddisruptionbudgets":
        cols = [col("Name", fmt="name"), col("Min Available"), col("Max Unavailable"),
                col("Allowed Disruptions", typ="integer"), col("Age")]
        rows = []
        for b in objs:
            st = CL.pdb_status(b)
            rows.append([b["metadata"]["name"], str(b["spec"].get("minAvailable", "N/A")),
                         str(b["spec"].get("maxUnavailable", "N/A")), st["disruptionsAllowed"], age(b)])
    else:
        cols = [col("Name", fmt="name"), col("Age")]
        rows = [[o["metadata"]["name"], age(o)] for o in objs]
    return cols, rows


def table_version(accept):
    """the meta.k8s.io version of the Table a client asks for (Accept:
    ...;as=Table;v=V;g=meta.k8s.io, in the client's order) that this
    release serves, or None (plain JSON)"""
    for part in accept.split(","):
        params = dict(x.strip().split("=", 1) for x in part.split(";")[1:] if "=" in x)
        if params.get("as") == "Table" and params.get("g", "meta.k8s.io") == "meta.k8s.io":
            v = params.get("v", "v1beta1")
            if v in served()["tables"]:
                return v
    return None


def table_json(resource, objs, wide, version="v1"):
    cols, rows = table_for(resource, objs, wide)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/" + version,
            "metadata": {"resourceVersion": str(CL.rv)}, "columnDefinitions": cols,
            "rows": [{"cells": r, "object": present(resource, o)} for r, o in zip(rows, objs)]}


def table_text(resource, objs, wide, with_ns):
    cols, rows = table_for(resource, objs, wide)
    keep = [i for i, c in enumerate(cols) if wide or c["priority"] == 0]
    head = [cols[i]["name"].upper() for i in keep]
    body = [[str(r[i]) for i in keep] for r in rows]
    if with_ns:
        head = ["NAMESPACE"] + head
        body = [[o["metadata"].get("namespace", "")] + b for o, b in zip(objs, body)]
    if not body:
        return ""
    widths = [max(len(x) for x in colv) for colv in zip(head, *body)]
    out = []
    for line in [head] + body:
        out.append("   ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip())
    return "\n".join(out) + "\n"


# ---- discovery ----------------------------------------------------------------------

def api_resource(name, kind, namespaced, verbs, short=None, group=None, version=None, sub=False):
    r = {"name": name, "singularName": "" if sub else kind.lower(), "namespaced": namespaced,
         "kind": kind, "verbs": verbs}
    if short:
        r["shortNames"] = short
    if group is not None:
        r["group"], r["version"] = group, version
    return r


def discovery(parts):
    sv = served()
    if parts == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "%s:%d" % (ARGS.bind, ARGS.port)}]}

    def group_doc(g):
        gv = [{"groupVersion": g + "/" + v, "version": v} for v in sv["groups"][g]]
        return {"name": g, "versions": gv, "preferredVersion": gv[0]}
    if parts == ["apis"]:
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_doc(g) for g in sv["groups"]]}
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in sv["groups"]:
        d = group_doc(parts[1])
        d.update(kind="APIGroup", apiVersion="v1")
        return d
    if parts == ["api", "v1"]:
        group, version = "", "v1"
    elif len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in sv["gvs"]:
        group, version = parts[1], parts[2]
    else:
        return None
    res = []
    for name, e in sorted(sv["gvs"][(group, version)].items()):
        verbs = RESOURCES[name][5]
        res.append(api_resource(name, e["kind"], e["namespaced"], verbs, e.get("shortNames")))
        if name == "nodes":
            res.append(api_resource("nodes/status", "Node", False, ["get", "patch", "update"], sub=True))
        if name == "pods" and sv["eviction"]:
            eg, ev = sv["eviction"]["discovery"].split("/")
            res.append(api_resource("pods/eviction", "Eviction", True, ["create"], group=eg,
                                    version=ev, sub=True))
            res.append(api_resource("pods/status", "Pod", True, ["get", "patch", "update"], sub=True))
        if name == "poddisruptionbudgets":
            res.append(api_resource("poddisruptionbudgets/status", e["kind"], True, ["get", "patch", "update"], sub=True))
        if name in ("deployments", "replicasets", "daemonsets"):
            res.append(api_resource(name + "/status", e["kind"], True, ["get", "patch", "update"], sub=True))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv_text(group, version),
            "resources": res}


# ---- OpenAPI ----------------------------------------------------------------------------
# Just what kubectl reads before a server-side dry run (kubectl before 1.22:
# its DryRunVerifier looks for the resource's PATCH operation, by its
# x-kubernetes-group-version-kind, and a dryRun query parameter): the paths
# with their PATCH operations, no definitions. As JSON, or as the
# protobuf kubectl asks for (gnostic's openapi_v2.Document, encoded here
# field by field: the field numbers are in openapiv2/OpenAPIv2.proto).

OPENAPI_PB = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def openapi_paths():
    sv = served()
    out = []
    for (g, v), res in sorted(sv["gvs"].items()):
        for name, e in sorted(res.items()):
            base = "/api/v1" if not g else "/apis/%s/%s" % (g, v)
            ns = "/namespaces/{namespace}" if e["namespaced"] else ""
            gvk = {"group": g, "kind": e["kind"], "version": v}
            out.append(("%s%s/%s/{name}" % (base, ns, name), gvk,
                        "patch%s%s%s" % (g.split(".")[0].title().replace("-", ""), v.title(), e["kind"])))
    return out


def pb_varint(n):
    out = b""
    while True:
        b, n = n & 0x7f, n >> 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb(num, value):
    """a length-delimited field (strings and messages are all this needs)"""
    if isinstance(value, str):
        value = value.encode()
    return pb_varint(num << 3 | 2) + pb_varint(len(value)) + value


def openapi_v2(accept):
    paths = openapi_paths()
    if OPENAPI_PB in accept:
        doc = pb(1, "2.0") + pb(2, pb(1, "Kubernetes") + pb(2, CL.version))
        items = b""
        for path, gvk, op_id in paths:
            # QueryParameterSubSchema{in=2, name=4, type=6} in NonBodyParameter(3)
            # in Parameter(2) in ParametersItem(1)
            param = pb(1, pb(2, pb(3, pb(2, "query") + pb(4, "dryRun") + pb(6, "string"))))
            yaml = 'group: "%s"\nkind: %s\nversion: %s\n' % (gvk["group"], gvk["kind"], gvk["version"])
            ext = pb(13, pb(1, "x-kubernetes-action") + pb(2, pb(2, "patch\n"))) + \
                pb(13, pb(1, "x-kubernetes-group-version-kind") + pb(2, pb(2, yaml)))
            op = pb(5, op_id) + pb(8, param) + ext
            items += pb(2, pb(1, path) + pb(2, pb(8, op)))  # NamedPathItem{name, PathItem{patch=8}}
        doc += pb(8, items)
        return 200, doc, "application/octet-stream"  # as kube-openapi answers it
    return 200, {"swagger": "2.0", "info": {"title": "Kubernetes", "version": CL.version},
                 "paths": {path: {"patch": {
                     "operationId": op_id,
                     "parameters": [{"uniqueItems": True, "type": "string", "name": "dryRun", "in": "query"}],
                     "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk}}
                     for path, gvk, op_id in paths}}, None


# ---- request handling ----------------------------------------------------------------

def status_obj(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def success_status(code=200, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    if details:
        s["details"] = details
    return s


class Route:
    """/api/v1/... or /apis/G/V/...: resource, namespace, name, subresource"""

    def __init__(self, parts):
        self.ok = self.unserved = False
        self.group = self.version = self.ns = self.name = self.sub = None
        if parts[:1] == ["api"] and len(parts) >= 3 and parts[1] == "v1":
            self.group, self.version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            self.group, self.version, rest = parts[1], parts[2], parts[3:]
        else:
            return
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in RESOURCES:
            self.ns, rest = rest[1], rest[2:]
        self.resource = rest[0]
        if len(rest) > 1:
            self.name = rest[1]
        if len(rest) > 2:
            self.sub = rest[2]
        if len(rest) > 3:
            return
        served_here = served()["gvs"].get((self.group, self.version))
        if served_here is None:
            self.unserved = True  # the group/version: the real server's mux has no such path
            return
        spec = RESOURCES.get(self.resource)
        if not spec or self.resource not in served_here:
            return
        if spec[3] is False and self.ns is not None:
            return
        self.ok = True


def handle(method, path, query, headers, body):
    """-> (code, JSON-able object or text, content type)"""
    parts = [unquote(p) for p in path.split("/") if p]
    q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if path in ("/healthz", "/livez", "/readyz", "/healthz/ping"):
        return 200, "ok", "text/plain"
    if path == "/version":
        return 200, version_info(CL.version), None
    if parts[:1] == ["lab"]:
        return lab_endpoint(method, parts, q, body)
    if path == "/openapi/v2" and method == "GET":
        return openapi_v2(headers.get("Accept", ""))
    if method == "GET":
        d = discovery(parts)
        if d is not None:
            return 200, d, None
    sv = served()
    if parts[:1] == ["apis"] and (len(parts) == 2 and parts[1] not in sv["groups"] or
                                  len(parts) >= 3 and (parts[1], parts[2]) not in sv["gvs"]):
        return 404, "404 page not found\n", "text/plain; charset=utf-8"
    r = Route(parts)
    if not r.ok:
        return 404, status_obj(404, "NotFound", "the server could not find the requested resource"), None
    dry = q.get("dryRun")
    if dry is not None and dry != "All":
        raise ApiError(400, "BadRequest", "Invalid dry run value: %s; the only value allowed is All" % dry)
    as_table = table_version(headers.get("Accept", ""))
    if method == "GET" and q.get("watch") in ("true", "1") and r.sub is None:
        return "WATCH", (r, q, as_table), None
    if r.name is None:
        if method == "GET":
            return list_objs(r, q, as_table)
        if method == "POST":
            return create(r, q, body)
        if method == "DELETE":
            return 405, status_obj(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"), None
        return 405, status_obj(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"), None
    if r.sub == "eviction":
        if method != "POST" or r.resource != "pods":
            return 405, status_obj(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"), None
        return evict(r, q, body)
    if r.sub not in (None, "status"):
        return 404, status_obj(404, "NotFound", "the server could not find the requested resource"), None
    if method == "GET":
        o = CL.get(r.resource, r.ns, r.name)
        if as_table:
            return 200, table_json(r.resource, [o], False, as_table), None
        return 200, present_versioned(r, o), None
    if method == "PUT":
        return update(r, q, body)
    if method == "PATCH":
        return patch(r, q, headers.get("Content-Type", ""), body)
    if method == "DELETE":
        return delete(r, q, body)
    return 405, status_obj(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"), None


def present_versioned(r, o):
    p = present(r.resource, o)
    if r.group:
        p["apiVersion"] = r.group + "/" + r.version
    return p


def parse_body(body):
    try:
        return json.loads(body.decode() or "null")
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, "BadRequest", "the body of the request was in an unknown format - "
                       "accepted media types include: application/json, application/yaml (%s)" % e)


def list_objs(r, q, as_table):
    objs = [o for o in CL.objs[r.resource].values()
            if r.ns is None or o["metadata"].get("namespace") == r.ns]
    if q.get("labelSelector"):
        pred = parse_label_selector(q["labelSelector"])
        objs = [o for o in objs if pred(o["metadata"].get("labels", {}))]
    if q.get("fieldSelector"):
        pred = parse_field_selector(q["fieldSelector"], r.resource)
        objs = [o for o in objs if pred(o)]
    objs.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    meta = {"resourceVersion": str(CL.rv)}
    if q.get("continue"):
        try:
            tok = json.loads(base64.urlsafe_b64decode(q["continue"].encode()).decode())
            start = tuple(tok["start"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ApiError(400, "BadRequest", "continue key is not valid: invalid continue token")
        objs = [o for o in objs if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
    limit = int(q.get("limit") or 0) if (q.get("limit") or "0").isdigit() else 0
    if limit and len(objs) > limit:
        last = objs[limit - 1]["metadata"]
        meta["continue"] = base64.urlsafe_b64encode(json.dumps(
            {"v": "meta.k8s.io/v1", "rv": CL.rv, "start": [last.get("namespace", ""), last["name"]]}).encode()).decode()
        meta["remainingItemCount"] = len(objs) - limit
        objs = objs[:limit]
    if as_table:
        t = table_json(r.resource, objs, False, as_table)
        t["metadata"].update(meta)
        return 200, t, None
    g, v, kind, _, _, _ = RESOURCES[r.resource]
    items = []
    for o in objs:
        p = present_versioned(r, o)
        p.pop("kind", None)
        p.pop("apiVersion", None)
        items.append(p)
    return 200, {"kind": kind + "List", "apiVersion": (r.group + "/" if r.group else "") + r.version,
                 "metadata": meta, "items": items}, None


def check_kind(r, obj):
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        raise ApiError(400, "BadRequest", "Object 'Kind' is missing in '%s'" % json.dumps(obj)[:200])
    kind = RESOURCES[r.resource][2]
    check_body_version(r, obj, kind)
    if obj.get("kind") not in (None, kind):
        raise ApiError(400, "BadRequest", "the API version in the data (%s) does not match the expected API "
                       "version (%s)" % (obj.get("apiVersion"), (r.group + "/" if r.group else "") + r.version))


def create(r, q, body):
    obj = parse_body(body)
    check_kind(r, obj)
    md = obj["metadata"]
    if not md.get("name") and md.get("generateName"):
        md["name"] = md["generateName"] + suffix()
    name = md.get("name")
    kind = RESOURCES[r.resource][2]
    if not name:
        raise ApiError(422, "Invalid", '%s "" is invalid: metadata.name: Required value: name or '
                       'generateName is required' % kind,
                       {"kind": r.resource, "causes": [{"reason": "FieldValueRequired", "message": "Required value: name or generateName is required", "field": "metadata.name"}]})
    if RESOURCES[r.resource][3]:
        if md.get("namespace") not in (None, r.ns):
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        md["namespace"] = r.ns or "default"
    if CL.find(r.resource, md.get("namespace"), name):
        raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(r.resource), name),
                       {"name": name, "group": r.group, "kind": r.resource})
    if r.resource == "pods" and is_mirror(obj):
        mirror_meta(obj, CL.find("nodes", None, obj.get("spec", {}).get("nodeName")))
    if q.get("dryRun"):
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = ts()
        return 201, present_versioned(r, obj), None
    nso = CL.find("namespaces", None, md.get("namespace")) if RESOURCES[r.resource][3] else None
    if nso and nso.get("status", {}).get("phase") == "Terminating":
        raise ApiError(403, "Forbidden", '%s "%s" is forbidden: unable to create new content in namespace %s '
                       "because it is being terminated" % (r.resource, name, md["namespace"]),
                       {"name": name, "kind": r.resource, "causes": [{
                           "reason": "NamespaceTerminating",
                           "message": "namespace %s is being terminated" % md["namespace"],
                           "field": "metadata.namespace"}]})
    md["uid"] = str(uuid.uuid4())
    md["creationTimestamp"] = ts()
    md.pop("resourceVersion", None)
    if r.group:
        obj["apiVersion"] = r.group + "/" + r.version
    obj.setdefault("spec", {})
    if r.resource == "nodes":
        obj.setdefault("status", {})
        obj["spec"].setdefault("podCIDR", "10.244.%d.0/24" % len(CL.objs["nodes"]))
        CL.put("nodes", obj)
        node_status_merge(obj, obj.get("status", {}))
        for ds in CL.objs["daemonsets"].values():
            n = name

            def mk(ds=ds, n=n):
                if CL.find("nodes", None, n) and not any(
                        owner_uid(p) == ds["metadata"]["uid"] and p["spec"].get("nodeName") == n
                        for p in CL.objs["pods"].values()):
                    CL.pod_from_template(ds, n)
            CL.later(ARGS.replace_delay, mk)
    elif r.resource == "pods":
        obj.setdefault("status", {})
        obj["status"].setdefault("phase", "Pending")
        obj["spec"].setdefault("terminationGracePeriodSeconds", 30)
        for c in obj["spec"].get("containers", []):
            c.setdefault("image", "k8s.gcr.io/pause:3.1")
        CL.put("pods", obj)
        if obj["spec"].get("nodeName"):
            CL.bind(obj, obj["spec"]["nodeName"])
        else:
            CL.schedule_pending()
    elif r.resource == "leases":
        CL.put("leases", obj)
    else:
        if r.resource == "poddisruptionbudgets":
            md["generation"] = 1
        CL.put(r.resource, obj)
    return 201, present_versioned(r, obj), None


def node_status_merge(node, status):
    """a kubelet's status: keep transition times of unchanged conditions"""
    old = {c.get("type"): c for c in node.get("status", {}).get("conditions", [])}
    for c in status.get("conditions", []) or []:
        o = old.get(c.get("type"))
        if o and o.get("status") == c.get("status") and o.get("lastTransitionTime"):
            c["lastTransitionTime"] = o["lastTransitionTime"]
    name = node["metadata"]["name"]
    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []) or []):
        CL.heartbeat[name] = time.time()


def update(r, q, body):
    obj = parse_body(body)
    check_kind(r, obj)
    cur = CL.get(r.resource, r.ns, r.name)
    md = obj["metadata"]
    if md.get("name") not in (None, r.name):
        raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)" % (md.get("name"), r.name))
    rv = md.get("resourceVersion")
    if rv and rv != cur["metadata"]["resourceVersion"]:
        raise conflict(r)
    keep = cur["metadata"]
    md["name"], md["uid"], md["creationTimestamp"] = r.name, keep["uid"], keep["creationTimestamp"]
    if "namespace" in keep:
        md["namespace"] = keep["namespace"]
    for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "generation"):
        if k in ("deletionTimestamp", "deletionGracePeriodSeconds") and k in keep:
            md[k] = keep[k]
        if k in keep and k not in md:
            md[k] = keep[k]
    if r.sub == "status":
        new = copy.deepcopy(cur)
        new["status"] = obj.get("status", {})
    else:
        new = obj
        if "status" in cur:
            new["status"] = cur["status"]
    return store_updated(r, cur, new, q.get("dryRun") == "All")


def terminate_namespace(ns):
    """DELETE of a namespace: Terminating while the namespace controller
    deletes what is in it, gone when it is empty"""
    if ns["metadata"].get("deletionTimestamp"):
        return
    ns["metadata"]["deletionTimestamp"] = ts()
    ns["status"] = {"phase": "Terminating"}
    CL.put("namespaces", ns)
    name, uid = ns["metadata"]["name"], ns["metadata"]["uid"]

    def sweep():
        cur = CL.find("namespaces", None, name)
        if not cur or cur["metadata"]["uid"] != uid:
            return
        left = False
        for res in RESOURCES:
            if not RESOURCES[res][3]:
                continue
            for o in list(CL.objs[res].values()):
                if o["metadata"].get("namespace") != name:
                    continue
                left = True
                if res == "pods":
                    if not o["metadata"].get("deletionTimestamp"):
                        CL.delete_pod(o)
                elif not o["metadata"].get("finalizers"):
                    CL.remove(res, o)
        if left:
            CL.later(0.5, sweep)
        else:
            CL.remove("namespaces", cur)
    CL.later(ARGS.replace_delay, sweep)


def conflict(r):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been '
                    "modified; please apply your changes to the latest version and try again"
                    % (qualified(r.resource), r.name),
                    {"name": r.name, "group": r.group, "kind": r.resource})


def store_updated(r, cur, new, dry=False):
    if r.group:
        new["apiVersion"] = r.group + "/" + r.version
    new["kind"] = RESOURCES[r.resource][2]
    if r.resource == "nodes" and (r.sub == "status" or new.get("status") != cur.get("status")):
        node_status_merge(cur, new.get("status", {}))
    if r.resource == "nodes":
        u = new.get("spec", {}).get("unschedulable")
        if u is not None and not isinstance(u, bool):
            raise ApiError(422, "Invalid", 'Node "%s" is invalid: spec.unschedulable: Invalid value' % r.name)
    if dry:
        out = present_versioned(r, new)
        out["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return 200, out, None
    CL.put(r.resource, new)
    if r.resource == "pods":
        CL.finish_delete(new)  # its last finalizer removed
    if r.resource == "nodes":
        CL.schedule_pending()
    return 200, present_versioned(r, new), None


def patch(r, q, ctype, body):
    cur = CL.get(r.resource, r.ns, r.name)
    p = parse_body(body)
    ctype = ctype.split(";")[0].strip()
    if ctype == "application/json-patch+json":
        new = json_patch(present(r.resource, cur), p)
    elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        if not isinstance(p, dict):
            raise ApiError(400, "BadRequest", "patch must be a JSON object")
        rv = (p.get("metadata") or {}).get("resourceVersion")
        if rv and rv != cur["metadata"]["resourceVersion"]:
            raise conflict(r)
        new = merge_patch(copy.deepcopy(cur), p, ctype.startswith("application/strategic"))
    else:
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                       "accepted media types include: application/json-patch+json, "
                       "application/merge-patch+json, application/strategic-merge-patch+json")
    # what a patch cannot change
    md, keep = new.setdefault("metadata", {}), cur["metadata"]
    for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds"):
        if k in keep:
            md[k] = keep[k]
    if r.sub == "status":
        st = new.get("status", {})
        new = copy.deepcopy(cur)
        new["status"] = st
    elif r.resource in ("poddisruptionbudgets", "deployments", "replicasets", "daemonsets"):
        new.pop("status", None)
    if r.resource == "nodes" and new.get("spec", {}).get("unschedulable") is False:
        new["spec"].pop("unschedulable")
    return store_updated(r, cur, new, q.get("dryRun") == "All")


def delete(r, q, body):
    obj = CL.get(r.resource, r.ns, r.name)
    opts = {}
    if body:
        try:
            opts = json.loads(body.decode() or "{}") or {}
        except ValueError:
            opts = {}
    pre = opts.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
        raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": Precondition failed: '
                       "UID in precondition: %s, UID in object meta: %s"
                       % (qualified(r.resource), r.name, pre["uid"], obj["metadata"]["uid"]))
    if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
        raise conflict(r)
    dry = q.get("dryRun") == "All" or "All" in (opts.get("dryRun") or [])
    details = {"name": r.name, "group": r.group, "kind": r.resource, "uid": obj["metadata"]["uid"]}
    if r.resource == "pods":
        grace = opts.get("gracePeriodSeconds")
        if "gracePeriodSeconds" in q:
            grace = int(q["gracePeriodSeconds"])
        return 200, present_versioned(r, CL.delete_pod(obj, grace, dry)), None
    if dry:
        return 200, present_versioned(r, obj), None
    if r.resource == "namespaces":
        terminate_namespace(obj)
        return 200, present_versioned(r, obj), None
    CL.remove(r.resource, obj)
    if r.resource == "nodes":
        CL.heartbeat.pop(r.name, None)
        # the pod garbage collector: pods bound to a node that is gone
        for p in list(CL.objs["pods"].values()):
            if p["spec"].get("nodeName") == r.name:
                CL.delete_pod(p, 0)
    if r.resource == "namespaces":
        return 200, present_versioned(r, obj), None
    return 200, success_status(200, details), None


def evict(r, q, body):
    ev = parse_body(body)
    sv = served()
    if not isinstance(ev, dict) or ev.get("kind") not in (None, "Eviction"):
        raise ApiError(400, "BadRequest", "the body of the eviction request must be an Eviction")
    check_body_version(r, ev, "Eviction", sv["eviction"]["accepts"] if sv["eviction"] else [])
    name = (ev.get("metadata") or {}).get("name")
    if name != r.name:
        raise ApiError(400, "BadRequest", "name in URL does not match name in Eviction object",
                       {"name": r.name, "kind": "pods"})
    pod = CL.get("pods", r.ns, r.name)
    opts = ev.get("deleteOptions") or {}
    dry = q.get("dryRun") == "All" or "All" in (opts.get("dryRun") or [])
    pre = opts.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != pod["metadata"]["uid"]:
        raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on pods "%s": Precondition failed: '
                       "UID in precondition: %s, UID in object meta: %s" % (r.name, pre["uid"], pod["metadata"]["uid"]))
    nso = CL.find("namespaces", None, r.ns)
    if nso and nso.get("status", {}).get("phase") == "Terminating":
        # the NamespaceLifecycle admission: nothing new in a namespace being deleted
        raise ApiError(403, "Forbidden", 'pods "%s" is forbidden: unable to create new content in namespace %s '
                       "because it is being terminated" % (r.name, r.ns),
                       {"name": r.name, "kind": "pods", "causes": [{
                           "reason": "NamespaceTerminating", "message": "namespace %s is being terminated" % r.ns,
                           "field": "metadata.namespace"}]})
    grace = opts.get("gracePeriodSeconds")
    ok = success_status(201)
    if pod["metadata"].get("deletionTimestamp") or pod["status"].get("phase") in ("Succeeded", "Failed", "Pending"):
        CL.delete_pod(pod, grace, dry)
        return 201, ok, None
    budgets = CL.budgets_for(pod)
    if len(budgets) > 1:
        raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the "
                       "eviction subresource does not support.")
    if budgets:
        b = budgets[0]
        st = CL.pdb_status(b)
        if st["disruptionsAllowed"] <= 0:
            raise ApiError(429, "TooManyRequests",
                           "Cannot evict pod as it would violate the pod's disruption budget.",
                           {"causes": [{"reason": "DisruptionBudget",
                                        "message": "The disruption budget %s needs %d healthy pods and has %d currently"
                                        % (b["metadata"]["name"], st["desiredHealthy"], st["currentHealthy"])}]})
    CL.delete_pod(pod, grace, dry)
    return 201, ok, None


def lab_endpoint(method, parts, q, body):
    what = "/".join(parts[1:])
    if what == "state" and method == "GET":
        return 200, {"version": CL.version, "resourceVersion": CL.rv,
                     "heartbeats": {k: ts(v) for k, v in CL.heartbeat.items()},
                     "pendingTimers": len(CL.timers),
                     "objects": {r: [present(r, o) for o in CL.objs[r].values()] for r in RESOURCES}}, None
    if what == "reset" and method == "POST":
        v = parse_body(body) if body.strip() else {}
        if not isinstance(v, dict) or v.get("fixture") not in (None, "drain"):
            raise ApiError(400, "BadRequest", 'want {} or {"fixture": "drain", "node": NAME}')
        CL.reset()
        if v.get("fixture") == "drain":
            drain_fixture(CL, v.get("node") or sorted(CL.objs["nodes"])[1][1])
        # the kubelets keep running: their nodes come back Ready on the next beat
        return 200, success_status(200), None
    if what == "version" and method in ("PUT", "POST"):
        v = parse_body(body)
        gv = v.get("gitVersion") if isinstance(v, dict) else None
        if not gv or not gv.startswith("v"):
            raise ApiError(400, "BadRequest", 'want {"gitVersion": "vX.Y.Z"}')
        CL.version = gv
        CL.next_rv()
        return 200, version_info(gv), None
    if what == "faults" and method == "GET":
        return 200, FAULTS, None
    if what == "faults" and method in ("POST", "PUT"):
        v = parse_body(body) if body else {}
        if not isinstance(v, dict):
            raise ApiError(400, "BadRequest", 'want {"status500": N, "drop": N, ...}')
        try:
            FAULTS.update(status500=int(v.get("status500", 0)), drop=int(v.get("drop", 0)),
                          user=v.get("user"), agent=v.get("agent"), path=v.get("path"),
                          methods=v.get("methods"),
                          injected={"status500": 0, "drop": 0})
            if FAULTS["path"]:
                re.compile(FAULTS["path"])
        except (TypeError, ValueError, re.error) as e:
            raise ApiError(400, "BadRequest", "bad fault: %s" % e)
        return 200, FAULTS, None
    if what == "hold" and method == "GET":
        with HOLD_COND:
            return 200, dict(HOLD), None
    if what == "hold" and method in ("POST", "PUT"):
        v = parse_body(body) if body else {}
        if not isinstance(v, dict):
            raise ApiError(400, "BadRequest", 'want {"path": RE, "together": N, ...}')
        try:
            h = {"path": v.get("path"), "methods": v.get("methods"), "together": int(v.get("together", 0)),
                 "timeout": float(v.get("timeout", 30)), "arrived": 0}
            if h["path"]:
                re.compile(h["path"])
        except (TypeError, ValueError, re.error) as e:
            raise ApiError(400, "BadRequest", "bad hold: %s" % e)
        with HOLD_COND:
            HOLD.update(h)
            HOLD_COND.notify_all()
            return 200, dict(HOLD), None
    if what == "workloads" and method == "POST":
        return 200, workloads(CL, parse_body(body)), None
    if what == "ready" and method == "GET":
        return 200, {"history": CL.history}, None
    if what == "ready" and method == "POST":
        ready_reset(CL)
        return 200, {"history": CL.history}, None
    if what == "settle" and method == "POST":
        deadline = time.time() + float(q.get("timeout", "10"))
        while CL.timers and time.time() < deadline:
            COND.wait(0.05)
        return 200, {"pendingTimers": len(CL.timers)}, None
    if what == "kubectl/get" and method == "GET":
        res = {"node": "nodes", "no": "nodes", "nodes": "nodes", "pod": "pods", "po": "pods",
               "pods": "pods", "pdb": "poddisruptionbudgets", "poddisruptionbudgets": "poddisruptionbudgets",
               "deploy": "deployments", "deployments": "deployments", "ds": "daemonsets",
               "daemonsets": "daemonsets", "rs": "replicasets", "replicasets": "replicasets",
               "ns": "namespaces", "namespaces": "namespaces", "leases": "leases", "lease": "leases"}.get(q.get("resource", ""))
        if not res:
            raise ApiError(404, "NotFound", 'the server doesn\'t have a resource type "%s"' % q.get("resource", ""))
        namespaced = RESOURCES[res][3]
        all_ns = q.get("all") == "1"
        ns = q.get("namespace") or "default"
        objs = [o for o in CL.objs[res].values()
                if not namespaced or all_ns or o["metadata"].get("namespace") == ns]
        if q.get("name"):
            objs = [o for o in objs if o["metadata"]["name"] == q["name"]]
            if not objs:
                raise not_found(res, q["name"])
        if q.get("fieldSelector"):
            pred = parse_field_selector(q["fieldSelector"], res)
            objs = [o for o in objs if pred(o)]
        if q.get("labelSelector"):
            pred = parse_label_selector(q["labelSelector"])
            objs = [o for o in objs if pred(o["metadata"].get("labels", {}))]
        objs.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        text = table_text(res, objs, q.get("wide") == "1", namespaced and all_ns)
        if not text:
            text = "No resources found.\n" if not namespaced or all_ns else "No resources found in %s namespace.\n" % ns
        return 200, text, "text/plain"
    return 404, status_obj(404, "NotFound", "no lab endpoint %s %s" % (method, "/" + "/".join(parts))), None


# ---- the HTTP server -----------------------------------------------------------------

def log(msg):
    if LOG:
        LOG.write("%s %s\n" % (ts(), msg))
        LOG.flush()


def take_fault(method, path, user, agent):
    """the fault for this request: "status500", "drop" or None"""
    with LOCK:
        f = FAULTS
        if path.startswith("/lab/") or not (f["status500"] or f["drop"]):
            return None
        if f["user"] and f["user"] != user:
            return None
        if f["agent"] and f["agent"] not in agent:
            return None
        if f["methods"] and method not in f["methods"]:
            return None
        if f["path"] and not re.search(f["path"], path):
            return None
        n = f["injected"]["status500"] + f["injected"]["drop"]
        kind = "status500" if f["status500"] and (not f["drop"] or n % 2 == 0) else "drop"
        f[kind] -= 1
        f["injected"][kind] += 1
        return kind


def take_hold(method, path):
    """wait as the hold says (POST /lab/hold): -> the log's note, or """""
    with HOLD_COND:
        h = HOLD
        if not h["path"] or path.startswith("/lab/") or (h["methods"] and method not in h["methods"]) \
                or not re.search(h["path"], path):
            return ""
        h["arrived"] += 1
        HOLD_COND.notify_all()
        if h["arrived"] == 1:
            h["deadline"] = time.time() + h["timeout"]
        while h["path"] and h["arrived"] < h["together"] and time.time() < h["deadline"]:
            HOLD_COND.wait(max(0.01, h["deadline"] - time.time()))
        note = " (held: %d of %d %s)" % (h["arrived"], h["together"],
                                          "together" if h["arrived"] >= h["together"] else "timed out")
        h["path"] = None  # one group: the requests after it go on at once
        HOLD_COND.notify_all()
        return note


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kplan-lab-apiserver"
    sys_version = ""

    def log_message(self, fmt, *a):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def watch(self, r, q, table, user):
        """a watch: chunked JSON lines {"type": ADDED|MODIFIED|DELETED,
        "object": ...}, from the list's resourceVersion (or the current
        objects as ADDED when none is given), until timeoutSeconds or the
        client goes"""
        with LOCK:
            lpred = parse_label_selector(q["labelSelector"]) if q.get("labelSelector") else (lambda l: True)
            fpred = parse_field_selector(q["fieldSelector"], r.resource) if q.get("fieldSelector") else (lambda o: True)
            since = q.get("resourceVersion") or ""
            epoch = CL.epoch
            if since and since != "0":
                if not since.isdigit():
                    raise ApiError(400, "BadRequest", 'invalid resource version "%s"' % since)
                last, initial = int(since), []
            else:
                last = CL.rv
                initial = [("ADDED", r.resource, copy.deepcopy(o)) for o in
                           sorted(CL.objs[r.resource].values(),
                                  key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))]
        deadline = time.time() + float(q.get("timeoutSeconds") or 1800)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        log("%s GET %s 200 (watch)" % (user, self.path))

        def match(res, o):
            md = o["metadata"]
            return res == r.resource and (r.ns is None or md.get("namespace") == r.ns) and \
                (r.name is None or md["name"] == r.name) and lpred(md.get("labels") or {}) and fpred(o)
        pending = initial
        try:
            while True:
                for kind, res, o in pending:
                    if not match(res, o):
                        continue
                    with LOCK:
                        obj = table_json(res, [o], False, table) if table else present_versioned(r, o)
                    if table:
                        obj["metadata"]["resourceVersion"] = o["metadata"]["resourceVersion"]
                    line = (json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                if time.time() >= deadline:
                    break
                with LOCK:
                    if CL.epoch != epoch:
                        break
                    new = [e for e in CL.watchlog if e[0] > last]
                    if not new:
                        COND.wait(min(1.0, max(0.01, deadline - time.time())))
                        new = [e for e in CL.watchlog if e[0] > last]
                    if new:
                        last = new[-1][0]
                    pending = [(k, res, o) for _, k, res, o in new]
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, ssl.SSLError):
            pass
        self.close_connection = True

    def do_any(self):
        body = self.read_body()
        u = urlsplit(self.path)
        user = "?"
        try:
            cert = self.connection.getpeercert()
            user = dict(x[0] for x in cert.get("subject", ()))["commonName"]
        except Exception:
            pass
        fault = take_fault(self.command, u.path, user, self.headers.get("User-Agent", ""))
        held = take_hold(self.command, u.path)
        try:
            if fault == "status500":
                raise ApiError(500, "InternalError", "Internal error occurred: injected fault (lab)")
            with LOCK:
                code, obj, ctype = handle(self.command, u.path, u.query, self.headers, body)
            if code == "WATCH":
                return self.watch(*obj, user)
        except ApiError as e:
            code, obj, ctype = e.code, status_obj(e.code, e.reason, e.message, e.details), None
        except Exception as e:  # never a stack trace on the wire
            log("error: %s %s: %r" % (self.command, self.path, e))
            code, obj, ctype = 500, status_obj(500, "InternalError", "Internal error occurred: %s" % e), None
        if isinstance(obj, bytes):
            data = obj
        elif isinstance(obj, str):
            data = obj.encode()
        else:
            data = json.dumps(obj, separators=(",", ":")).encode()
        log("%s %s %s %d%s%s %s" % (user, self.command, self.path, code,
                                  " (fault: %s)" % fault if fault else "", held,
                                  body[:300].decode(errors="replace").replace("\n", " ") if body else ""))
        self.send_response(code)
        self.send_header("Content-Type", ctype or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if fault == "drop":  # carried out, the answer cut off mid-body
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def process_request_thread(self, request, client_address):
        # the TLS handshake in the connection's own thread: a slow or bad
        # client never blocks the others
        try:
            request.settimeout(300)
            tls = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("TLS handshake with %s failed: %s" % (client_address[0], e))
            self.shutdown_request(request)
            return
        super().process_request_thread(tls, client_address)


def controller_loop():
    with LOCK:
        while True:
            wait = CL.tick()
            COND.wait(max(0.02, min(wait, 0.5)))


def main():
    global ARGS, CL, LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=6443)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--scenario", default="1")
    ap.add_argument("--version", default="v1.13.0", help="the cluster's version at start")
    ap.add_argument("--nodes", required=True, help="NAME=ADDR,... (the first is the control plane)")
    ap.add_argument("--node-grace", type=float, default=10.0)
    ap.add_argument("--replace-delay", type=float, default=1.0)
    ap.add_argument("--ready-delay", type=float, default=1.0)
    ap.add_argument("--terminate-delay", type=float, default=0.5)
    ap.add_argument("--log")
    ap.add_argument("--ready-file")
    ARGS = ap.parse_args()
    if ARGS.log:
        LOG = open(ARGS.log, "a")
    nodes = [tuple(x.split("=", 1)) for x in ARGS.nodes.split(",") if x]
    with LOCK:
        CL = Cluster(ARGS.scenario, nodes)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(ARGS.cert, ARGS.key)
    tls.load_verify_locations(ARGS.ca)
    tls.verify_mode = ssl.CERT_REQUIRED
    tls.set_alpn_protocols(["http/1.1"])
    srv = Server((ARGS.bind, ARGS.port), Handler)
    srv.tls = tls
    threading.Thread(target=controller_loop, daemon=True).start()
    log("listening on https://%s:%d" % (ARGS.bind, ARGS.port))
    if ARGS.ready_file:
        with open(ARGS.ready_file, "w") as f:
            f.write("%s:%d\n" % (ARGS.bind, ARGS.port))
    srv.serve_forever()


CL = None
if __name__ == "__main__":
    main()
