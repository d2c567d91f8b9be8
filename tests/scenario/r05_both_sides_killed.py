"""R5 and R1 when both PG sides are killed at (nearly) the same moment.

Only a side that held the PIM lost data.  In the instant between the two
sockets closing the router must not record a loss for the standby, nor an
activation of an epoch nobody used, unless the standby really took the
PIM in that instant (the ACD accepted its epoch: then it held data and
its loss is recorded too).  Over
ROUNDS rounds (20 agents, short heartbeats) of: both sides online (one
active, one standing candidate), then kill -9 of the active side and the
standby back to back, the test checks after each round:

  * exactly one new pgemu_discard row, Rule R1, for the side that was
    active, with one row per agent, and none for the standby unless the
    ACD accepted the standby's epoch in that instant (never a row of 0
    rows);
  * no new pgemu_activation row but for an epoch the standby took: every
    epoch in pgemu_activation is one the ACD accepted (its pim_accepted
    events);
  * the peripheral is offline with no active side, and every agent is
    logged out exactly once per side that held it (20 Agent_Logout rows,
    reason 50002, or 40 when the standby took the PIM and logged them in
    again before it died);
then restarts both sides and waits for the peripheral to be online again.
How often the router granted the standby before its end was read (it
should not: a closed link, unread, is no candidate) is printed.
"""
import os
import signal

from pgemu_test import (FAST, check, ev, log, node_of, other, periph, run,
                        wait_candidate, wait_for, wait_online)

ROUNDS = int(os.environ.get("PGEMU_ROUNDS", "8"))
AGENTS = 20


def acd_accepted(lab, pim=None, above=0):
    return set(e["epoch"] for e in lab.ctl("acd", "events", "500")
               if e.get("event") == "pim_accepted" and
               (pim is None or e.get("pim") == pim) and e["epoch"] > above)


def test(Lab):
    lab = Lab("both", agents=AGENTS, **FAST)
    lab.start_all()
    lab.wait_links_up()
    wr = lab.watch("router")
    granted_dying = took_all = 0
    for n in range(1, ROUNDS + 1):
        p = wait_online(lab, 10, agents=AGENTS)
        act = node_of(p["active_side"])
        stby = other(act)
        wait_candidate(lab, stby)
        d0 = lab.query("SELECT COUNT(*) FROM pgemu_discard")[0][0]
        a0 = lab.query("SELECT COUNT(*) FROM pgemu_activation")[0][0]
        l0 = lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0]
        m = wr.mark()
        # Back to back: the second death follows the first by microseconds.
        os.kill(lab.pid(act), signal.SIGKILL)
        os.kill(lab.pid(stby), signal.SIGKILL)
        lab.reap(act)
        lab.reap(stby)
        wr.wait(ev("logout_reason"), 3, "round %d: router logout_reason" %
                n)
        wait_for(lambda: all(s["link"] != "UP"
                             for s in periph(lab)["sides"]), 3,
                 "round %d: both sides gone at the router" % n)
        # The session rows are written behind the real-time path.
        wait_for(lambda: lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0]
                 >= l0 + AGENTS, 3, "round %d: logout rows" % n)
        evs = wr.since(m)
        grants = [e for e in evs if e.get("event") == "pim_granted"]
        granted_dying += bool(grants)
        d = lab.query("SELECT Rows, Rule, PGSide, Reason FROM pgemu_discard "
                      "WHERE id > (SELECT COALESCE(MAX(id), 0) FROM "
                      "(SELECT id FROM pgemu_discard ORDER BY id LIMIT ?))",
                      (d0,))
        log("round %d: %s then %s killed; router: %s; discard %r" % (
            n, act, stby, [e["message"] for e in evs
                           if e.get("rule") or e.get("event") ==
                           "grant_unused"], d))
        took = acd_accepted(lab, stby, p["epoch"])
        mine = [r for r in d if r[2] == act[-1].upper()]
        theirs = [r for r in d if r[2] != act[-1].upper()]
        check(len(mine) == 1 and mine[0][0] == AGENTS and
              mine[0][1] == "R1" and all(r[0] > 0 and r[1] == "R1" for r in
                                         theirs) and
              len(theirs) <= (1 if took else 0),
              "round %d: pgemu_discard rows %r, expected one R1 row of %d "
              "rows for side %s%s" % (n, d, AGENTS, act[-1].upper(),
                                      " (and one for %s, whose epoch the "
                                      "ACD accepted)" % stby if took else
                                      " only"))
        took_all += bool(took)
        acts = lab.query("SELECT Epoch, PGSide FROM pgemu_activation "
                         "ORDER BY id")
        check(all(e in took for e, _ in acts[a0:]), "round %d: "
              "activation rows added for epochs nobody used: %r (the ACD "
              "accepted %r)" % (n, acts[a0:], sorted(took)))
        unused = set(e for e, _ in acts) - acd_accepted(lab)
        check(not unused, "round %d: pgemu_activation epochs the ACD never "
              "accepted: %r" % (n, unused))
        p = periph(lab)
        check(not p["online"] and p["active_side"] is None and
              p["agents_logged_in"] == 0, "round %d: router %r" % (n, p))
        lo = lab.query("SELECT COUNT(*), SUM(ReasonCode = 50002) FROM "
                       "Agent_Logout")[0]
        # The standby's agents were logged in again only if its relogin
        # reached the router before it died.
        relogged = any(e.get("event") == "peripheral_online"
                       for e in wr.since(m))
        want = l0 + AGENTS * (2 if relogged else 1)
        wait_for(lambda: lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0]
                 >= want, 3, "round %d: %d logout rows" % (n, want))
        lo = lab.query("SELECT COUNT(*), SUM(ReasonCode = 50002) FROM "
                       "Agent_Logout")[0]
        check(lo[0] == want and lo[1] >= AGENTS,
              "round %d: %d logout rows (%d before), %r with 50002" % (
                  n, lo[0], l0, lo[1]))
        lab.start(act)
        lab.start(stby)
    wait_online(lab, 10, agents=AGENTS)
    log("%d rounds; the router granted the dying standby in %d, which "
        "took the PIM before it died in %d" % (ROUNDS, granted_dying,
                                                took_all))


run(test)
