"""The command tables seen from outside: `pgemuctl help` lists the commands
of every role (no lab needed), `pgemuctl -h` holds that list as it is,
`pgemuctl NODE help` (text and -j) gives the node's own, which are the
rows of `pgemuctl help` for every node and for its role; every node
refuses an unknown word naming exactly the words of its help, and words
whose count fits no command with the usage of that command; the read-only
commands of each role answer.
"""
import json
import os
import subprocess

from pgemu_test import PGEMUCTL, check, run

ROLE = {"router": "router", "acd": "acd", "pg-a": "pg", "pg-b": "pg",
        "app": "app"}


def pgemuctl(*args):
    env = dict(os.environ)
    env.pop("PGEMU_CONTROL_DIR", None)
    r = subprocess.run([PGEMUCTL] + list(args), capture_output=True,
                       text=True, env=env, timeout=20)
    return r.returncode, r.stdout, r.stderr


def sections(text):
    """The "...commands:" sections of a listing: {header: lines}."""
    out, cur = {}, None
    for line in text.splitlines():
        if not line.startswith(" "):
            cur = line if line.endswith("commands:") else None
            if cur:
                out[cur] = []
        elif cur:
            out[cur].append(line)
    return out


def first_words(cmds):
    words = []
    for c in cmds:
        w = c["command"].split(" ")[0]
        if w not in words:
            words.append(w)
    return words


def test(Lab):
    # Without a lab: the list of every role, the same in -h.
    rc, text, err = pgemuctl("help")
    check(rc == 0 and err == "", "help: exit %d %r" % (rc, err))
    rc, usage, err = pgemuctl("-h")
    check(rc == 0 and text in usage, "-h does not hold `pgemuctl help`:\n"
          "%s\n---\n%s" % (usage, text))
    rc, out, err = pgemuctl("-j", "help")
    every = json.loads(out)
    roles = sorted(set(c["role"] for c in every if c["role"]))
    check(rc == 0 and roles == ["acd", "agents", "app", "desk", "pg",
                                "router"],
          "-j help roles %r" % roles)
    secs = sections(text)
    check(list(secs) == ["commands:", "router commands:", "acd commands:",
                         "pg commands:", "desk commands:", "agents commands:",
                         "app commands:"],
          "help sections %r" % list(secs))
    for c in every:
        head = "%scommands:" % (c["role"] + " " if c["role"] else "")
        check(any(l.strip().startswith(c["command"]) for l in secs[head]),
              "%r not under %r" % (c["command"], head))
    check("  pg      one side of the duplex PG, with its PIM\n" in text,
          "pg's line:\n%s" % text)

    lab = Lab("help", media=True)
    lab.start_all()
    for node, role in ROLE.items():
        mine = [c for c in every if c["role"] in (None, role)]
        got = lab.ctl(node, "help")
        check(got == mine, "%s help: %r\nwanted %r" % (node, got, mine))
        rc, out, err = lab.ctl_raw(node, "help", json_out=False)
        want = {h: l for h, l in secs.items()
                if h in ("commands:", "%s commands:" % role)}
        check(rc == 0 and sections(out) == want and
              out.startswith("commands:\n"),
              "%s help text:\n%s" % (node, out))

        # An unknown word: the node's words, in their order.
        rc, out, err = lab.ctl_raw(node, "frobnicate")
        want = "pgemuctl: %s: unknown command \"frobnicate\" (%s: %s)\n" % (
            node, node, ", ".join(first_words(mine)))
        check(rc == 1 and err == want, "%s frobnicate: %r, wanted %r" % (
            node, err, want))
        # Too many words for any command: its usage, every form.
        for w in first_words(mine):
            for alt in w.split("|"):
                rows = [c["command"] for c in mine
                        if c["command"].split(" ")[0] == w]
                rc, out, err = lab.ctl_raw(node, alt, *["x"] * 5)
                want = "pgemuctl: %s: usage: %s\n" % (node, "; ".join(rows))
                check(rc == 1 and err == want, "%s %s x x x x x: %r, "
                      "wanted %r" % (node, alt, err, want))

    # The read-only commands of each role answer.
    check(lab.ctl("router", "peripherals")[0]["id"] == 5000, "peripherals")
    check(len(lab.ctl("router", "agents")) == 20, "router agents")
    check(lab.ctl("router", "intervals", "5") == [], "intervals 5")
    check(len(lab.ctl("acd", "agents")) == 20, "acd agents")
    check(lab.ctl("acd", "agent", "1001")["id"] == 1001, "agent 1001")
    check(lab.ctl("app", "pending") == [], "app pending")
    check(lab.ctl("app", "tasks") == [], "app tasks")
    for args, msg in ((("agent", "1001", "sit"), "usage: agent ID; agent "
                       "ID set STATE|auto"),
                      (("agent", "1001", "set", "x"), "unknown state"),
                      (("stop", "cti-manager", "tertiary"),
                       "usage: stop|start cti-manager primary|backup"),
                      (("traffic", "maybe"), "usage: traffic on|off"),
                      (("intervals", "0"), "intervals: bad count")):
        node = "router" if args[0] == "intervals" else "acd"
        rc, out, err = lab.ctl_raw(node, *args)
        check(rc == 1 and msg in err, "%s %s: %r" % (node, " ".join(args),
                                                      err))


run(test)
