"""R5, R1, R6, R7, R8 when the active PG side dies while the router is down.

A failover of the PG is a failover of the PG whether or not the router saw
the moment it happened.  With side X active, 20 agents (one in wrap-up
after being Available, one in wrap-up after Not Ready, one Not Ready, one
logged out by hand) and 2 s intervals:

  1. the router is SIGKILLed; X keeps counting, its closed intervals wait
     for the router in X's memory and spool;
  2. X is SIGKILLed while the router is down (its data dies with it);
  3. the router restarts.  It finds in its database that X held the PIM
     (pgemu_meta) and which login sessions are open (pgemu_session); X is
     not back, so after its hold time it applies what it would have
     applied had it seen X go:
       * pim_lost [R5], pim_granted [R5] to the other side Y, with a new
         epoch and no pgemu_activation row until Y's PIM is accepted;
       * data_discarded [R1]: a pgemu_discard row (Rule R1, PGSide X)
         that covers every interval from the last one stored up to the
         one in progress: Agent_Interval has no gap that no loss row
         explains;
       * peripheral_offline [R2], agents_logged_out [R6] and
         logout_reason [R7]: one Agent_Logout row with ReasonCode 50002
         for each of the 19 sessions that were open, each with its
         original LoginDateTime (no session is opened on top of an open
         one: per agent, logins == logouts + still open);
       * peripheral_online [R8]: Y logs the agents back in with their
         Table 1 states, which the ACD applies (wrap-up after Available ->
         Available, wrap-up after Not Ready -> Not Ready).
"""
import calendar
import signal
import time

from pgemu_test import (OUTAGE, check, dbtime, find_event, lab_online, log,
                        node_of, other, periph, run, wait_for, wait_online)

IVL = 2
AGENTS = 20


