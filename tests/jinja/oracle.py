#!/usr/bin/python3
"""oracle.py - the expected answers of the Jinja corpus, from ansible-core.

Each tests/jinja/cases/THEME.yml is rendered through ansible-core's own
templating, the way a task argument is templated (Templar with a
DataLoader), the way a `when:` condition is evaluated (Conditional), or the
way the template module renders a file (trim_blocks on, lstrip_blocks off,
trailing newlines kept). The answers are written as
tests/jinja/expected/THEME.json, one object per case with the variables
and options kplan needs to render the same case.

    oracle.py [--check] [--out DIR] CASES.yml...

--check compares with the committed files instead of writing them and exits
1 on any difference: the corpus cannot drift from Ansible.

A case file is a mapping: `vars` (shared by its cases) and `cases`, a list
of mappings with `name` and exactly one of
    expr:      an expression, rendered as the task argument "{{ expr }}"
    template:  a task argument string with {{ }} / {% %} in it
    file:      a template-module file (template_options may set
               trim_blocks, lstrip_blocks)
    when:      a condition, as in `when:` (the answer is true or false)
and optionally `vars` (over the file's), `error_key` (for a case that must
fail: a word Ansible's message names, e.g. the undefined variable, which
kplan's message must name too; for a Jinja syntax error the answer also
records Jinja's own message and line, which kplan's message must hold) and `source` (repository and path the
expression comes from). In string values "@DATA@" is tests/jinja/data and
"@TMP@" the directory given in $KPLAN_JINJA_TMP (in the case's text and
variables alike; Ansible's messages get the placeholders back).
"""
import json
import os
import re
import sys

import yaml
from jinja2.exceptions import TemplateSyntaxError

from ansible.errors import AnsibleUndefinedVariable
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.conditional import Conditional
from ansible.template import AnsibleEnvironment, Templar

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
KINDS = ("expr", "template", "file", "when")
problems = []
TMP = [None]


def substitute(v, tmp):
    if isinstance(v, str):
        return v.replace("@DATA@", DATA).replace("@TMP@", tmp)
    if isinstance(v, list):
        return [substitute(x, tmp) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x, tmp) for k, x in v.items()}
    return v


def plain(v):
    """A rendered value as plain JSON data; anything else is a corpus bug."""
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, str):
        s = str(v)
        if re.search(r" at 0x[0-9a-f]+>", s):
            raise ValueError("the answer holds a Python object address: %r" % s)
        return s
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    raise ValueError("the answer is a %s, not JSON data: %r" % (type(v).__name__, v))


def render(case, variables, loader):
    kind = [k for k in KINDS if k in case][0]
    templar = Templar(loader=loader, variables=variables)
    if kind == "expr":
        return templar.template("{{ %s }}" % case["expr"])
    if kind == "template":
        return templar.template(case["template"])
    if kind == "when":
        cond = Conditional(loader=loader)
        cond.when = [case["when"]]
        return cond.evaluate_conditional(templar, variables)
    opts = case.get("template_options", {})
    t = templar.copy_with_new_env(environment_class=AnsibleEnvironment,
                                  searchpath=[DATA],
                                  trim_blocks=opts.get("trim_blocks", True),
                                  lstrip_blocks=opts.get("lstrip_blocks", False),
                                  available_variables=variables)
    return t.do_template(case["file"], preserve_trailing_newlines=True,
                         escape_backslashes=False)


def syntax_error(e):
    """The TemplateSyntaxError behind Ansible's error, if any."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, TemplateSyntaxError):
            return e
        e = getattr(e, "orig_exc", None) or e.__cause__ or e.__context__
    return None


def answer(case, variables, loader, where):
    key = case.get("error_key")
    try:
        value = plain(render(case, variables, loader))
    except Exception as e:  # every failure Ansible reports is an answer
        msg = " ".join(str(e).split()).replace(DATA, "@DATA@").replace(TMP[0], "@TMP@")
        if key is None:
            problems.append("%s: Ansible fails where the case expects a value: %s" % (where, msg))
            return None
        if str(key).lower() not in msg.lower():
            problems.append("%s: Ansible's message does not name %r: %s" % (where, key, msg))
            return None
        kind = "undefined" if isinstance(e, AnsibleUndefinedVariable) else "error"
        rec = {"error": kind, "key": str(key), "message": msg}
        syn = syntax_error(e)
        if syn is not None and syn.lineno:
            # Jinja's own words and line, which kplan must give too (line 0:
            # Ansible's "Could not load" of a filter, not Jinja's parser)
            rec["syntax"] = {"message": syn.message, "line": syn.lineno}
        return rec
    if key is not None:
        problems.append("%s: Ansible answers %r where the case expects an error" % (where, value))
        return None
    return {"value": value}


def expect_file(path, tmp):
    with open(path) as f:
        doc = yaml.safe_load(f)
    loader = DataLoader()
    loader.set_basedir(DATA)
    shared = doc.get("vars") or {}
    out, seen = [], set()
    for case in doc["cases"]:
        where = "%s: case '%s'" % (os.path.basename(path), case.get("name"))
        kinds = [k for k in KINDS if k in case]
        if len(kinds) != 1 or not case.get("name"):
            raise SystemExit("%s: needs a name and exactly one of %s" % (where, ", ".join(KINDS)))
        if case["name"] in seen:
            raise SystemExit("%s: duplicate name" % where)
        seen.add(case["name"])
        variables = dict(shared)
        variables.update(case.get("vars") or {})
        rec = {"name": case["name"], kinds[0]: case[kinds[0]]}
        if "template_options" in case:
            rec["template_options"] = case["template_options"]
        if "source" in case:
            rec["source"] = case["source"]
        rec["vars"] = variables
        rec["expect"] = answer(substitute(case, tmp), substitute(variables, tmp), loader, where)
        out.append(rec)
    return out


def main(argv):
    check, outdir, files = False, os.path.join(HERE, "expected"), []
    it = iter(argv)
    for a in it:
        if a == "--check":
            check = True
        elif a == "--out":
            outdir = next(it)
        else:
            files.append(a)
    tmp = os.environ.get("KPLAN_JINJA_TMP")
    if not tmp:
        raise SystemExit("oracle.py: KPLAN_JINJA_TMP is not set")
    TMP[0] = tmp
    out = []
    status = 0
    for path in files:
        text = json.dumps(expect_file(path, tmp), indent=1, ensure_ascii=False) + "\n"
        if problems:
            continue
        dest = os.path.join(outdir, os.path.splitext(os.path.basename(path))[0] + ".json")
        if check:
            try:
                with open(dest) as f:
                    old = f.read()
            except OSError:
                old = None
            if old != text:
                print("%s: differs from what ansible-core answers now (run "
                      "tests/jinja/run.sh --update)" % os.path.relpath(dest), file=sys.stderr)
                status = 1
        else:
            with open(dest, "w") as f:
                f.write(text)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
