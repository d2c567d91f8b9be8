"""Checks of a failover report (pgemu-lab report, pgemu-lab run) against
the events it was made from, and of its SVG picture."""

import xml.etree.ElementTree as ET

from pgemu_test import check


def check_report(r, events, what=""):
    """Each step of report r is an event of events (same node, event, rule,
    time) or the trigger; its offset is its time minus the trigger's;
    the steps are in time order; nodes and rules are those of the steps;
    each milestone is its first step's offset."""
    t0 = r["trigger"]["time"]
    check(abs(r["time"] - t0) < 1e-6, "%s: report time %r, trigger %r" % (
        what, r["time"], t0))
    by_key = {}
    for e in events:
        by_key.setdefault((e["node"], e["event"]), []).append(e)
    last = -1.0
    for s in r["steps"]:
        check(abs(s["offset_ms"] - (s["time"] - t0) * 1000) < 0.01,
              "%s: step %r: offset %.3f ms, its time says %.3f" % (
                  what, s, s["offset_ms"], (s["time"] - t0) * 1000))
        check(s["offset_ms"] >= last, "%s: steps out of order at %r" % (
            what, s))
        last = s["offset_ms"]
        if s["event"] == "trigger":
            check(s["offset_ms"] == 0, "%s: trigger at %r" % (what, s))
            continue
        match = [e for e in by_key.get((s["node"], s["event"]), [])
                 if abs(e["time"] - s["time"]) < 1e-6 and
                 e.get("rule") == s["rule"]]
        check(match, "%s: step %r is no event of %s" % (what, s, s["node"]))
    nodes = []
    for s in r["steps"]:
        if s["node"] not in nodes:
            nodes.append(s["node"])
    check(sorted(r["nodes"]) == sorted(nodes), "%s: nodes %r, steps' %r" % (
        what, r["nodes"], nodes))
    rules = sorted({s["rule"] for s in r["steps"] if s["rule"]},
                   key=lambda x: int(x[1:]))
    check(r["rules"] == rules, "%s: rules %r, steps' %r" % (
        what, r["rules"], rules))
    for m, v in r["milestones_ms"].items():
        firsts = [s["offset_ms"] for s in r["steps"] if s["step"] == m]
        check(v == (firsts[0] if firsts else None),
              "%s: milestone %s %r, steps say %r" % (what, m, v, firsts))
    if r["online"]:
        on = [s for s in r["steps"] if s["event"] == "peripheral_online"]
        check(len(on) == 1 and on[-1]["offset_ms"] ==
              r["milestones_ms"]["online"], "%s: online %r" % (what, on))


def check_svg(path, r, what=""):
    """The SVG parses (a real XML parser), is an svg document with drawing
    in it, and its title and description name every node and every rule
    of the failover."""
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    check(root.tag == ns + "svg", "%s: root element %s" % (what, root.tag))
    title = root.find(ns + "title")
    desc = root.find(ns + "desc")
    check(title is not None and desc is not None,
          "%s: no title or desc in %s" % (what, path))
    text = (title.text or "") + "\n" + (desc.text or "")
    for n in r["nodes"]:
        check(" %s " % n in text, "%s: node %s not in the SVG's text" % (
            what, n))
    for rule in r["rules"]:
        check(" %s " % rule in text, "%s: rule %s not in the SVG's text" % (
            what, rule))
    lines = (desc.text or "").splitlines()
    check(len(lines) == len(r["steps"]), "%s: %d lines for %d steps" % (
        what, len(lines), len(r["steps"])))
    drawn = len(list(root.iter(ns + "use"))) + len(list(root.iter(
        ns + "path")))
    check(drawn > 10 * len(r["nodes"]), "%s: only %d shapes drawn" % (
        what, drawn))
