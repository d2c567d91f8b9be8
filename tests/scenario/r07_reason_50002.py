"""R7: the logout reports show reason code 50002 for the agents that a PG
side or CTI Manager failover logged out (R6).

Proves, with 20 agents, for a PG side failover (kill -9 of the active side)
and, on a fresh lab with a backup endpoint, for a CTI Manager failover
(`pgemuctl acd stop cti-manager primary`):
 * the router emits logout_reason with rule R7, reason code 50002, for the
   20 agents;
 * the history database's Agent_Logout holds exactly one row per agent,
   each with ReasonCode 50002 and Rule 'R6', and a login time;
 * Agent_Event_Detail holds one Event 2 (logout) row per agent, each with
   ReasonCode 50002.
The session rows are written behind the real-time path (docs: at most 1 s
later), so the test polls the database for them.
"""
import signal

from pgemu_test import (FAST, check, ev, free_ports, log, node_of, other,
                        periph, run, wait_candidate, wait_for,
                        wait_online)

AGENTS = 20
IDS = list(range(1001, 1001 + AGENTS))


def check_history(lab, what):
    """One Agent_Logout row and one Event 2 row per agent, all 50002."""
    wait_for(lambda: len(lab.query("SELECT 1 FROM Agent_Logout")) >= AGENTS
             and len(lab.query("SELECT 1 FROM Agent_Event_Detail WHERE "
                               "Event = 2")) >= AGENTS, 3,
             "%s: %d logout rows in the history database" % (what, AGENTS))
    rows = lab.query("SELECT SkillTargetID, ReasonCode, Rule, PeripheralID,"
                     " LoginDateTime, LogoutDateTime FROM Agent_Logout "
                     "ORDER BY SkillTargetID")
    check(sorted(r[0] for r in rows) == IDS,
          "%s: Agent_Logout is not one row per agent: %r" % (
              what, [r[0] for r in rows]))
    bad = [r for r in rows if r[1] != 50002 or r[2] != "R6" or
           r[3] != 5000 or not r[4] or not r[5] or r[4] > r[5]]
    check(not bad, "%s: Agent_Logout rows without ReasonCode 50002 and "
          "Rule R6 (or without login time): %r" % (what, bad))
    ev2 = lab.query("SELECT SkillTargetID, ReasonCode, PeripheralID FROM "
                    "Agent_Event_Detail WHERE Event = 2 ORDER BY "
                    "SkillTargetID")
    check(sorted(r[0] for r in ev2) == IDS,
          "%s: Agent_Event_Detail Event 2 is not one row per agent: %r" % (
              what, [r[0] for r in ev2]))
    bad = [r for r in ev2 if r[1] != 50002 or r[2] != 5000]
    check(not bad, "%s: Event 2 rows without ReasonCode 50002: %r" % (
        what, bad))
    log("%s: %d Agent_Logout rows and %d Event 2 rows, all 50002 (R6)" % (
        what, len(rows), len(ev2)))


def check_reason_event(wr, what):
    e = wr.wait(ev("logout_reason"), 2, "router: logout_reason")
    check(e["rule"] == "R7" and e["reason_code"] == 50002 and
          e["agents"] == AGENTS,
          "%s: logout_reason %r, expected R7, 50002, %d agents" % (
              what, e, AGENTS))
    wr.wait(ev("peripheral_online"), 2, "router: peripheral_online")


def pg_side(Lab):
    lab = Lab("r07", agents=AGENTS, **FAST)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab)
    act = node_of(p["active_side"])
    wait_candidate(lab, other(act))
    check(lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0] == 0,
          "logout rows before any failover")
    wr = lab.watch("router")
    lab.kill(act, signal.SIGKILL)
    check_reason_event(wr, "kill -9 of %s" % act)
    check_history(lab, "kill -9 of %s" % act)


def cti_manager(Lab):
    backup = free_ports(1)[0]
    lab = Lab("r07cti", agents=AGENTS,
              sections={"acd": "backup_port = %d;" % backup}, **FAST)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab)
    wait_candidate(lab, other(node_of(p["active_side"])))
    check(lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0] == 0,
          "logout rows before any failover")
    wr = lab.watch("router")
    lab.ctl("acd", "stop", "cti-manager", "primary")
    check_reason_event(wr, "CTI Manager stop")
    check_history(lab, "CTI Manager stop")


def test(Lab):
    pg_side(Lab)
    cti_manager(Lab)


run(test)
