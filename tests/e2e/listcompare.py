#!/usr/bin/python3
"""Compare ansible-playbook's --list-hosts or --list-tasks output with
kplan's: the same plays, in order, with the same names and patterns, the
same hosts (as a set: ansible-playbook's order is its inventory's hashing),
the same tasks in order with their tags.

usage: listcompare.py hosts|tasks|both ANSIBLE_OUTPUT KPLAN_OUTPUT
(both: the output of --list-hosts --list-tasks together; a play printed
twice, once with its hosts and once with its tasks, is one play)
"""
import re
import sys


def plays(path, ansible):
    out, cur, by = [], None, {}
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        if not line.strip() or line.startswith(("playbook:", "plan:")):
            continue
        m = re.match(r"  play #(\d+) \((.*)\): (.*?)(\tTAGS: \[.*\])?$", line)
        if m:
            if m.group(1) in by:
                cur = by[m.group(1)]
                continue
            cur = {"head": (m.group(1), m.group(2), m.group(3)), "pattern": None,
                   "hosts": set(), "tasks": []}
            by[m.group(1)] = cur
            out.append(cur)
            continue
        if cur is None:
            continue
        s = line.strip()
        if s.startswith("pattern: "):
            p = s[len("pattern: "):]
            if ansible and p.startswith("["):
                p = ",".join(x.strip().strip("'\"") for x in p.strip("[]").split(","))
            cur["pattern"] = p
        elif s.startswith("hosts (") or s == "tasks:":
            continue
        elif line.startswith("      ") and "\t" not in line and sys.argv[1] != "tasks":
            cur["hosts"].add(s)
        else:
            cur["tasks"].append(s)
    return out


a, k = plays(sys.argv[2], True), plays(sys.argv[3], False)
if a == k:
    sys.exit(0)
for i in range(max(len(a), len(k))):
    pa = a[i] if i < len(a) else None
    pk = k[i] if i < len(k) else None
    if pa != pk:
        print("play #%d:" % (i + 1))
        print("  ansible-playbook: %s" % (pa,))
        print("  kplan:            %s" % (pk,))
        break
sys.exit(1)
