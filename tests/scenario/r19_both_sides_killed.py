"""R19 when both PG sides are killed (kill -9) and start again: 3 agents
in MRDs 1 (voice) and 2 (email, task_life 60 s) with their desktops and
the app.

Neither PIM that comes back knows the email MRD's states: the one that
held them died, and so did the standby's copy (PEER_AGENTS).  A PIM must
not take that for a sign-out: the email sign-ins outlive the CTI
server's path (R19), the email manager (the app) tells the states again
when its ARM session opens (the bracket).

Proves:
 * the voice MRD as R6, R7 and R8 say: logged out with 50002, back in;
 * the email MRD logged in at the router all along: while no side runs,
   when a side takes the PIM over (the first snapshot of a fresh PIM),
   and after; never an Agent_Logout row of MRD 2, never an Agent_Logout
   row without its rule (a loss the software causes is recorded with the
   rule that names it);
 * the app's bracket sets the states again at the new PIM (agents_resynced,
   R19): the CTI server it opens its session with, which never knew
   them, takes every one (none refused as "not signed in"); the CTI
   server of the side that holds the PIM sees every agent signed in to
   MRD 2, the desktops too, and the router has them available.
"""
import signal

from email_lab import (AGENTS, EMAIL, IDS, T, arm, cti_email, desk_email,
                       email_lab, router_mrd)
from pgemu_test import (check, ev, log, node_of, other, periph,
                        run, wait_for)


def email_logged_in(lab, when):
    e = router_mrd(lab, EMAIL)
    check(all(e[i] != "logged out" for i in IDS),
          "router, email, %s: %r" % (when, e))


def test(Lab):
    lab, p = email_lab(Lab, "r19both")
    act = node_of(p["active_side"])
    stby = other(act)
    wait_for(lambda: arm(lab)["agents_available"] == AGENTS and
             desk_email(lab) == {i: "available" for i in IDS} and
             router_mrd(lab, EMAIL) == {i: "available" for i in IDS}, T,
             "3 agents available in MRD 2")

    log("kill -9 of %s and %s: voice out (R6), email kept (R19)" % (
        act, stby))
    wr, wa = lab.watch("router"), lab.watch("app")
    lab.kill(act, signal.SIGKILL)
    lab.kill(stby, signal.SIGKILL)
    e = wr.wait(ev("agents_logged_out"), T, "router: agents_logged_out")
    check(e["rule"] in ("R3", "R6"), "router: %r" % e)
    wait_for(lambda: all(s["link"] != "UP" for s in
                         periph(lab)["sides"]), T,
             "both sides gone at the router")
    email_logged_in(lab, "no side running")

    log("both sides back: a fresh PIM takes the peripheral over")
    lab.start(act)
    lab.start(stby)
    wr.wait(ev("peripheral_online"), T, "router: peripheral_online")
    email_logged_in(lab, "the first snapshot of a fresh PIM")
    wait_for(lambda: router_mrd(lab, 1) == {i: "available" for i in IDS},
             T, "router: every agent back in the voice MRD")
    e = wa.wait(ev("agents_resynced", rule="R19"), T,
                "app: agents_resynced")
    check(e["agents"] == AGENTS, "app: %r" % e)
    holder = node_of(periph(lab)["active_side"])

    # The CTI server the app sent its bracket to took it.  Both CTI
    # servers start active a moment (side A then keeps it): a bracket
    # sent to side B then is sent again to side A, and counts there.
    def taken():
        for a in wa.events:
            if a.get("event") != "agents_resynced" or \
               a.get("agents") != AGENTS:
                continue
            # The one of this bracket (its states, set or refused): a
            # bracket sent to it before, with none of them, is not.
            for x in lab.ctl(a["server"], "events", "500"):
                if x.get("event") == "agents_resynced" and \
                   x["agents"] + x["refused"] == AGENTS:
                    return a["server"], x
        return None
    server, e = wait_for(taken, T, "a CTI server: agents_resynced")
    # Its CTI server never knew the states: it takes the app's, each.
    check(e["rule"] == "R19" and e["agents"] == AGENTS and
          e["refused"] == 0, "%s: %r" % (server, e))
    wait_for(lambda: cti_email(lab, holder).get("available") == AGENTS and
             desk_email(lab) == {i: "available" for i in IDS} and
             router_mrd(lab, EMAIL) == {i: "available" for i in IDS}, T,
             "every agent available in MRD 2 again, at %s's CTI server, "
             "the desktops and the router" % holder)
    email_logged_in(lab, "after the bracket")

    rows = lab.query("SELECT SkillTargetID, MRDomainID, ReasonCode, Rule "
                     "FROM Agent_Logout ORDER BY MRDomainID, SkillTargetID")
    check(all(r[1] == 1 and r[2] == 50002 and r[3] == "R6" for r in rows)
          and rows, "Agent_Logout: %r (voice, R6, 50002; none of MRD 2, "
          "none without a rule)" % rows)


run(test)
