#!/usr/bin/python3
"""fake_apiserver.py - a tiny Kubernetes API server for kplan's unit tests.

HTTPS with client-certificate verification (CERT_REQUIRED), standard
library only. Serves the state from a JSON file: nodes, pods, budgets,
daemonsets (["ns/name", ...]: the DaemonSets that exist), discovery
(/api/v1 and /apis, from the knobs), and knobs: "no_v1_eviction" (a
1.21 server: discovery names policy/v1beta1 for pods/eviction, and a
policy/v1 Eviction is the real server's 400), "no_eviction" (no
pods/eviction in discovery at all),
"block" ({"ns/name": n}: n evictions answered 429, -1 for ever),
"no_v1_pdb" (budgets only under policy/v1beta1, a server before 1.21),
"ready_after" ({"node": n}: the node turns Ready on its n-th GET),
"faults" (a list, one entry used per request, in order, before the request
is handled or not: "500" / "503" answer that status without doing
anything, "drop" does the request and sends half of the answer, then
closes the connection, "close" does the request and closes without an
answer, "" handles the request normally).
Every request is appended to the log file as one JSON line
{"method", "path", "body"}. The chosen port is written to the port file.

usage: fake_apiserver.py STATE LOG PORTFILE CERTDIR
"""
import http.server
import json
import ssl
import sys
import uuid
from urllib.parse import urlsplit, parse_qs

state_file, log_file, port_file, certdir = sys.argv[1:5]
with open(state_file) as f:
    S = json.load(f)
S.setdefault("nodes", {})
S.setdefault("pods", [])
S.setdefault("pdbs", [])
S.setdefault("block", {})
S.setdefault("ready_after", {})
S.setdefault("faults", [])
S.setdefault("daemonsets", [])

STATUS_TEXT = {404: "NotFound", 429: "TooManyRequests", 400: "BadRequest"}


def status(code, message, name=None, kind=None):
    s = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
         "message": message, "reason": STATUS_TEXT.get(code, "Unknown"), "code": code}
    if name:
        s["details"] = {"name": name, "kind": kind}
    return code, s


def find_pod(ns, name):
    for p in S["pods"]:
        if p["metadata"]["namespace"] == ns and p["metadata"]["name"] == name:
            return p
    return None


def labels_match(sel, labels):
    for term in filter(None, sel.split(",")):
        k, _, v = term.partition("=")
        if labels.get(k) != v:
            return False
    return True


