#!/usr/bin/python3
"""Compare a check's preview with the run that followed, host by host.

usage: fidelity.py CHECK.json RUN.jsonl NAME
CHECK.json is `kplan check --format json`, RUN.jsonl `kplan run --format
json`. Every change the preview predicted must have happened, and no change
may happen that it did not predict, except where the preview said the
outcome depends on an earlier task (<unknown: depends on ...>). Prints one
`ok - fidelity: ...` or `not ok - ...` line per host.
"""
import collections, json, sys
prev, name = json.load(open(sys.argv[1])), sys.argv[3]
def key(seen, host, task, item):
    k = (host, task, item)
    seen[k] += 1
    return k + (seen[k],)
P, seen = collections.OrderedDict(), collections.Counter()
for p in prev["plays"]:
    for b in p["batches"]:
        for h in b["hosts"]:
            for t in h["tasks"]:
                P[key(seen, h["host"], t["task"], t["item"])] = t
R, seen = collections.OrderedDict(), collections.Counter()
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result":
        R[key(seen, e["host"], e["task"], e.get("item"))] = e
if prev["stopped"]:
    print("not ok - fidelity %s: the check stopped early: %s" % (name, prev["stopped"]))
hosts = []
for k in list(P) + list(R):
    if k[0] not in hosts:
        hosts.append(k[0])
for host in hosts:
    bad, pred, made, unknown = [], 0, 0, 0
    for k in [k for k in P if k[0] == host] + [k for k in R if k[0] == host and k not in P]:
        t, e = P.get(k), R.get(k)
        label = k[1] + (" [%s]" % k[2] if k[2] else "")
        predicted = bool(t) and (t["status"] == "changed" or t["pending"])
        unk = bool(t) and t["unknown"]
        changed = bool(e) and e["status"] == "changed"
        pred, made, unknown = pred + predicted, made + changed, unknown + unk
        if e and e["status"] in ("failed", "unreachable"):
            bad.append("%s: %s in the run: %s" % (label, e["status"], e["msg"][:200]))
        elif predicted and not unk and not changed:
            bad.append("%s: the check predicted %r, the run says %s %r" % (
                label, t["outcome"][:160], e["status"] if e else "(not run)",
                (e or {}).get("msg", "")[:160]))
        elif changed and not predicted and not unk:
            bad.append("%s: the run changed it (%r), the check said %s %r" % (
                label, e["msg"][:160], t["status"] if t else "(not there)",
                t["outcome"][:160] if t else ""))
    what = "%d predicted, %d changed, %d unknown" % (pred, made, unknown)
    print("%s - fidelity: %s on %s: %s" % ("not ok" if bad else "ok", name, host, what))
    for b in bad:
        print("    " + b)
