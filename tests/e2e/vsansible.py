"""Compare what ansible-playbook reported (ANSIBLE_STDOUT_CALLBACK=json)
with kplan's JSON events for the same plan on the local connection.

    vsansible.py status LABEL A.json K.json
        each task of the first play: the same outcome (ok, changed,
        ignored) and, where it failed, the same message
    vsansible.py keys LABEL A.json K.json KEY,KEY,...
        each task of the first play: the same values under those keys
        (failed and changed as booleans) and, where it failed, the same
        message

    vsansible.py files PREFIX A_FILE K_FILE [A_FILE K_FILE ...]
        JSON objects the two runs wrote (a playbook's dump of what it saw):
        each key of Ansible's the same in kplan's; PREFIX (may be empty)
        goes before each key's name

Prints TAP-style lines (ok - / not ok -); the e2e harness counts them."""
import json
import sys


def ansible_results(path, host="localhost"):
    a = json.load(open(path))
    return {t["task"]["name"]: t["hosts"][host] for t in a["plays"][0]["tasks"]}


def kplan_events(path):
    got = {}
    for line in open(path):
        e = json.loads(line)
        if e.get("event") == "host_result":
            got[e["task"]] = e
    return got


def compare_status(label, a_path, k_path):
    got = kplan_events(k_path)
    for name, h in ansible_results(a_path).items():
        want = "ignored" if h.get("failed") else "changed" if h.get("changed") else "ok"
        g = got.get(name, {})
        same_msg = not h.get("failed") or h.get("msg") == g.get("msg")
        if g.get("status") == want and same_msg:
            print(f"ok - {label} {name}: {want} as Ansible")
        else:
            print(f"not ok - {label} {name}: ansible {want} {h.get('msg')!r} "
                  f"kplan {g.get('status')} {g.get('msg')!r}")


def compare_keys(label, a_path, k_path, keys):
    got = {n: e["result"] for n, e in kplan_events(k_path).items()}
    for name, w in ansible_results(a_path).items():
        g = got.get(name, {})
        w = dict(w, failed=bool(w.get("failed")), changed=bool(w.get("changed")))
        diff = [k for k in keys if w.get(k, "<unset>") != g.get(k, "<unset>")]
        if w.get("failed") and w.get("msg") != g.get("msg"):
            diff.append("msg")
        if not diff:
            print(f"ok - {label} {name}: as Ansible")
        else:
            print(f"not ok - {label} {name}")
            for k in diff:
                print(f"    {k}: ansible {w.get(k, '<unset>')!r} kplan {g.get(k, '<unset>')!r}")


def compare_files(prefix, pairs):
    for a_path, k_path in pairs:
        a = json.load(open(a_path))
        try:
            k = json.load(open(k_path))
        except OSError:
            k = {}
        for name in a:
            if a[name] == k.get(name):
                print(f"ok - {prefix}{name}: {json.dumps(a[name])} as Ansible")
            else:
                print(f"not ok - {prefix}{name}: ansible {json.dumps(a[name])} "
                      f"kplan {json.dumps(k.get(name))}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "status":
        compare_status(*sys.argv[2:5])
    elif len(sys.argv) == 6 and sys.argv[1] == "keys":
        compare_keys(*sys.argv[2:5], sys.argv[5].split(","))
    elif len(sys.argv) >= 5 and sys.argv[1] == "files" and len(sys.argv) % 2 == 1:
        compare_files(sys.argv[2], zip(sys.argv[3::2], sys.argv[4::2]))
    else:
        sys.exit(__doc__)
