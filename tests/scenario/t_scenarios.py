"""Every shipped scenario (scenarios/*.conf, one per rule R1-R11, and R12,
R16, R18 and R23 of media routing, in a lab with the app node) runs against a real
lab, and passes.

For each, `pgemu-lab run -c LAB -o DIR SCENARIO` starts the lab (none of
its nodes runs), runs the steps and stops the lab: it must print PASS and
exit 0.  Its reports are checked against the events it saved
(DIR/events.jsonl): each step of each failover is one of those events
(node, event, rule, time) or the trigger, with its offset from the
trigger; the rule a scenario is named for is among the rules of its
failover; the SVG parses and names every node and rule.  A scenario whose
expectation cannot hold fails (exit 1, FAIL, the step named), and a
malformed one is refused (exit 2, file:line).
"""
import glob
import json
import os
import re
import subprocess

from pgemu_test import FAST, SRCDIR, check, log, run
from report_check import check_report, check_svg

LAB = os.path.join(SRCDIR, "src", "pgemu-lab")


def pgemu_lab(*args, timeout=120):
    return subprocess.run([LAB] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def events_of(out):
    with open(os.path.join(out, "events.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def run_scenario(Lab, path):
    name = os.path.basename(path)[:-5]
    with open(path) as f:
        text = f.read()
    desks = "desk-a" in text
    rule = "R%d" % int(re.match(r"r(\d+)_", name).group(1))
    # A scenario of media routing (R12-R23) runs in a lab with the app
    # node, desktops and agents in a non-voice MRD, as the sample lab.
    media = int(rule[1:]) >= 12
    # A desktop server's scenario runs in a lab with desk-a, desk-b and
    # the desktops, as the sample lab has them.
    if media:
        lab = Lab(name[:12], agents=10, desktops=True, media=True,
                  agent_mrds=[1, 2], **FAST)
    else:
        lab = Lab(name[:12], agents=10, desktops=desks, **FAST)
    out = os.path.join(lab.dir, "out")
    r = pgemu_lab("run", "-c", lab.conf, "-o", out, path)
    log("%s: exit %d\n%s%s" % (name, r.returncode, r.stdout, r.stderr))
    check(r.returncode == 0 and "\nPASS: %s " % name in r.stdout,
          "%s: exit %d, no PASS" % (name, r.returncode))
    reports = sorted(glob.glob(os.path.join(out, "failover-*.json")))
    events = events_of(out)
    if media:
        # Its rules are in its events (a report, if the voice peripheral
        # failed over too, is checked as any other).
        seen = {e.get("rule") for e in events}
        check(rule in seen, "%s: %s not among the rules of its events %s"
              % (name, rule, sorted(r for r in seen if r)))
        for rp in reports:
            with open(rp) as f:
                check_report(json.load(f), events, rp)
        return
    if desks:
        # No peripheral fails over: no report.  The desktop failover's
        # events apply R9 and R10 (R11, Table 2, is in the states the
        # scenario's expect_agent steps checked).
        seen = {e.get("rule") for e in events}
        check({"R9", "R10"} <= seen, "%s: R9 and R10 not both among the "
              "rules of its events %s" % (name, sorted(r for r in seen
                                                        if r)))
        return
    check(reports, "%s: no failover report in %s" % (name, out))
    rules = set()
    for rp in reports:
        with open(rp) as f:
            rep = json.load(f)
        check_report(rep, events, rp)
        check_svg(rp[:-5] + ".svg", rep, rp)
        check(rep["trigger"]["what"] in r.stdout,
              "%s: trigger %r is no action of the run" % (
                  rp, rep["trigger"]["what"]))
        rules |= set(rep["rules"])
    check(rule in rules, "%s: %s not among the rules of its failovers %s" %
          (name, rule, sorted(rules)))


def test(Lab):
    shipped = sorted(glob.glob(os.path.join(SRCDIR, "scenarios", "*.conf")))
    with open(os.path.join(SRCDIR, "Makefile.am")) as f:
        listed = re.findall(r"scenarios/(\S+\.conf)", f.read())
    check(sorted(os.path.basename(p) for p in shipped) == sorted(listed),
          "scenarios/ %r and Makefile.am's %r differ" % (
              [os.path.basename(p) for p in shipped], listed))
    for n in range(1, 12):
        check(any(os.path.basename(p).startswith("r%02d_" % n)
                  for p in shipped), "no shipped scenario for R%d" % n)
    for path in shipped:
        run_scenario(Lab, path)

    # One that cannot pass: FAIL, exit 1, the step and its line named.
    lab = Lab("fails", agents=5, **FAST)
    bad = os.path.join(lab.dir, "never.conf")
    with open(bad, "w") as f:
        f.write('steps = (\n  { wait_online = true; within_ms = 15000; },\n'
                '  { kill = "active"; signal = "KILL"; },\n'
                '  { expect = [ "router R5 pim_lost", '
                '"takeover R3 pim_granted" ];\n    within_ms = 300; }\n);\n')
    r = pgemu_lab("run", "-c", lab.conf, "-o", os.path.join(lab.dir, "o"),
                  bad)
    log("never.conf: exit %d\n%s" % (r.returncode, r.stdout))
    check(r.returncode == 1 and "\nFAIL: " in r.stdout and
          "never.conf:4: not seen" in r.stdout and
          "takeover R3 pim_granted" in r.stdout,
          "an impossible expectation: exit %d:\n%s" % (r.returncode,
                                                      r.stdout))
    # Malformed: refused before anything runs.
    with open(bad, "w") as f:
        f.write('steps = ( { kill = "active"; signal = "HUP"; } );\n')
    r = pgemu_lab("run", "-c", lab.conf, bad)
    check(r.returncode == 2 and "never.conf:1: step 1: signal" in r.stderr,
          "a bad signal: exit %d: %s" % (r.returncode, r.stderr))


run(test)
