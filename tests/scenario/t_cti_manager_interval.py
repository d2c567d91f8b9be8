"""A CTI Manager failover keeps the interval (docs/failover.md: no data is
deleted in a CTI Manager failover).

With 5 agents available throughout, 2 s intervals, and a backup CTI
Manager endpoint, `pgemuctl acd stop cti-manager primary` is given in the
middle of an interval the active PIM saw from its start.  The PIM
reconnects to the backup endpoint with the same epoch (R6, R8) and keeps
the interval's totals (pim_activate, continuing).  Proves:
 * the interval's Agent_Interval rows cover the whole interval: per agent
   LoggedOnTime and AvailTime = 2 s (the time from the stop to the
   re-accept, when the agents are logged out by R6, is a few ms), and
   Incomplete 0, from the same side and epoch;
 * so does the next interval;
 * no pgemu_discard row: nothing was lost.
Before the fix the row showed only the time after the switch (about 1 s)
with Incomplete 1.
"""
import time

from pgemu_test import (check, dbtime, ev, free_ports, log, node_of, other,
                        run, wait_candidate, wait_for, wait_online)

IVL = 2
AGENTS = 5


def rows_of(lab, start):
    return lab.query("SELECT SkillTargetID, LoggedOnTime, AvailTime, "
                     "Incomplete, PGSide, Epoch FROM Agent_Interval WHERE "
                     "DateTime = ? ORDER BY SkillTargetID", (dbtime(start),))


def check_whole(lab, start, side, epoch, what):
    rows = wait_for(lambda: len(rows_of(lab, start)) == AGENTS and
                    rows_of(lab, start), 3 * IVL + 3,
                    "%s: %d rows of interval %s" % (what, AGENTS,
                                                    dbtime(start)))
    log("%s, interval %s: %r" % (what, dbtime(start), rows))
    bad = [r for r in rows if r[1] != IVL or r[2] != IVL or r[3] != 0 or
           r[4] != side or r[5] != epoch]
    check(not bad, "%s: interval %s rows without LoggedOnTime = AvailTime "
          "= %d, Incomplete 0, side %s, epoch %d: %r" % (
              what, dbtime(start), IVL, side, epoch, bad))


def test(Lab):
    backup = free_ports(1)[0]
    lab = Lab("ctiivl", agents=AGENTS, interval=IVL, hb_private=(20, 5),
              hb_router=(50, 5), hb_acd=(50, 5), traffic=False,
              sections={"acd": "backup_port = %d;" % backup})
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab, 10, agents=AGENTS)
    side, epoch = p["active_side"], p["epoch"]
    act = node_of(side)
    wait_candidate(lab, other(act))
    wr = lab.watch("router")
    # An interval the PIM sees from its start, and the stop in its middle
    # (within its second quarter and third, not near a boundary).
    def whole():
        r = lab.status(act)["reporting"]
        return r if r["intervals_closed"] >= 1 and \
            not r["interval_incomplete"] else None
    while True:
        s0 = wait_for(whole, 2 * IVL + 3, "%s: an interval seen from its "
                      "start" % act)["interval"]
        wait_for(lambda: time.time() >= s0 + 0.4 * IVL, IVL + 1,
                 "the middle of interval %s" % dbtime(s0))
        if time.time() < s0 + 0.6 * IVL:
            break
    lab.ctl("acd", "stop", "cti-manager", "primary")
    log("primary CTI Manager stopped at %+.3f s into interval %s" % (
        time.time() - s0, dbtime(s0)))
    wr.wait(ev("agents_logged_out"), 2, "router: agents_logged_out (R6)")
    wr.wait(ev("peripheral_online"), 2, "router: peripheral_online (R8)")
    st = lab.status(act)
    check(st["pim"]["state"] == "ACTIVE" and st["pim"]["epoch"] == epoch,
          "%s after the CTI Manager failover: %r" % (act, st["pim"]))
    check(time.time() < s0 + IVL, "the failover took past the interval's "
          "end (%+.3f s)" % (time.time() - s0))
    check_whole(lab, s0, side, epoch, "interval of the stop")
    check_whole(lab, s0 + IVL, side, epoch, "the next interval")
    d = lab.query("SELECT * FROM pgemu_discard")
    check(not d, "data discarded in a CTI Manager failover: %r" % d)


run(test)
