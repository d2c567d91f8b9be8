"""The simulated ACD and the PIM's reporting data, without failures.

With traffic on, agents move through calls by themselves (reserved,
talking, wrap-up, back to available or not ready); every change reaches
the router's real-time table as it happens; closed intervals reach
Agent_Interval once each, and their columns add up: the time in each state
makes the logged-on time, calls handled are counted, and `pgemuctl router
intervals` shows the same rows as the database.  An agent driven by hand
(`pgemuctl acd agent ID set STATE`) reaches the router at once.
"""
from pgemu_test import check, log, run, wait_for


def test(Lab):
    lab = Lab("traffic", agents=10, traffic=True, interval=2)
    lab.start_all()
    lab.wait_links_up()
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 10,
             "online")
    w = lab.watch("router")

    # Calls flow: the ACD counts them, agents pass through the states.
    wait_for(lambda: lab.status("acd")["acd"]["calls"] >= 10, 15,
             "10 simulated calls")
    seen = set()

    def states_seen():
        for a in lab.ctl("router", "agents"):
            seen.add(a["state"])
        return {"talking", "available"} <= seen and (
            seen & {"work_ready", "work_not_ready"})
    wait_for(states_seen, 15, "talking, wrap-up and available at the router")
    log("states seen at the router: %s" % sorted(seen))

    # By hand: traffic leaves that agent alone; the router follows at once.
    a = lab.ctl("acd", "agent", "1001", "set", "not_ready")
    check(a["manual"] and a["state"] == "not_ready", "acd agent %r" % a)
    wait_for(lambda: [x for x in lab.ctl("router", "agents")
                      if x["id"] == 1001][0]["state"] == "not_ready", 2,
             "router: 1001 not ready")
    a = lab.ctl("acd", "agent", "1001")
    check(a["skill_groups"] == [100], "skill groups %r" % a)

    # Intervals: several close, each stored once, columns consistent.
    wait_for(lambda: lab.status("router")["counters"]["rows_stored"] >= 30,
             20, "three intervals of 10 agents")
    rows = lab.query("SELECT DateTime, SkillTargetID, LoggedOnTime, "
                     "AvailTime, NotReadyTime, ReservedStateTime, TalkTime, "
                     "WorkReadyTime, WorkNotReadyTime, CallsHandled, "
                     "IntervalLength, Incomplete FROM Agent_Interval")
    keys = {(r[0], r[1]) for r in rows}
    check(len(keys) == len(rows), "a row stored twice")
    calls = sum(r[9] for r in rows)
    talk = sum(r[6] for r in rows)
    check(calls > 0 and talk > 0, "no calls handled (%d) or talk time (%d)"
          % (calls, talk))
    for r in rows:
        parts = sum(r[3:9])
        # Each column is rounded to seconds on its own.
        check(abs(parts - r[2]) <= 3, "row %r: states add to %d, logged on "
              "%d" % (r, parts, r[2]))
        check(r[2] <= r[10] + 1, "row %r: logged on more than the "
              "interval" % (r,))
    complete = [r for r in rows if not r[11]]
    check(complete and all(r[2] >= r[10] - 1 for r in complete),
          "complete intervals should cover the whole interval: %r" %
          complete[:3])
    shown = lab.ctl("router", "intervals", "1000")
    check(len(shown) == len(rows) and
          {(x["DateTime"], x["SkillTargetID"]) for x in shown} == keys,
          "router intervals differs from the database")
    e = w.wait(lambda e: e.get("event") == "interval_stored", 5,
               "an interval_stored event", since=0)
    check(e["rows"] + e["duplicates"] >= 1, "event %r" % e)
    log("%d rows, %d calls handled, %d s talk" % (len(rows), calls, talk))


run(test)
