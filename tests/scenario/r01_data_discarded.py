"""R1: when the PIM fails, its ACD link goes or the ACD goes, every piece of
reporting data the side has not delivered to the central controller is
deleted, and the deletion is itself a record (pgemu_discard).

(a) `fault acd-link down` on the active side: that side emits
    data_discarded (R1, rows > 0), logs "[R1] deleted undelivered reporting
    data", and the router stores a pgemu_discard row (Rule R1, its PGSide,
    the same Rows, a Reason naming the ACD link).
(b) With the router SIGKILLed and >= 2 closed intervals queued at the
    active side (and in its spool file), its ACD link is cut: the queued
    intervals go too (the event's intervals/rows cover them and the one in
    progress).  The restarted router receives the discard record, and
    Agent_Interval holds no row of the deleted intervals.
(c) kill -9 of the active side: the router records R1 itself (Reason names
    the side's router link; the current interval, one row per logged-in
    agent).
(d) With the router down and intervals queued, kill -9 of the active side,
    then restart it: it finds its spool and deletes what a previous run left
    undelivered (data_discarded R1 at start-up), delivered as a pgemu_discard
    row once the router is back.
"""
import os
import signal
import time

from pgemu_test import (check, dbtime, find_event, log, periph, run,
                        wait_for, wait_online)

IVL = 2
AGENTS = 20
NODE = {"A": "pg-a", "B": "pg-b"}
OTHER = {"A": "B", "B": "A"}


def is_r1(e):
    return e.get("event") == "data_discarded" and e.get("rule") == "R1"


def discard_rows(lab, where="1", args=()):
    return lab.query("SELECT IntervalDateTime, Intervals, Rows, Rule, PGSide,"
                     " Reason FROM pgemu_discard WHERE %s ORDER BY id" % where,
                     args)


def wait_queued(lab, node, n, timeout):
    """Wait for >= n closed intervals queued at node; its reporting."""
    return wait_for(lambda: (lambda r: r if r["queued"] >= n and
                             r["counting"] else None)(
        lab.status(node)["reporting"]), timeout,
        "%s to queue %d closed intervals" % (node, n), interval=0.05)


def restart_router(lab):
    lab.start("router")
    wait_for(lambda: lab.status("router")["peripheral"]["settled"], 5,
             "the restarted router to settle")


