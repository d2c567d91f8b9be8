"""R3: when the ACD goes down, every agent of the peripheral is logged out
and this is reported to the CallRouter as such, with reason code -1
("agent reinitialised because the peripheral restarted").

kill -9 of the ACD with 19 of 20 agents logged in (1003 logged out by hand
before, 1001 Not Ready, 1002 Talking): the router shows every agent
logged_in false in state "logout"; Agent_Logout has exactly one row per
previously logged-in agent (ReasonCode -1, Rule R3, LoginDuration >= 0:
the session's length, LogoutDateTime - LoginDateTime), Agent_Event_Detail
one Event 2 (logout) row each, and nothing for the agent already logged
out; the router emits agents_logged_out R3 with agents == 19 and
reason_code -1.
"""
import calendar
import signal
import time

from pgemu_test import (check, log, periph, run, wait_for)

AGENTS = 20


def dbsecs(s):
    """A history database timestamp (UTC) as epoch seconds."""
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%d %H:%M:%S")) + \
        float(s[19:] or 0)


def rt_agents(lab):
    return {a["id"]: a for a in lab.ctl("router", "agents")}


def test(Lab):
    lab = Lab("r03", agents=AGENTS, interval=2, hb_private=(20, 5),
              hb_router=(50, 5), hb_acd=(50, 5), traffic=False)
    lab.start_all()
    lab.wait_links_up()
    wait_for(lambda: periph(lab)["online"] and
             periph(lab)["agents_logged_in"] == AGENTS, 10,
             "the peripheral online with every agent logged in")
    t_login = time.time()
    for aid, st in ((1003, "logout"), (1001, "not_ready"),
                    (1002, "talking")):
        lab.ctl("acd", "agent", str(aid), "set", st)
    want = {1001: "not_ready", 1002: "talking", 1003: "logout"}
    wait_for(lambda: all(rt_agents(lab)[a]["state"] == s
                         for a, s in want.items()), 3,
             "the router to see 1001..1003 change")
    before = rt_agents(lab)
    logged_in = sorted(a for a, x in before.items() if x["logged_in"])
    check(len(logged_in) == AGENTS - 1 and 1003 not in logged_in,
          "logged in before: %r" % logged_in)
    # Sessions long enough for LoginDuration to say something.
    wait_for(lambda: rt_agents(lab)[1004]["seconds_in_state"] >= 1.5, 5,
             "agent 1004 logged in for 1.5 s")
    # What is in the tables before: logins, and 1003's own logout only
    # (session rows are written behind the real-time path: within 1 s).
    n_logout0 = wait_for(lambda: lab.query(
        "SELECT COUNT(*) FROM Agent_Logout")[0][0], 3,
        "1003's logout in Agent_Logout")
    check(n_logout0 == 1, "%d Agent_Logout rows before the ACD died" %
          n_logout0)

    wr = lab.watch("router")
    t0 = time.time()
    lab.kill("acd", signal.SIGKILL)
    lab.reap("acd")
    e = wr.wait(lambda e: e.get("event") == "agents_logged_out" and
                e.get("rule") == "R3", 3, "router: agents_logged_out R3")
    log("ACD killed: %s (%.1f ms)" % (e["message"],
                                      (e["time"] - t0) * 1000))
    check(e["agents"] == len(logged_in), "agents_logged_out says %d, %d "
          "were logged in" % (e["agents"], len(logged_in)))
    check(e["reason_code"] == -1, "reason_code %r" % e["reason_code"])
    check(e["peripheral"] == 5000, "peripheral %r" % e["peripheral"])
    check(not [x for x in wr.events if x.get("event") == "agents_logged_out"
               and x is not e], "agents logged out twice")

    after = rt_agents(lab)
    bad = {a: (x["state"], x["logged_in"]) for a, x in after.items()
           if x["logged_in"] or x["state"] != "logout"}
    check(not bad, "agents not logged out at the router: %r" % bad)
    check(periph(lab)["agents_logged_in"] == 0, "agents_logged_in %d" %
          periph(lab)["agents_logged_in"])

    # Agent_Logout: one row per session that was open, R3, -1.
    def r3_rows():
        return lab.query("SELECT SkillTargetID, ReasonCode, Rule, "
                         "LoginDuration, LoginDateTime, LogoutDateTime FROM "
                         "Agent_Logout WHERE Rule = 'R3' ORDER BY "
                         "SkillTargetID")
    wait_for(lambda: len(r3_rows()) >= len(logged_in), 3,
             "%d Agent_Logout rows of R3" % len(logged_in), interval=0.02)
    rows = r3_rows()
    ids = [r[0] for r in rows]
    check(ids == logged_in, "Agent_Logout R3 rows for %r, expected %r" %
          (ids, logged_in))
    session = time.time() - t_login + 1
    for aid, code, rule, dur, login, logout in rows:
        check(code == -1, "agent %d: ReasonCode %r" % (aid, code))
        check(dur is not None and 0 <= dur <= session,
              "agent %d: LoginDuration %r (session at most %.1f s)" % (
                  aid, dur, session))
        check(login and logout and login <= logout,
              "agent %d: login %r, logout %r" % (aid, login, logout))
        span = dbsecs(logout) - dbsecs(login)
        check(abs(dur - span) <= 1, "agent %d: LoginDuration %d s, but "
              "logged in %s .. %s" % (aid, dur, login, logout))
        check(dur >= 1, "agent %d: LoginDuration %d s after a session of "
              "%.1f s" % (aid, dur, span))
    total = lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0]
    check(total == n_logout0 + len(logged_in),
          "%d Agent_Logout rows, expected %d + %d" % (
              total, n_logout0, len(logged_in)))

    # Agent_Event_Detail: one logout (Event 2) each, same rule and code.
    ev = lab.query("SELECT SkillTargetID, ReasonCode, Rule FROM "
                   "Agent_Event_Detail WHERE Event = 2 AND Rule = 'R3' "
                   "ORDER BY SkillTargetID")
    check([r[0] for r in ev] == logged_in,
          "Agent_Event_Detail Event 2 R3 rows for %r" % [r[0] for r in ev])
    check(all(r[1] == -1 for r in ev), "Event 2 reason codes %r" %
          sorted(set(r[1] for r in ev)))
    n1003 = lab.query("SELECT COUNT(*) FROM Agent_Event_Detail WHERE "
                      "SkillTargetID = 1003 AND Event = 2")[0][0]
    check(n1003 == 1, "agent 1003 logged out %d times (once, by hand)" %
          n1003)


run(test)