def handle(method, url, body):
    u = urlsplit(url)
    q = parse_qs(u.query)
    parts = [p for p in u.path.split("/") if p]
    if u.path == "/version":
        return 200, {"gitVersion": S.get("version", "v1.13.0")}
    ev_version = "v1beta1" if S.get("no_v1_eviction") else "v1"
    pdb_version = "v1beta1" if S.get("no_v1_pdb") else "v1"
    if u.path == "/api/v1" and method == "GET":
        res = [{"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["get", "list"]}]
        if not S.get("no_eviction"):  # a server before the eviction subresource
            res.append({"name": "pods/eviction", "namespaced": True, "kind": "Eviction",
                        "group": "policy", "version": ev_version, "verbs": ["create"]})
        return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": res}
    if u.path == "/apis" and method == "GET":
        def group(name, versions):
            gv = [{"groupVersion": name + "/" + v, "version": v} for v in versions]
            return {"name": name, "versions": gv, "preferredVersion": gv[0]}
        return 200, {"kind": "APIGroupList", "groups": [
            group("apps", ["v1"]), group("policy", [pdb_version]),
            group("coordination.k8s.io", ["v1"])]}
    if parts[:3] == ["apis", "apps", "v1"] and len(parts) == 7 and parts[5] == "daemonsets":
        if parts[4] + "/" + parts[6] in S["daemonsets"]:
            return 200, {"kind": "DaemonSet", "metadata": {"name": parts[6], "namespace": parts[4]}}
        return status(404, 'daemonsets.apps "%s" not found' % parts[6], parts[6], "daemonsets")
    if parts[:3] == ["api", "v1", "nodes"] and len(parts) == 4:
        name = parts[3]
        node = S["nodes"].get(name)
        if node is None:
            return status(404, 'nodes "%s" not found' % name, name, "nodes")
        if method == "GET":
            if name in S["ready_after"]:
                S["ready_after"][name] -= 1
                if S["ready_after"][name] <= 0:
                    node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
            return 200, node
        if method == "PATCH":
            patch = json.loads(body)
            spec = node.setdefault("spec", {})
            for k, v in patch.get("spec", {}).items():
                if v is None:
                    spec.pop(k, None)
                else:
                    spec[k] = v
            return 200, node
        if method == "DELETE":
            del S["nodes"][name]
            return 200, {"kind": "Status", "status": "Success"}
    if parts == ["api", "v1", "pods"] and method == "GET":
        field = q.get("fieldSelector", [""])[0]
        node = field.split("=", 1)[1] if field.startswith("spec.nodeName=") else None
        sel = q.get("labelSelector", [""])[0]
        items = [p for p in S["pods"]
                 if (node is None or p["spec"].get("nodeName") == node)
                 and labels_match(sel, p["metadata"].get("labels", {}))]
        return 200, {"kind": "PodList", "apiVersion": "v1", "items": items}
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) >= 6 and parts[4] == "pods":
        ns, name = parts[3], parts[5]
        pod = find_pod(ns, name)
        if len(parts) == 7 and parts[6] == "eviction" and method == "POST":
            ev = json.loads(body)
            if S.get("no_v1_eviction") and ev.get("apiVersion") == "policy/v1":
                return status(400, 'Eviction in version "v1" cannot be handled as a Eviction: '
                              'no kind "Eviction" is registered for version "policy/v1"')
            if pod is None:
                return status(404, 'pods "%s" not found' % name, name, "pods")
            key = ns + "/" + name
            n = S["block"].get(key, 0)
            if n != 0:
                if n > 0:
                    S["block"][key] = n - 1
                return status(429, "Cannot evict pod as it would violate the pod's "
                                   "disruption budget.")
            S["pods"].remove(pod)
            return 201, {"kind": "Status", "status": "Success"}
        if len(parts) == 6:
            if pod is None:
                return status(404, 'pods "%s" not found' % name, name, "pods")
            if method == "GET":
                return 200, pod
            if method == "DELETE":
                S["pods"].remove(pod)
                return 200, pod
    # "no_v1_pdb": budgets are served as policy/v1beta1 only (before 1.21)
    if parts[:3] == ["apis", "policy", pdb_version] and len(parts) == 6 and \
            parts[5] == "poddisruptionbudgets":
        items = [b for b in S["pdbs"] if b["metadata"]["namespace"] == parts[4]]
        return 200, {"kind": "PodDisruptionBudgetList", "items": items}
    return status(404, "the server could not find the requested resource")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else None
        with open(log_file, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "body": body, "auth": self.headers.get("Authorization"),
                                "ctype": self.headers.get("Content-Type"),
                                "fault": S["faults"][0] if S["faults"] else None}) + "\n")
        fault = S["faults"].pop(0) if S["faults"] else ""
        if fault in ("500", "503"):
            code, obj = int(fault), {"kind": "Status", "apiVersion": "v1",
                                     "status": "Failure", "code": int(fault),
                                     "reason": "InternalError" if fault == "500"
                                     else "ServiceUnavailable",
                                     "message": "fault injected"}
        else:
            code, obj = handle(self.command, self.path, body)
        if fault == "close":
            self.close_connection = True
            return
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault == "drop":
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = any


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(certdir + "/server.crt", certdir + "/server.key")
ctx.load_verify_locations(certdir + "/ca.crt")
ctx.verify_mode = ssl.CERT_REQUIRED
# threads: a client that opens a new connection (kplan does for a POST)
# must not wait for the server to give up on its idle keep-alive one
http.server.ThreadingHTTPServer.daemon_threads = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
