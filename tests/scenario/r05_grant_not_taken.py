"""R5: the router converges after granting the PIM to a side that then died.

Side X is active (epoch E) and serves the ACD; side Y is the standing
candidate.  Y is stopped (kill -STOP); then X's router link is cut
(`pgemuctl X fault router-link down`): the router loses X (R5, R1, R2, R6)
and grants epoch E+1 to Y, whose router link is still up.  Y never takes
it: its link times out at the router, which records that Y lost nothing
(event grant_unused; no pgemu_discard row, no pgemu_activation row for
E+1).  X meanwhile kept the PIM (the ACD still obeys epoch E: sides keep
their roles while the router is away).  When X's router link comes back,
X reports that it holds the PIM with epoch E, older than the highest
granted: the router gives it a new epoch (pim_granted with regrant true,
E+2), X re-activates without losing its counts, the ACD accepts E+2, and
the peripheral is online again (R8) within a few seconds.  When Y is
continued, its stale grant is refused by the ACD (fencing): never two
PIMs accepted.
"""
import signal
import time

from pgemu_test import (FAST, check, ev, find_event, log, node_of, other,
                        periph, run, wait_candidate, wait_for, wait_online)

AGENTS = 20


def test(Lab):
    lab = Lab("regrant", agents=AGENTS, **FAST)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab, 10, agents=AGENTS)
    act = node_of(p["active_side"])
    stby = other(act)
    e0 = p["epoch"]
    wait_candidate(lab, stby)
    wr = lab.watch("router")
    lab.kill(stby, signal.SIGSTOP)
    lab.ctl(act, "fault", "router-link", "down")
    g = wr.wait(ev("pim_granted"), 3, "router: the grant to %s" % stby)
    check(g["side"] == stby[-1].upper() and g["epoch"] == e0 + 1,
          "grant %r" % g)
    u = wr.wait(ev("grant_unused"), 3, "router: %s never took it" % stby)
    log("%s; %s" % (g["message"], u["message"]))
    check(lab.status(act)["pim"]["state"] == "ACTIVE" and
          lab.status("acd")["acd"]["accepted_epoch"] == e0,
          "%s no longer serves the ACD" % act)
    t_fault = time.monotonic()
    lab.ctl(act, "fault", "router-link", "up")
    p = wait_online(lab, 5, agents=AGENTS)
    dt = time.monotonic() - t_fault
    rg = find_event(lab, "router", lambda e: e.get("event") ==
                    "pim_granted" and e.get("regrant"), "the re-grant")
    log("online again %.2f s after the link came back: %s" % (
        dt, rg["message"]))
    check(p["active_side"] == act[-1].upper() and p["epoch"] == e0 + 2 and
          rg["epoch"] == e0 + 2, "router %r, re-grant %r" % (p, rg))
    st = lab.status(act)
    acd = lab.status("acd")["acd"]
    check(st["pim"]["state"] == "ACTIVE" and st["pim"]["epoch"] == e0 + 2
          and acd["accepted_pim"] == act and acd["accepted_epoch"] == e0 + 2,
          "%s pim %r, ACD %r" % (act, st["pim"], acd))
    check(st["reporting"]["counting"], "%s stopped counting" % act)
    d = lab.query("SELECT PGSide, Rows FROM pgemu_discard")
    check(all(r[0] == act[-1].upper() for r in d),
          "a loss recorded for %s, which never held the PIM: %r" % (stby, d))
    acts = lab.query("SELECT Epoch, PGSide FROM pgemu_activation "
                     "ORDER BY id")
    check((e0 + 1, stby[-1].upper()) not in acts and
          acts[-1] == (e0 + 2, act[-1].upper()),
          "pgemu_activation %r" % acts)

    # Y wakes with its stale grant: the ACD refuses it.
    lab.kill(stby, signal.SIGCONT)
    wait_for(lambda: lab.status(stby)["pim"]["state"] == "IDLE" and
             lab.link(stby, "router-link")["state"] == "UP", 5,
             "%s back, idle" % stby)
    wait_candidate(lab, stby)
    acd = lab.status("acd")["acd"]
    check(acd["max_accepted_at_once"] == 1 and acd["accepted_pim"] == act,
          "ACD after %s woke: %r" % (stby, acd))
    p = periph(lab)
    check(p["online"] and p["active_side"] == act[-1].upper() and
          p["epoch"] == e0 + 2, "router after %s woke: %r" % (stby, p))


run(test)