def test(Lab):
    lab, p = lab_online(Lab, "away", AGENTS, interval=IVL, **OUTAGE)
    side = p["active_side"]
    act = node_of(side)
    stby = other(act)
    # Agents in every state Table 1 speaks of.
    lab.ctl("acd", "agent", "1001", "set", "talking")
    lab.ctl("acd", "agent", "1001", "set", "work_ready")     # was available
    lab.ctl("acd", "agent", "1002", "set", "not_ready")
    lab.ctl("acd", "agent", "1002", "set", "talking")
    lab.ctl("acd", "agent", "1002", "set", "work_not_ready")  # was NR
    lab.ctl("acd", "agent", "1003", "set", "not_ready")
    lab.ctl("acd", "agent", "1004", "set", "logout")
    wait_for(lambda: periph(lab)["agents_logged_in"] == AGENTS - 1, 3,
             "agent 1004 logged out at the router")
    wait_for(lambda: lab.status(act)["reporting"]["delivered"] >= 1,
             2 * IVL + 2, "a first interval delivered")
    # Session rows are written behind; let them reach the database.
    def open_sessions():
        return dict(lab.query(
            "SELECT e.SkillTargetID, MAX(e.DateTime) FROM "
            "Agent_Event_Detail e WHERE e.Event = 1 AND NOT EXISTS (SELECT "
            "1 FROM Agent_Logout l WHERE l.SkillTargetID = e.SkillTargetID "
            "AND l.LoginDateTime = e.DateTime) GROUP BY e.SkillTargetID"))
    logins0 = wait_for(lambda: len(open_sessions()) == AGENTS - 1 and
                       open_sessions(), 3, "19 open sessions written")

    lab.kill("router", signal.SIGKILL)
    lab.reap("router")
    wait_for(lambda: lab.link(act, "router-link")["state"] != "UP", 2,
             "%s to see the router go" % act)
    # X goes on counting and closes at least one interval for nobody.
    q0 = lab.status(act)["reporting"]["intervals_closed"]
    wait_for(lambda: lab.status(act)["reporting"]["intervals_closed"] > q0,
             IVL + 2, "%s to close an interval with the router down" % act)
    epoch = lab.status(act)["pim"]["epoch"]
    lab.kill(act, signal.SIGKILL)
    lab.reap(act)
    t_kill = time.time()
    wait_for(lambda: lab.status(stby)["peer"]["state"] == "IDLE", 2,
             "%s to see its peer go" % stby)
    log("router down, then %s (side %s, epoch %d) killed" % (act, side,
                                                            epoch))

    lab.start("router")
    p = wait_online(lab, 10, agents=AGENTS - 1)
    t_on = time.time()
    check(p["active_side"] == stby[-1].upper() and p["epoch"] > epoch,
          "after the restart: %r" % p)
    evs = lab.ctl("router", "events", "500")
    rules = [(e["event"], e["rule"]) for e in evs if e.get("rule")]
    log("router: %r" % rules)
    want = [("pim_lost", "R5"), ("pim_granted", "R5"),
            ("data_discarded", "R1"), ("peripheral_offline", "R2"),
            ("agents_logged_out", "R6"), ("logout_reason", "R7"),
            ("peripheral_online", "R8")]
    check(rules == want, "router rules %r, expected %r" % (rules, want))
    lo = find_event(lab, "router", lambda e: e.get("event") ==
                    "agents_logged_out", "agents_logged_out")
    check(lo["agents"] == AGENTS - 1 and lo["reason_code"] == 50002,
          "agents_logged_out %r" % lo)

    # R1: the loss is recorded, and it covers the gap.
    d = lab.query("SELECT IntervalDateTime, Intervals, Rows, Rule, PGSide "
                  "FROM pgemu_discard")
    log("pgemu_discard: %r" % d)
    check(len(d) == 1 and d[0][3] == "R1" and d[0][4] == side,
          "pgemu_discard %r, expected one R1 row for side %s" % (d, side))
    first = calendar.timegm(time.strptime(d[0][0][:19],
                                          "%Y-%m-%d %H:%M:%S"))
    intervals = d[0][1]
    check(d[0][2] == intervals * (AGENTS - 1),
          "rows %d, expected %d intervals x %d agents" % (
              d[0][2], intervals, AGENTS - 1))
    last = lab.query("SELECT MAX(DateTime) FROM Agent_Interval "
                     "WHERE PGSide = ?", (side,))[0][0]
    check(last is not None and dbtime(first - IVL) == last,
          "the loss starts at %s; the last interval stored is %s" % (
              d[0][0], last))
    check(intervals >= 2, "only %d intervals recorded lost; at least "
          "the queued one and the one in progress died" % intervals)
    end = first + intervals * IVL
    check(end > t_kill, "the loss ends at %s, before the kill" % dbtime(end))

    # R6/R7: every open session closed with 50002, none opened on top.
    def sessions_closed():
        return lab.query("SELECT SkillTargetID, LoginDateTime, ReasonCode,"
                         " Rule FROM Agent_Logout WHERE ReasonCode = 50002")
    rows = wait_for(lambda: len(sessions_closed()) == AGENTS - 1 and
                    sessions_closed(), 3, "19 logout rows with 50002")
    check(all(r[3] == "R6" and logins0.get(r[0]) == r[1] for r in rows),
          "logout rows %r do not close the sessions %r" % (rows, logins0))
    wait_for(lambda: len(open_sessions()) == AGENTS - 1, 3,
             "19 sessions open again after R8")
    now_in = set(a["id"] for a in lab.ctl("router", "agents")
                 if a["logged_in"])
    per = lab.query("SELECT e.SkillTargetID, SUM(e.Event = 1), "
                    "(SELECT COUNT(*) FROM Agent_Logout l WHERE "
                    "l.SkillTargetID = e.SkillTargetID) "
                    "FROM Agent_Event_Detail e GROUP BY e.SkillTargetID")
    bad = [r for r in per if r[1] != r[2] + (r[0] in now_in)]
    check(not bad, "agents whose logins are not logouts + open sessions "
          "(agent, logins, logouts, open): %r" % bad)

    # R8: Table 1 at the ACD.
    ags = {a["id"]: a for a in lab.ctl("acd", "agents")}
    check(ags[1001]["state"] == "available" and
          ags[1002]["state"] == "not_ready" and
          ags[1003]["state"] == "not_ready" and
          ags[1004]["state"] == "logout" and
          ags[1005]["state"] == "available",
          "ACD states after R8: %r" % {i: ags[i]["state"] for i in
                                       range(1001, 1006)})
    rl = find_event(lab, stby, lambda e: e.get("event") == "agents_relogin",
                    "agents_relogin")
    check(rl["agents"] == AGENTS - 1 and rl["changed"] == 2,
          "agents_relogin %r: expected %d agents, 2 changed" % (
              rl, AGENTS - 1))
    acts = lab.query("SELECT PGSide, Epoch FROM pgemu_activation "
                     "ORDER BY id")
    check(acts[-1] == (stby[-1].upper(), p["epoch"]),
          "pgemu_activation %r" % acts)
    log("online %.2f s after the restart; %d intervals (%d rows) recorded "
        "lost from %s" % (t_on - t_kill, intervals, d[0][2], d[0][0]))


run(test)