def test(Lab):
    lab = Lab("r01", agents=AGENTS, interval=IVL, hb_private=(20, 5),
              hb_router=(50, 5), hb_acd=(50, 5), traffic=False)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab, 10, agents=AGENTS)

    # (a) The active side's ACD link is cut --------------------------------
    side = p["active_side"]
    node = NODE[side]
    w = lab.watch(node)
    t0 = time.time()
    lab.ctl(node, "fault", "acd-link", "down")
    e = w.wait(is_r1, 3, "%s: data_discarded R1" % node)
    log("(a) %s: %s" % (node, e["message"]))
    check(e["time"] - t0 < 0.5, "R1 deletion %.3f s after the cut" %
          (e["time"] - t0))
    check(e["rows"] > 0 and e["intervals"] >= 1,
          "nothing deleted: %r" % e)
    check(e["rows"] >= AGENTS, "the interval in progress has one row per "
          "logged-in agent (%d), the event says %d" % (AGENTS, e["rows"]))
    check("ACD" in e["reason"], "reason does not name the ACD link: %r" %
          e["reason"])
    lab.wait_log(node, r"\[R1\] deleted undelivered reporting data")
    rows = wait_for(lambda: discard_rows(lab, "PGSide = ?", (side,)), 3,
                    "a pgemu_discard row of side %s" % side)
    check(len(rows) == 1, "one discard row expected: %r" % rows)
    ivl_dt, ivls, nrows, rule, pgside, reason = rows[0]
    check(rule == "R1" and pgside == side and nrows == e["rows"] and
          ivls == e["intervals"], "pgemu_discard row %r vs event %r" %
          (rows[0], e))
    check("ACD" in reason, "pgemu_discard Reason %r does not name the ACD "
          "link" % reason)
    # The peer took over (R5); the cut side comes back as the standby.
    p = wait_online(lab, 10, agents=AGENTS)
    check(p["active_side"] == OTHER[side], "side %s did not take over: %r" %
          (OTHER[side], p))
    lab.ctl(node, "fault", "acd-link", "up")
    wait_for(lambda: all(s["acd_up"] for s in periph(lab)["sides"]), 5,
             "both sides' ACD links up at the router")

    # (b) Router down, intervals queued, then the ACD link is cut ----------
    side = p["active_side"]
    node = NODE[side]
    epoch = p["epoch"]
    w = lab.watch(node)
    lab.kill("router", signal.SIGKILL)
    lab.reap("router")
    wait_for(lambda: lab.link(node, "router-link")["state"] != "UP", 2,
             "%s to see the router go" % node)
    s0 = lab.status(node)["reporting"]["interval"]
    rep = wait_queued(lab, node, 2, 4 * IVL + 2)
    spool = rep["spool"]
    check(os.path.getsize(spool) > 0, "spool %s is empty with %d records "
          "queued" % (spool, rep["queued"]))
    check(lab.status(node)["pim"]["state"] == "ACTIVE", "side %s lost its "
          "PIM with the router down" % side)
    w.mark()
    lab.ctl(node, "fault", "acd-link", "down")
    e = w.wait(is_r1, 3, "%s: data_discarded R1" % node)
    cut_ivl = lab.status(node)["reporting"]["interval"]
    log("(b) %d intervals / %d rows queued, then: %s" % (
        rep["queued"], rep["queued_rows"], e["message"]))
    check(e["intervals"] >= rep["queued"] + 1,
          "the event covers %d intervals; %d were queued plus the one in "
          "progress" % (e["intervals"], rep["queued"]))
    check(e["rows"] >= rep["queued_rows"] + AGENTS,
          "the event covers %d rows; %d were queued plus %d in progress" %
          (e["rows"], rep["queued_rows"], AGENTS))
    r = lab.status(node)["reporting"]
    check(r["queued_rows"] == 0 and r["queued"] == 1,
          "after R1 only the discard record may wait: %r" % r)
    # Restart the router: the discard record is delivered, not the data.
    restart_router(lab)
    rows = wait_for(lambda: discard_rows(lab, "PGSide = ? AND Rows = ?",
                                         (side, e["rows"])), 5,
                    "the discard record of side %s at the router" % side)
    ivl_dt, ivls, nrows, rule, pgside, reason = rows[-1]
    check(rule == "R1" and ivls == e["intervals"] and "ACD" in reason,
          "pgemu_discard row %r vs event %r" % (rows[-1], e))
    check(ivl_dt <= dbtime(s0), "IntervalDateTime %s is after the first "
          "deleted interval %s" % (ivl_dt, dbtime(s0)))
    wait_for(lambda: lab.status(node)["reporting"]["queued"] == 0, 3,
             "%s's queue to drain" % node)
    leaked = lab.query("SELECT DateTime, COUNT(*) FROM Agent_Interval WHERE"
                       " PGSide = ? AND Epoch = ? AND DateTime >= ? GROUP BY"
                       " DateTime", (side, epoch, dbtime(s0)))
    check(not leaked, "deleted intervals reached Agent_Interval: %r" %
          leaked)
    # Nobody else counted them either: the router was down, no grant.
    gap = lab.query("SELECT DateTime, PGSide, COUNT(*) FROM Agent_Interval "
                    "WHERE DateTime >= ? AND DateTime < ? GROUP BY DateTime,"
                    " PGSide", (dbtime(s0), dbtime(cut_ivl)))
    check(not gap, "rows for intervals deleted by R1: %r" % gap)
    p = wait_online(lab, 10, agents=AGENTS)
    check(p["active_side"] == OTHER[side], "side %s should be active now: "
          "%r" % (OTHER[side], p))
    lab.ctl(node, "fault", "acd-link", "up")
    wait_for(lambda: all(s["acd_up"] for s in periph(lab)["sides"]), 5,
             "both sides' ACD links up at the router")

    # (c) kill -9 of the active side: the router records R1 itself ---------
    side = p["active_side"]
    node = NODE[side]
    wr = lab.watch("router")
    cur = lab.status(node)["reporting"]["interval"]
    lab.kill(node, signal.SIGKILL)
    lab.reap(node)
    e = wr.wait(lambda e: is_r1(e) and e.get("side") == side, 3,
                "router: data_discarded R1 of side %s" % side)
    log("(c) router: %s" % e["message"])
    check("router link" in e["reason"], "router R1 reason %r does not name "
          "the side's router link" % e["reason"])
    check(e["rows"] == AGENTS and e["intervals"] == 1,
          "router R1: %d rows / %d intervals, expected %d / 1" % (
              e["rows"], e["intervals"], AGENTS))
    rows = wait_for(lambda: discard_rows(
        lab, "PGSide = ? AND Reason LIKE '%router link%'", (side,)), 3,
        "the router's own discard row of side %s" % side)
    check(len(rows) == 1, "one router-recorded discard expected: %r" % rows)
    ivl_dt, ivls, nrows, rule, pgside, reason = rows[0]
    check(rule == "R1" and nrows == AGENTS and ivls == 1 and
          ivl_dt in (dbtime(cur), dbtime(cur + IVL)),
          "pgemu_discard row %r (interval in progress %s)" % (
              rows[0], dbtime(cur)))
    p = wait_online(lab, 10, agents=AGENTS)
    check(p["active_side"] == OTHER[side], "side %s did not take over" %
          OTHER[side])
    lab.start(node)
    wait_for(lambda: all(s["acd_up"] and s["reported"]
                         for s in periph(lab)["sides"]), 5,
             "the restarted side to report to the router")

    # (d) The spool of a side that died with the router away --------------
    side = p["active_side"]
    node = NODE[side]
    epoch = p["epoch"]
    lab.kill("router", signal.SIGKILL)
    lab.reap("router")
    wait_for(lambda: lab.link(node, "router-link")["state"] != "UP", 2,
             "%s to see the router go" % node)
    s0 = lab.status(node)["reporting"]["interval"]
    rep = wait_queued(lab, node, 2, 4 * IVL + 2)
    check(os.path.getsize(rep["spool"]) > 0, "spool %s is empty with %d "
          "records queued" % (rep["spool"], rep["queued"]))
    lab.kill(node, signal.SIGKILL)
    lab.reap(node)
    lab.start(node)
    e = find_event(lab, node, is_r1, "data_discarded R1 at start-up")
    log("(d) restarted %s: %s" % (node, e["message"]))
    check("left undelivered by a previous run" in e["reason"],
          "start-up R1 reason %r" % e["reason"])
    check(e["intervals"] >= rep["queued"] and
          e["rows"] >= rep["queued_rows"],
          "start-up R1 covers %d intervals / %d rows; %d / %d were queued" %
          (e["intervals"], e["rows"], rep["queued"], rep["queued_rows"]))
    lab.wait_log(node, r"\[R1\] deleted undelivered reporting data.*left "
                 r"undelivered by a previous run")
    restart_router(lab)
    rows = wait_for(lambda: discard_rows(
        lab, "PGSide = ? AND Reason LIKE '%left undelivered by a previous "
        "run%'", (side,)), 5, "the start-up discard record at the router")
    check(len(rows) == 1, "one start-up discard row expected: %r" % rows)
    ivl_dt, ivls, nrows, rule, pgside, reason = rows[0]
    check(rule == "R1" and nrows == e["rows"] and ivls == e["intervals"],
          "pgemu_discard row %r vs event %r" % (rows[0], e))
    wait_for(lambda: lab.status(node)["reporting"]["queued"] == 0, 3,
             "%s's queue to drain" % node)
    leaked = lab.query("SELECT DateTime, COUNT(*) FROM Agent_Interval WHERE"
                       " PGSide = ? AND Epoch = ? AND DateTime >= ? GROUP BY"
                       " DateTime", (side, epoch, dbtime(s0)))
    check(not leaked, "intervals of the dead run reached Agent_Interval: "
          "%r" % leaked)
    wait_online(lab, 10, agents=AGENTS)


run(test)
