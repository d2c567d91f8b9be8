"""Delivery across a router outage (the central controller is down): none
lost, none twice, and no failover.

With side X active, the router is SIGKILLed.  While it is away the sides
keep their roles (X's PIM stays ACTIVE and accepted by the ACD, the other
side stays IDLE), X keeps counting and its closed intervals wait in memory
(reporting.queued >= 3) and in its spool file.  When the router restarts it
grants nothing (pgemu_activation gains no row): it adopts X with its epoch
(event pim_adopted); X resyncs the real-time table (the peripheral is
online with every agent) and delivers every waiting interval (queued drops
to 0).  Agent_Interval then holds every interval closed during the outage,
each exactly once per agent.

The lab's reconnect back-off is capped (200 ms) below the restarted
router's hold time (100 ms x 5): both sides are back before the router
would grant on its own.
"""
import os
import signal
import time

from pgemu_test import (OUTAGE, check, dbtime, find_event, lab_online, log,
                        periph, run, wait_for, wait_online)

IVL = 2
AGENTS = 20
NODE = {"A": "pg-a", "B": "pg-b"}
OTHER = {"A": "B", "B": "A"}


def test(Lab):
    lab, p = lab_online(Lab, "outage", AGENTS, interval=IVL, **OUTAGE)
    side = p["active_side"]
    act, stby = NODE[side], NODE[OTHER[side]]
    epoch = p["epoch"]
    # Some agents move, so the rows are not all alike.
    lab.ctl("acd", "agent", "1001", "set", "not_ready")
    lab.ctl("acd", "agent", "1002", "set", "talking")
    wait_for(lambda: lab.status(act)["reporting"]["delivered"] >= 1,
             2 * IVL + 2, "a first interval delivered")
    n_act0 = lab.query("SELECT COUNT(*) FROM pgemu_activation")[0][0]
    acd0 = lab.status("acd")["acd"]

    lab.kill("router", signal.SIGKILL)
    lab.reap("router")
    wait_for(lambda: lab.link(act, "router-link")["state"] != "UP" and
             lab.link(stby, "router-link")["state"] != "UP", 2,
             "both sides to see the router go")
    rep0 = lab.status(act)["reporting"]
    s0 = rep0["interval"]        # the first interval to close in the outage
    log("router killed; side %s active (epoch %d), interval %s in progress"
        % (side, epoch, dbtime(s0)))

    roles = []

    def queued3():
        a = lab.status(act)
        b = lab.status(stby)
        if a["pim"]["state"] != "ACTIVE" or b["pim"]["state"] != "IDLE":
            roles.append((a["pim"]["state"], b["pim"]["state"]))
        return a["reporting"] if a["reporting"]["queued"] >= 3 else None
    rep = wait_for(queued3, 4 * IVL + 2, "%s to queue 3 intervals" % act,
                   interval=0.05)
    check(not roles, "roles changed with the router down (active, standby):"
          " %r" % roles)
    check(rep["counting"] and rep["queued_rows"] >= 3 * AGENTS,
          "%s reporting %r" % (act, rep))
    size = os.path.getsize(rep["spool"])
    check(size > 0, "spool %s is empty with %d intervals queued" % (
        rep["spool"], rep["queued"]))
    a = lab.status("acd")["acd"]
    check(a["accepted_pim"] == act and a["accepted_epoch"] == epoch and
          a["fences"] == acd0["fences"], "the ACD changed PIMs: %r" % a)
    check(lab.status(stby)["reporting"]["queued"] == 0,
          "the standby queued data")
    log("%d intervals (%d rows) queued at %s, spool %d bytes" % (
        rep["queued"], rep["queued_rows"], act, size))

    # The router comes back.
    t_back = time.time()
    lab.start("router")
    e = find_event(lab, "router", lambda e: e.get("event") == "pim_adopted",
                   "pim_adopted")
    log("router back: %s" % e["message"])
    check(e["side"] == side and e["epoch"] == epoch, "adopted %r" % e)
    p = wait_online(lab, 10, agents=AGENTS)
    check(p["active_side"] == side and p["epoch"] == epoch,
          "after the restart: %r" % p)
    wait_for(lambda: lab.status(act)["reporting"]["queued"] == 0, 5,
             "%s's queue to drain" % act)
    st = lab.status(act)
    check(st["pim"]["state"] == "ACTIVE" and st["pim"]["epoch"] == epoch and
          lab.status(stby)["pim"]["state"] == "IDLE",
          "roles after the restart: %s %s / %s" % (
              st["pim"]["state"], st["pim"]["epoch"],
              lab.status(stby)["pim"]["state"]))
    check(st["reporting"]["rows_discarded"] == 0, "data discarded: %r" %
          st["reporting"])
    n_act = lab.query("SELECT COUNT(*) FROM pgemu_activation")[0][0]
    check(n_act == n_act0, "%d grants recorded during the restart" %
          (n_act - n_act0))
    check(lab.status("router")["counters"]["grants"] == 0,
          "the restarted router granted the PIM")
    check(not [x for x in lab.ctl("router", "events", "500")
               if x.get("event") in ("pim_granted", "pim_lost")],
          "the restarted router moved the PIM")
    check(not lab.query("SELECT * FROM pgemu_discard"), "data discarded: %r"
          % lab.query("SELECT * FROM pgemu_discard"))
    a = lab.status("acd")["acd"]
    check(a["accepted_pim"] == act and a["fences"] == acd0["fences"] and
          a["max_accepted_at_once"] == 1, "the ACD changed PIMs: %r" % a)

    # Every interval of the outage, exactly once per agent.
    dup = lab.query("SELECT COUNT(*), COUNT(DISTINCT DateTime || '/' || "
                    "SkillTargetID) FROM Agent_Interval")[0]
    check(dup[0] == dup[1], "Agent_Interval: %d rows, %d distinct "
          "(DateTime, SkillTargetID)" % dup)
    last = st["reporting"]["interval"]       # in progress now
    closed = list(range(s0, last, IVL))
    check(len(closed) >= 3, "only %d intervals closed in the outage" %
          len(closed))
    for t in closed:
        rows = lab.query("SELECT SkillTargetID, PGSide, Epoch, "
                         "LoggedOnTime, IntervalLength FROM Agent_Interval "
                         "WHERE DateTime = ? ORDER BY SkillTargetID",
                         (dbtime(t),))
        check([r[0] for r in rows] == list(range(1001, 1001 + AGENTS)),
              "interval %s: rows for %r" % (dbtime(t), [r[0] for r in rows]))
        check(all(r[1:3] == (side, epoch) and r[4] == IVL for r in rows),
              "interval %s: %r" % (dbtime(t), sorted(set(r[1:] for r in
                                                         rows))))
    talk = lab.query("SELECT SUM(TalkTime), SUM(NotReadyTime) FROM "
                     "Agent_Interval WHERE DateTime >= ? AND DateTime < ? "
                     "AND SkillTargetID IN (1001, 1002)",
                     (dbtime(s0), dbtime(last)))[0]
    check(talk[0] >= len(closed) * IVL - 1 and talk[1] >= len(closed) *
          IVL - 1, "outage intervals lost time: TalkTime %r, NotReadyTime "
          "%r over %d intervals" % (talk[0], talk[1], len(closed)))
    stored = lab.status("router")["counters"]
    log("%d outage intervals stored (%s .. %s), %d rows, %d duplicates; "
        "back %.2f s after the restart" % (
            len(closed), dbtime(closed[0]), dbtime(closed[-1]),
            stored["rows_stored"], stored["rows_duplicate"],
            time.time() - t_back))


run(test)
