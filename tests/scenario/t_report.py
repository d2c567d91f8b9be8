"""The failover report of a running lab, from the nodes' own events.

A lab runs (10 agents); every node is watched.  The active side is killed
(kill -9), the peripheral comes online again, then the new active side is
stopped (SIGTERM).  `pgemu-lab report -f json` (the nodes' rings of recent
events) must give the last failover, whose steps are events the watchers
saw (node, event, rule, time) with their offsets from the trigger, from
detection to online and the history written; `-a` gives both, in order,
and `--from` the second alone.  The text form prints each step's offset,
node and rule; the SVG (`-f svg -o FILE`) parses with a real XML parser
and names every node and rule of the failover.
"""
import json
import os
import signal
import subprocess
import time

from pgemu_test import (FAST, SRCDIR, check, ev, log, node_of, other, run,
                        start_duplex, wait_candidate, wait_online)
from report_check import check_report, check_svg

LAB = os.path.join(SRCDIR, "src", "pgemu-lab")


def report(lab, *args):
    r = subprocess.run([LAB, "report", "-c", lab.conf] + list(args),
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "pgemu-lab report %s: exit %d: %s" % (
        " ".join(args), r.returncode, r.stderr))
    return r.stdout


def test(Lab):
    lab = Lab("report", agents=10, **FAST)
    act, stby, _ = start_duplex(lab)
    ws = {n: lab.watch(n) for n in lab.nodes}
    r = subprocess.run([LAB, "report", "-c", lab.conf],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "no failover" in r.stderr,
          "no failover yet: exit %d: %s" % (r.returncode, r.stderr))

    lab.kill(act)
    lab.reap(act)
    wait_online(lab, 10, agents=10)
    ws["router"].wait(ev("history_written"), 5, "router: history_written")
    lab.start(act)
    wait_candidate(lab, act, 10)
    again = lab.watch(act)      # the killed side's events from now on
    second = lab.status("router")["peripheral"]
    check(node_of(second["active_side"]) == stby, "%s did not take over" %
          stby)
    t_between = time.time()
    ws["router"].mark()
    lab.kill(stby, signal.SIGTERM)
    check(lab.reap(stby) == 0, "%s did not exit 0" % stby)
    wait_online(lab, 10, agents=10)
    ws["router"].wait(ev("history_written"), 5, "router: history_written")
    events = [e for w in list(ws.values()) + [again] for e in w.events]

    last = json.loads(report(lab, "-f", "json"))
    log("last failover: %s" % json.dumps(last["milestones_ms"]))
    check_report(last, events, "last")
    # The stopped side's events went with it: the first sign the others
    # saw is the trigger.
    first = last["steps"][0]
    check(last["online"] and first["offset_ms"] == 0 and
          first["step"] == "detection" and
          last["trigger"]["node"] == first["node"] != stby,
          "the last failover's trigger %r, first step %r" % (
              last["trigger"], first))
    steps = {(s["node"], s["rule"], s["event"]) for s in last["steps"]}
    for want in [("router", "R5", "pim_lost"),
                 ("router", "R5", "pim_granted"),
                 (act, "R5", "pim_active"), (act, "R8", "agents_relogin"),
                 ("acd", "R5", "pim_accepted"),
                 ("router", "R8", "peripheral_online"),
                 ("router", None, "history_written")]:
        check(want in steps, "the last failover has no step %r: %r" % (
            want, sorted(steps, key=str)))
    both = json.loads(report(lab, "-f", "json", "-a"))
    check(len(both) == 2 and both[1] == last, "-a: %d failovers" % len(both))
    check_report(both[0], events, "first")
    check(both[0]["trigger"]["node"] in (act, "router", "acd", stby) and
          both[0]["milestones_ms"]["grant"] is not None,
          "the first failover: %r" % both[0]["trigger"])
    ranged = json.loads(report(lab, "-f", "json", "-a", "--from",
                               "%.3f" % t_between))
    # Each report reads the nodes' recent events anew and takes the first
    # sign any node saw as the trigger (which of two signs a microsecond
    # apart may vary); the failover is the same: its grant.
    def granted(r):
        return [st.get("time") for st in r["steps"]
                if st["event"] == "pim_granted"]
    check(len(ranged) == 1 and granted(last) and
          granted(ranged[0]) == granted(last),
          "--from: not the second failover alone: %s" %
          json.dumps([(r["trigger"], r["milestones_ms"]) for r in ranged] +
                     [("last", last["trigger"])]))

    text = report(lab)
    for s in last["steps"]:
        check("%.3f" % s["offset_ms"] in text and s["node"] in text,
              "text report lacks step %r:\n%s" % (s, text))
    check("milestones" in text and "online %.3f" %
          last["milestones_ms"]["online"] in text, "text: %s" % text)

    svg = os.path.join(lab.dir, "last.svg")
    report(lab, "-f", "svg", "-o", svg)
    check_svg(svg, last, "svg")
    check(other(stby) == act, "sides")


run(test)
