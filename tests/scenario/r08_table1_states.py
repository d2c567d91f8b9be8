"""R8, Table 1: after a PG side or CTI Manager failover every agent is
logged back in with the state Table 1 gives for its state at the failover
(docs/failover.md, "Table 1 (R8) as implemented").

Agents are driven by hand at the ACD before the failover:
  1001 available                          -> available
  1002 not_ready                          -> not_ready
  1003 available, talking, work_ready     -> available (before the call: available)
  1004 not_ready, talking, work_not_ready -> not_ready (before the call: not_ready)
  1005 available, talking, work_not_ready -> available
  1006 not_ready, talking, work_ready     -> not_ready
  1007 talking                            -> talking (the call survives)
  1008 reserved                           -> available (the reservation is lost)
  1009..1020 available (untouched)        -> available
Proves, for kill -9 of the active side and, on a fresh lab with a backup
endpoint, for `acd stop cti-manager primary`: after the router's
peripheral_online (R8), both `router agents` and `acd agents` show the
Table 1 states with every agent logged in, and the PG side that serves the
peripheral emits agents_relogin (R8) for 20 agents with changed == 5, the
number of agents whose state changed.
"""
import signal

from pgemu_test import (FAST, TestFailure, check, ev, free_ports, log,
                        node_of, other, periph, run, wait_candidate,
                        wait_for, wait_online)

AGENTS = 20

# agent: (states set by hand in order, state at the failover,
#         before_call, state after the failover)
DRIVE = {
    1001: (["available"], "available", None, "available"),
    1002: (["not_ready"], "not_ready", None, "not_ready"),
    1003: (["available", "talking", "work_ready"], "work_ready",
           "available", "available"),
    1004: (["not_ready", "talking", "work_not_ready"], "work_not_ready",
           "not_ready", "not_ready"),
    1005: (["available", "talking", "work_not_ready"], "work_not_ready",
           "available", "available"),
    1006: (["not_ready", "talking", "work_ready"], "work_ready",
           "not_ready", "not_ready"),
    1007: (["talking"], "talking", "available", "talking"),
    1008: (["reserved"], "reserved", "available", "available"),
}
BEFORE = {i: DRIVE[i][1] if i in DRIVE else "available"
          for i in range(1001, 1001 + AGENTS)}
AFTER = {i: DRIVE[i][3] if i in DRIVE else "available"
         for i in range(1001, 1001 + AGENTS)}
CHANGED = sum(BEFORE[i] != AFTER[i] for i in BEFORE)


def states(lab, node):
    return {a["id"]: a for a in lab.ctl(node, "agents")}


def diff(got, want):
    return {i: (got[i]["state"] if i in got else None, want[i])
            for i in want if i not in got or got[i]["state"] != want[i]}


def drive(lab):
    for agent, (seq, at, before_call, _) in sorted(DRIVE.items()):
        for st in seq:
            r = lab.ctl("acd", "agent", str(agent), "set", st)
            check(r["state"] == st, "acd agent %d set %s: %r" % (agent, st,
                                                                r))
        check(r["manual"], "agent %d not driven by hand: %r" % (agent, r))
        if before_call is not None:
            check(r["before_call"] == before_call,
                  "agent %d before_call %r, expected %s" % (
                      agent, r["before_call"], before_call))
    got = states(lab, "acd")
    check(not diff(got, BEFORE), "ACD before the failover: %r" %
          diff(got, BEFORE))
    # The active PIM passed every change on to the router.
    wait_for(lambda: not diff(states(lab, "router"), BEFORE), 2,
             "router to show the states at the failover")


def agent_msgs(lab, node):
    """AGENT_STATES messages node has sent the router."""
    return lab.link(node, "router-link")["types"].get(
        "AGENT_STATES", {}).get("out", 0)


def check_after(lab, wr, wpg, node, what, sent0):
    on = wr.wait(ev("peripheral_online"), 3, "router: peripheral_online")
    check(on["rule"] == "R8" and on["agents"] == AGENTS,
          "%s: peripheral_online %r, expected R8 with %d agents" % (
              what, on, AGENTS))
    rl = wpg.wait(ev("agents_relogin"), 2, "%s: agents_relogin" % node)
    log("%s: %s" % (what, rl["message"]))
    check(rl["rule"] == "R8" and rl["agents"] == AGENTS and
          rl["changed"] == CHANGED,
          "%s: agents_relogin %r, expected R8, %d agents, changed %d" % (
              what, rl, AGENTS, CHANGED))
    got = states(lab, "router")
    check(not diff(got, AFTER), "%s: router agents not in their Table 1 "
          "state (got, expected): %r" % (what, diff(got, AFTER)))
    check(all(a["logged_in"] for a in got.values()),
          "%s: router agents logged out: %r" % (
              what, [i for i, a in got.items() if not a["logged_in"]]))
    # The ACD applies what the PIM told it.
    try:
        wait_for(lambda: not diff(states(lab, "acd"), AFTER), 2,
                 "ACD agents in their Table 1 state")
    except TestFailure:
        check(False, "%s: ACD agents not in their Table 1 state (got, "
              "expected): %r" % (what, diff(states(lab, "acd"), AFTER)))
    # And the router still agrees with the ACD.
    check(not diff(states(lab, "router"), AFTER),
          "%s: router agents changed after the ACD applied Table 1: %r" %
          (what, diff(states(lab, "router"), AFTER)))
    # Each agent went to the router once: the relogin snapshot, not the
    # ACD's echo of the Table 1 states the PIM set.
    sent = agent_msgs(lab, node) - sent0
    check(sent == 1, "%s: %s sent the router %d AGENT_STATES messages for "
          "the relogin, expected 1 (the snapshot)" % (what, node, sent))


def pg_side(Lab):
    lab = Lab("r08", agents=AGENTS, **FAST)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab)
    act = node_of(p["active_side"])
    stby = other(act)
    wait_candidate(lab, stby)
    drive(lab)
    wr = lab.watch("router")
    ws = lab.watch(stby)
    sent0 = agent_msgs(lab, stby)
    lab.kill(act, signal.SIGKILL)
    check_after(lab, wr, ws, stby, "kill -9 of %s" % act, sent0)


def cti_manager(Lab):
    backup = free_ports(1)[0]
    lab = Lab("r08cti", agents=AGENTS,
              sections={"acd": "backup_port = %d;" % backup}, **FAST)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab)
    act = node_of(p["active_side"])
    wait_candidate(lab, other(act))
    drive(lab)
    wr = lab.watch("router")
    wa = lab.watch(act)
    sent0 = agent_msgs(lab, act)
    lab.ctl("acd", "stop", "cti-manager", "primary")
    check_after(lab, wr, wa, act, "CTI Manager stop", sent0)
    p = periph(lab)
    check(p["active_side"] == act[-1].upper(),
          "CTI Manager stop moved the PIM: %r" % p)


def test(Lab):
    pg_side(Lab)
    cti_manager(Lab)


run(test)
