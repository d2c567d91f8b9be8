"""pgemuctl -f text|json|keyvalue on a real lab (issue 13: output people can
read and scripts can parse).

- text: `router agents` is a table: a header row of the keys in capitals,
  one row per agent, every cell starting under its header, the cells the
  agents' values (an agent set not_ready by hand shows so); `router
  peripherals` has its sides as a table of their own, led by the
  peripheral's id; `acd agents` likewise a table; status keeps its
  summary lines.
- json: -f json parses, and is what -j gives.
- keyvalue: one path=value line per leaf, parsed back it is the JSON data
  (router agents, peripherals, status); an unknown format is a usage error.
"""
import json
import re
import subprocess

from pgemu_test import PGEMUCTL, check, lab_online, log, run, wait_for

AGENTS = 5
# Values that move between two calls.
MOVING = ("seconds_in_state", "uptime", "time")


def ctl(lab, fmt, node, *args):
    """pgemuctl -f FMT (none: no -f; "j": -j) NODE ARGS: its output."""
    opt = {None: [], "j": ["-j"]}.get(fmt, ["-f", fmt])
    cmd = [PGEMUCTL, "-s", lab.dir] + opt + [node] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "%s: exit %d %r" % (" ".join(cmd),
                                                 r.returncode, r.stderr))
    return r.stdout


def table(text):
    """A text table: (headers, rows as dicts), checking that every cell
    starts under its header."""
    lines = text.rstrip("\n").split("\n")
    head = lines[0]
    cols = [(m.start(), m.group()) for m in re.finditer(r"\S+", head)]
    check(cols and cols[0][0] == 0, "no header: %r" % head)
    rows = []
    for line in lines[1:]:
        row = {}
        for i, (off, name) in enumerate(cols):
            end = cols[i + 1][0] if i + 1 < len(cols) else len(line)
            check(len(line) > off and line[off] != " " and
                  (off == 0 or line[off - 1] == " "),
                  "column %s not aligned in %r (header %r)" % (
                      name, line, head))
            row[name] = line[off:end].rstrip()
        rows.append(row)
    return [c[1] for c in cols], rows


