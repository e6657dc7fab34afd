#!/usr/bin/python3
"""foldcheck.py FOLDED NOFOLD: whether a folded text preview says what the
per-host one (--no-fold) says. Every group's lines, read with each member's
own name in place of the first host's, must be that member's lines, and
every host must be shown. Prints "faithful" or the first difference."""
import re
import sys

HOSTLINE = re.compile(r"^      (\S.*?)( \[item \d+\])?: (.*)$")
GROUP = re.compile(r"^    (\S+) … (\S+) \(([\d,]+) hosts\): the same \d+ tasks?, shown as for (\S+)$")


def batches(path):
    """[(header, legend {first: members}, [(task, label, item, rest)])]"""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("  BATCH ") or line.startswith("  SLIDING WINDOW"):
            out.append((line, {}, []))
            task = None
        elif out:
            m = GROUP.match(line)
            if m:
                members = lines[i + 1].strip().split(", ")
                if len(members) != int(m.group(3).replace(",", "")):
                    sys.exit(f"group {m.group(4)}: {len(members)} names for {m.group(3)} hosts")
                if members[0] != m.group(1) or members[-1] != m.group(2):
                    sys.exit(f"group {m.group(4)}: the range does not match its names")
                out[-1][1][m.group(4)] = members
                i += 2
                continue
            if line.startswith("    ") and "TASK [" in line:
                task = line.strip()
            else:
                h = HOSTLINE.match(line)
                if h and task:
                    label = h.group(1).split(" … ")[0]
                    out[-1][2].append((task, label, h.group(2) or "", h.group(3)))
        i += 1
    return out


def own(text, first, host):
    return re.sub(r"(?<![A-Za-z0-9_-])" + re.escape(first) + r"(?![A-Za-z0-9_-])", host, text)


folded, plain = batches(sys.argv[1]), batches(sys.argv[2])
if len(folded) != len(plain):
    sys.exit(f"{len(folded)} batches folded, {len(plain)} per host")
for (hf, groups, frows), (hp, _, prows) in zip(folded, plain):
    if hf != hp:
        sys.exit(f"batch headers differ: {hf} / {hp}")
    want = {}
    for task, host, item, rest in prows:
        want.setdefault(host, []).append((task, item, rest))
    got = {}
    for task, label, item, rest in frows:
        for m in groups.get(label, [label]):
            got.setdefault(m, []).append((task, item, own(rest, label, m)))
    for host in want:
        if got.get(host) != want[host]:
            sys.exit(f"{hf.strip()}: {host} reads {got.get(host)} folded, {want[host]} per host")
    if set(got) != set(want):
        sys.exit(f"{hf.strip()}: hosts {sorted(set(got) ^ set(want))} on one side only")
print("faithful")
