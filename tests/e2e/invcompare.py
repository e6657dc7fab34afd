#!/usr/bin/python3
"""Compare `kplan inventory --list` with `ansible-inventory --list`.

usage: invcompare.py ANSIBLE.json KPLAN.json
Every host's variables must be equal, with their types (1000.0 is not
1000, "true" is not true). Every group ansible-inventory lists must have
the same hosts and children in kplan's. kplan may list more groups only
when they are kubespray's compatibility groups (k8s_cluster,
kube_control_plane, kube_node, calico_rr, no_floating) that ansible-inventory
does not have; they carry no variables (the hostvars check sees to that).
A variable whose name says it holds a credential (kplan's one rule,
kp_secret_name in runner/core/value.c: *_password, *_passwd, *_pass, *_key,
key, password, *token*, *secret*) must print as "<hidden>" in kplan's
listing, whatever its value.
Prints the differences; exit 1 when there are any.
"""
import json
import sys

COMPAT = {"k8s_cluster", "kube_control_plane", "kube_node", "calico_rr", "no_floating"}


def secret_name(name):
    n = name.lower()
    return (n.endswith(("_password", "_passwd", "_pass", "_key")) or n in ("key", "password")
            or "token" in n or "secret" in n)


def typed(v):
    """A value with its JSON types made explicit (True is not 1)."""
    if isinstance(v, dict):
        return {k: typed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [typed(x) for x in v]
    return (type(v).__name__, v)


def main():
    a = json.load(open(sys.argv[1]))
    k = json.load(open(sys.argv[2]))
    diffs = []
    ah, kh = a["_meta"]["hostvars"], k["_meta"]["hostvars"]
    for h in sorted(set(ah) | set(kh)):
        av, kv = ah.get(h, {}), kh.get(h, {})
        for key in sorted(set(av) | set(kv)):
            if secret_name(key) and key in av:
                if kv.get(key) != "<hidden>":
                    diffs.append(f"host {h} var {key}: a secret, but kplan shows {kv.get(key, '<unset>')!r}")
                continue
            if typed(av.get(key, "<unset>")) != typed(kv.get(key, "<unset>")):
                diffs.append(f"host {h} var {key}: ansible {av.get(key, '<unset>')!r} kplan {kv.get(key, '<unset>')!r}")
    for g in sorted(set(a) | set(k)):
        if g == "_meta":
            continue
        if g not in a:
            if g not in COMPAT:
                diffs.append(f"group {g}: only in kplan")
            continue
        if g not in k:
            diffs.append(f"group {g}: only in ansible")
            continue
        for part in ("hosts", "children"):
            want = a[g].get(part, [])
            got = k[g].get(part, [])
            if part == "children":  # kubespray's groups kplan adds, and only those
                got = [x for x in got if x in want or x not in COMPAT]
            if part == "children":
                want = sorted(want)
                got = sorted(got)
            if want != got:
                diffs.append(f"group {g} {part}: ansible {want} kplan {got}")
    for d in diffs:
        print(d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