def cell(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None or v == "":
        return "-"
    return str(v)


def parse_kv(text, like):
    """keyvalue lines back into data, each leaf typed as in like (the
    JSON of the same reply): strings as they are, the rest as JSON."""
    out = None
    for line in text.splitlines():
        path, sep, value = line.partition("=")
        check(sep == "=", "not path=value: %r" % line)
        steps = [int(s) if s.isdigit() else s for s in path.split(".")]
        ref = like
        for s in steps:
            ref = ref[s]
        if isinstance(ref, str):
            leaf = value.replace("\\n", "\n").replace("\\\\", "\\")
        elif ref == [] or ref == {}:
            check(value == "", "%s: empty, but %r" % (path, value))
            leaf = ref
        else:
            leaf = json.loads(value)
        if out is None:
            out = [] if isinstance(steps[0], int) else {}
        cur = out
        for s, nxt in zip(steps, steps[1:] + [None]):
            new = leaf if nxt is None else ([] if isinstance(nxt, int)
                                            else {})
            if isinstance(s, int):
                check(s <= len(cur), "%s: index out of order" % path)
                if s == len(cur):
                    cur.append(new)
            else:
                check(nxt is not None or s not in cur,
                      "%s: twice" % path)
                cur.setdefault(s, new)
            cur = cur[s]
    return out


def still(v):
    """v without the values that move between two calls."""
    if isinstance(v, dict):
        return {k: still(x) for k, x in v.items() if k not in MOVING}
    if isinstance(v, list):
        return [still(x) for x in v]
    return v


def test(Lab):
    lab, _ = lab_online(Lab, "ctlfmt", AGENTS)
    lab.ctl("acd", "agent", "1002", "set", "not_ready")
    wait_for(lambda: any(a["id"] == 1002 and a["state"] == "not_ready"
                         for a in lab.ctl("router", "agents")), 5,
             "router: agent 1002 not_ready")

    # text: a table, one row per agent, aligned, the agents' values.
    agents = lab.ctl("router", "agents")
    heads, rows = table(ctl(lab, None, "router", "agents"))
    check(heads[:3] == ["ID", "MRD", "STATE"] and "LOGGED_IN" in heads and
          "PERIPHERAL" in heads, "router agents header %r" % heads)
    check(len(rows) == len(agents) == AGENTS,
          "%d rows for %d agents" % (len(rows), len(agents)))
    for a, r in zip(agents, rows):
        for k in ("id", "mrd", "state", "logged_in", "peripheral",
                  "before_call", "reason"):
            check(r[k.upper()] == cell(a[k]), "agent %s: %s %r, json %r" % (
                a["id"], k, r[k.upper()], a[k]))
    check(rows[1]["ID"] == "1002" and rows[1]["STATE"] == "not_ready",
          "row of 1002: %r" % rows[1])
    heads2, _ = table(ctl(lab, "text", "router", "agents"))
    check(heads2 == heads, "-f text is not the default text")

    # peripherals: the sides as a table of their own.
    text = ctl(lab, None, "router", "peripherals")
    main, _, sides = text.partition("\n\nsides:\n")
    heads, rows = table(main)
    check(heads[:3] == ["ID", "NAME", "ONLINE"] and len(rows) == 1 and
          rows[0]["ID"] == "5000" and rows[0]["ONLINE"] == "true",
          "peripherals table:\n%s" % text)
    heads, rows = table(sides)
    check(heads[:3] == ["ID", "SIDE", "NODE"] and
          [(r["ID"], r["SIDE"], r["NODE"]) for r in rows] ==
          [("5000", "A", "pg-a"), ("5000", "B", "pg-b")],
          "sides table:\n%s" % sides)
    heads, rows = table(ctl(lab, None, "acd", "agents"))
    check(heads[:2] == ["ID", "NAME"] and len(rows) == AGENTS and
          rows[0]["SKILL_GROUPS"] == "100", "acd agents: %r %r" % (
              heads, rows[:1]))
    text = ctl(lab, None, "router", "status")
    check(text.startswith("node router (router) of lab ctlfmt") and
          "\nstatus: router: peripheral 5000 online" in text,
          "status text:\n%s" % text)

    # json: parses, the same as -j.
    for cmd in ("agents", "peripherals"):
        j1 = json.loads(ctl(lab, "json", "router", cmd))
        j2 = json.loads(ctl(lab, "j", "router", cmd))
        check(still(j1) == still(j2), "-f json %s != -j:\n%r\n%r" % (
            cmd, j1, j2))

    # keyvalue: every leaf, parsed back the same data.
    # (Counters move between the two calls, heartbeats: until they agree.)
    for node, cmd in (("router", "agents"), ("router", "peripherals"),
                      ("acd", "agents"), ("router", "status")):
        last = []

        def same():
            kv = ctl(lab, "keyvalue", node, cmd)
            data = lab.ctl(node, cmd)
            last[:] = [parse_kv(kv, data), data]
            return still(last[0]) == still(last[1])
        try:
            wait_for(same, 5, "%s %s: keyvalue parsed back = json" % (
                node, cmd), interval=0.05)
        except Exception:
            log("keyvalue parsed back:\n%r\njson:\n%r" % tuple(last))
            raise
    kv = ctl(lab, "keyvalue", "router", "agents").splitlines()
    check("1.id=1002" in kv and "1.state=not_ready" in kv and
          len([l for l in kv if l.endswith(".logged_in=true")]) == AGENTS,
          "router agents keyvalue:\n%s" % "\n".join(kv))

    r = subprocess.run([PGEMUCTL, "-s", lab.dir, "-f", "xml", "router",
                        "agents"], capture_output=True, text=True)
    check(r.returncode == 2 and 'unknown format "xml"' in r.stderr and
          "usage:" in r.stderr, "-f xml: exit %d %r" % (r.returncode,
                                                       r.stderr))


run(test)
