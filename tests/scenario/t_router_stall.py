"""A router that hangs does not fail a healthy PG over.

`kill -STOP` of the router for longer than the sides' hold time (router
link 50 ms x 5 here), then `kill -CONT`, TRIES times.  While the router is
stopped both sides drop their router links (they miss its heartbeats) and
keep their roles.  The router, waking, finds those links closed and its
own hold timers run out: that silence was its own.  It must notice the
stall (event router_stalled), wait for the sides to report, and adopt the
side that still holds the PIM.  Each try checks: same active side and
epoch, no pim_lost / pim_granted, no grant counted, no Agent_Logout row,
no pgemu_discard row, the ACD fenced nobody, and the peripheral online.
"""
import os
import signal

from pgemu_test import (check, ev, log, node_of, periph, run, wait_for,
                        wait_online)

TRIES = int(os.environ.get("PGEMU_TRIES", "6"))
AGENTS = 50


def test(Lab):
    lab = Lab("stall", agents=AGENTS, hb_private=(20, 5),
              hb_router=(50, 5), hb_acd=(50, 5), reconnect=(20, 200, 500),
              traffic=True)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab, 10, agents=AGENTS)
    side, epoch = p["active_side"], p["epoch"]
    act = node_of(side)
    wr = lab.watch("router")
    for n in range(1, TRIES + 1):
        p = wait_online(lab, 10, agents=AGENTS)
        c0 = lab.status("router")["counters"]
        f0 = lab.status("acd")["acd"]["fences"]
        l0 = lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE "
                       "ReasonCode <> 0")[0][0]
        conn0 = {pg: lab.link(pg, "router-link")["counters"]["connects"]
                 for pg in ("pg-a", "pg-b")}
        m = wr.mark()
        lab.kill("router", signal.SIGSTOP)
        # Stopped until both sides have given up on it (and, every other
        # try, until they have failed to reconnect once more).
        wait_for(lambda: all(lab.link(pg, "router-link")["state"] != "UP"
                             for pg in ("pg-a", "pg-b")), 3,
                 "try %d: both sides to drop the stopped router" % n)
        if n % 2 == 0:
            wait_for(lambda: all(lab.link(pg, "router-link")["counters"]
                                 ["connects"] > conn0[pg] for pg in
                                 ("pg-a", "pg-b")), 3,
                     "try %d: a reconnection attempt" % n)
        lab.kill("router", signal.SIGCONT)
        wr.wait(ev("router_stalled"), 3, "try %d: router_stalled" % n)
        p = wait_online(lab, 10, agents=AGENTS)
        lab.wait_links_up(timeout=5)
        evs = wr.since(m)
        moved = [e["message"] for e in evs if e.get("event") in
                 ("pim_lost", "pim_granted", "peripheral_offline",
                  "agents_logged_out")]
        c = lab.status("router")["counters"]
        log("try %d: %s" % (n, [e["message"] for e in evs if
                                e.get("event") != "link_state"]))
        check(not moved and c["grants"] == c0["grants"] and
              p["active_side"] == side and p["epoch"] == epoch,
              "try %d: the stalled router failed the PG over: %r, router "
              "%r" % (n, moved, p))
        check(lab.status("acd")["acd"]["fences"] == f0 and
              lab.status(act)["pim"]["state"] == "ACTIVE",
              "try %d: the ACD fenced %s" % (n, act))
        l1 = lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE "
                       "ReasonCode <> 0")[0][0]
        check(l1 == l0, "try %d: %d agents logged out by the stall" % (
            n, l1 - l0))
        check(not lab.query("SELECT * FROM pgemu_discard"),
              "try %d: data discarded: %r" % (
                  n, lab.query("SELECT * FROM pgemu_discard")))
    check(lab.status("router")["counters"]["stalls"] >= TRIES,
          "router counted %d stalls" %
          lab.status("router")["counters"]["stalls"])
    log("%d stalls: side %s kept the PIM with epoch %d" % (TRIES, side,
                                                          epoch))


run(test)
