"""R2: on a PIM failure the peripheral is marked offline at the central
controller.

(1) The standby side's ACD link is cut first (so nobody can take over),
    then the active side's: the router's peripheral goes offline
    (online false, offline_reason naming the ACD link, no active side, no
    new grant), with event peripheral_offline R2 on the router.  Restoring
    one ACD link brings it back online (peripheral_online R4).
(2) kill -9 of the ACD: offline again (R2), once, and nobody is granted
    the PIM (no side reaches the ACD); a restarted ACD brings it back
    online with every agent.
"""
import signal
import time

from pgemu_test import (check, log, periph, run, wait_for, wait_online)

AGENTS = 20
NODE = {"A": "pg-a", "B": "pg-b"}
OTHER = {"A": "B", "B": "A"}


def side_of(p, side):
    return [s for s in p["sides"] if s["side"] == side][0]


def caught_up(lab, w):
    """Wait until watcher w has every event the node emitted so far."""
    last = lab.ctl(w.node, "events", "1")[-1]["seq"]
    wait_for(lambda: w.events and w.events[-1]["seq"] >= last, 3,
             "the %s watch to catch up" % w.node)


def ev(name, rule):
    return lambda e: e.get("event") == name and e.get("rule") == rule


def test(Lab):
    lab = Lab("r02", agents=AGENTS, interval=2, hb_private=(20, 5),
              hb_router=(50, 5), hb_acd=(50, 5), traffic=False)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab, 10, agents=AGENTS)
    act = p["active_side"]
    stby = OTHER[act]
    wr = lab.watch("router")
    grants0 = lab.status("router")["counters"]["grants"]

    # (1) Standby's ACD link first, then the active side's ---------------
    lab.ctl(NODE[stby], "fault", "acd-link", "down")
    wait_for(lambda: not side_of(periph(lab), stby)["acd_up"], 3,
             "the router to know side %s has no ACD link" % stby)
    m = wr.mark()
    t0 = time.time()
    lab.ctl(NODE[act], "fault", "acd-link", "down")
    e = wr.wait(ev("peripheral_offline", "R2"), 3,
                "router: peripheral_offline R2")
    log("cut both ACD links: %s (%.1f ms)" % (e["message"],
                                              (e["time"] - t0) * 1000))
    check(e["time"] - t0 < 0.5, "offline %.3f s after the cut" %
          (e["time"] - t0))
    check(e["peripheral"] == 5000 and "ACD" in e["reason"],
          "peripheral_offline event %r" % e)
    wr.wait(ev("pim_lost", "R5"), 3, "router: pim_lost")
    caught_up(lab, wr)
    p = periph(lab)
    check(not p["online"], "peripheral still online: %r" % p)
    check(p["offline_reason"] and "ACD" in p["offline_reason"],
          "offline_reason %r" % p["offline_reason"])
    check(p["active_side"] is None, "a side is active: %r" % p)
    check(p["agents_logged_in"] == 0, "%d agents still logged in" %
          p["agents_logged_in"])
    check(lab.status(NODE[stby])["pim"]["state"] == "IDLE" and
          lab.status(NODE[act])["pim"]["state"] == "IDLE",
          "a PIM is not idle with both ACD links cut")
    check(lab.status("router")["counters"]["grants"] == grants0 and
          not [x for x in wr.since(m) if x.get("event") == "pim_granted"],
          "a grant while no side could reach the ACD")
    check(len([x for x in wr.since(m) if x.get("event") ==
               "peripheral_offline"]) == 1, "peripheral_offline twice")

    # Back: one ACD link restored, online again.
    wr.mark()
    lab.ctl(NODE[stby], "fault", "acd-link", "up")
    e = wr.wait(ev("peripheral_online", "R4"), 5,
                "router: peripheral_online R4")
    log("one ACD link back: %s" % e["message"])
    p = wait_online(lab, 10, agents=AGENTS)
    check(p["active_side"] == stby and p["offline_reason"] == "",
          "after restore: %r" % p)
    lab.ctl(NODE[act], "fault", "acd-link", "up")
    wait_for(lambda: all(s["acd_up"] for s in periph(lab)["sides"]), 5,
             "both ACD links up at the router")

    # (2) kill -9 of the ACD ---------------------------------------------
    m = wr.mark()
    t0 = time.time()
    lab.kill("acd", signal.SIGKILL)
    lab.reap("acd")
    e = wr.wait(ev("peripheral_offline", "R2"), 3,
                "router: peripheral_offline R2 after the ACD died")
    log("ACD killed: %s (%.1f ms)" % (e["message"],
                                      (e["time"] - t0) * 1000))
    check(e["time"] - t0 < 0.5, "offline %.3f s after kill -9" %
          (e["time"] - t0))
    check("ACD" in e["reason"], "reason %r" % e["reason"])
    wait_for(lambda: not any(s["acd_up"] for s in periph(lab)["sides"]), 3,
             "the router to know neither side reaches the ACD")
    caught_up(lab, wr)
    p = periph(lab)
    check(not p["online"] and p["active_side"] is None and
          p["agents_logged_in"] == 0 and "ACD" in p["offline_reason"],
          "after kill -9 of the ACD: %r" % p)
    check(len([x for x in wr.since(m) if x.get("event") ==
               "peripheral_offline"]) == 1, "peripheral_offline twice")
    check(not [x for x in wr.since(m)
               if x.get("event") == "peripheral_online"],
          "online again without an ACD: %r" % [
              x["message"] for x in wr.since(m)])
    check(not [x for x in wr.since(m) if x.get("event") == "pim_granted"],
          "the PIM was granted to a side without an ACD link: %r" % [
              x["message"] for x in wr.since(m)])

    # Back: the ACD restarts, a side is granted, online with every agent.
    wr.mark()
    lab.start("acd")
    e = wr.wait(ev("peripheral_online", "R4"), 5,
                "router: peripheral_online R4 after the ACD restart")
    log("ACD back: %s" % e["message"])
    p = wait_online(lab, 10, agents=AGENTS)
    check(p["offline_reason"] == "", "offline_reason kept: %r" % p)


run(test)
