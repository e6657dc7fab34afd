#!/usr/bin/python3
"""Check a kplan --format json event stream and answer questions about it.

usage: jsonevents.py validate SCHEMA < events      every line valid, in order
       jsonevents.py batches < events              one line per batch: its hosts
       jsonevents.py statuses TASK < events        host=status for that task, sorted
       jsonevents.py maxflight BEGIN END < events  most hosts between BEGIN and END at once
Uses only Debian's python3-jsonschema besides the standard library.
"""
import json
import sys


def events():
    text = sys.stdin.read()
    if text.startswith("{\n"):
        # kplan check --format json: one kplan-preview document; its rows
        # answer `statuses` like a run's host_result events
        doc = json.loads(text)
        for p in doc["plays"]:
            for b in p["batches"]:
                for h in b["hosts"]:
                    for t in h["tasks"]:
                        yield {"event": "host_result", "host": h["host"], "task": t["task"],
                               "status": t["status"]}
        return
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line:
            try:
                yield json.loads(line)
            except ValueError as e:
                sys.exit("line %d is not JSON: %s" % (n, e))


def main():
    cmd = sys.argv[1]
    evs = list(events())
    if cmd == "validate":
        import jsonschema
        schema = json.load(open(sys.argv[2]))
        validator = jsonschema.Draft202012Validator(schema)
        for i, ev in enumerate(evs, 1):
            errs = sorted(validator.iter_errors(ev), key=str)
            if errs:
                sys.exit("event %d (%s) invalid: %s" % (i, ev.get("event"), errs[0].message))
        names = [e["event"] for e in evs]
        if not names or names[0] != "run_start" or names[-1] != "run_end" or names[-2] != "recap":
            sys.exit("stream must start with run_start and end with recap, run_end: %s" % names)
        print("valid: %d events" % len(evs))
    elif cmd == "batches":
        for ev in evs:
            if ev["event"] == "batch_start":
                print(" ".join(ev["hosts"]))
    elif cmd == "statuses":
        rows = sorted("%s=%s" % (e["host"], e["status"]) for e in evs
                      if e["event"] == "host_result" and e["task"] == sys.argv[2])
        print(" ".join(rows))
    elif cmd == "maxflight":
        begin, end = sys.argv[2], sys.argv[3]
        spans = {}
        for e in evs:
            if e["event"] != "host_result":
                continue
            if e["task"] == begin:
                spans.setdefault(e["host"], [0, 0])[0] = e["ts"] - e["duration_ms"] / 1000.0
            elif e["task"] == end:
                spans.setdefault(e["host"], [0, 0])[1] = e["ts"]
        # ts and duration_ms are whole milliseconds: a host that starts the
        # moment another ends may appear to start up to 2 ms early
        points = sorted([(s + 0.003, 1) for s, _ in spans.values()] +
                        [(t, -1) for _, t in spans.values()])
        cur = best = 0
        for _, d in points:
            cur += d
            best = max(best, cur)
        print(best)
    else:
        sys.exit("unknown command " + cmd)


main()
