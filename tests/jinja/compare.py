#!/usr/bin/python3
"""compare.py - holds kplan's answers against ansible-core's.

    compare.py EXPECTED.json KPLAN.json

Values must be equal as Python sees them and of the same type (2 is not
2.0 nor True, "1" is not 1). Where Ansible fails, kplan must fail too, and
its message must name the case's key fact (error_key); for a syntax error
it must also hold Jinja's message and name Jinja's line. Prints each failure
with the case, Ansible's answer and kplan's; the last line is
"N passed, N failed" for this file.
"""
import json
import os
import sys


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def show(v):
    return json.dumps(v, ensure_ascii=False)


def main(expected_path, kplan_path):
    with open(expected_path) as f:
        expected = json.load(f)
    try:
        with open(kplan_path) as f:
            got = {a["name"]: a for a in json.load(f)}
    except ValueError:
        got = {}  # no answers: every case fails, each shown
    theme = os.path.splitext(os.path.basename(expected_path))[0]
    passed = failed = 0
    for case in expected:
        want, have = case["expect"], got.get(case["name"])
        if "error" in want:
            why = "an error naming %s" % show(want["key"])
            ok = have is not None and "error" in have and \
                want["key"].lower() in have["message"].lower()
            syn = want.get("syntax")
            if syn:
                # a syntax error: Jinja's words (without the final period)
                # and the template line Jinja names
                text = syn["message"][:-1] if syn["message"].endswith(".") else syn["message"]
                why += ", Jinja's message %s and 'line %d,'" % (show(text), syn["line"])
                ok = ok and text in have["message"] and \
                    ("line %d," % syn["line"]) in have["message"]
        else:
            why = "an equal value of the same type"
            ok = have is not None and "value" in have and same(want["value"], have["value"])
        if ok:
            passed += 1
            continue
        failed += 1
        kind = [k for k in ("expr", "template", "file", "when") if k in case][0]
        print("FAIL %s/%s: %s: %s" % (theme, case["name"], kind, show(case[kind])))
        if "error" in want:
            print("  ansible: error: %s" % want["message"])
        else:
            print("  ansible: %s" % show(want["value"]))
        if have is None:
            print("  kplan:   no answer")
        elif "error" in have:
            print("  kplan:   error: %s" % have["message"])
        else:
            print("  kplan:   %s" % show(have["value"]))
        print("  (wanted %s)" % why)
    print("%s: %d passed, %d failed" % (theme, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
