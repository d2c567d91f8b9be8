"""R4: the CallRouter cannot know what happened at the ACD while the PIM was
out of contact; when the PIM reconnects, each agent's current state and
time in state come from the ACD's snapshot (enough to route), and the
historical interval(s) of the outage stay incomplete, and say so.

Both sides' ACD links are cut (standby first: no takeover); at the ACD,
1001 goes Not Ready, 1002 Talking and 1003 logs out while no PIM sees it.
One ACD link is restored, a few hundred ms into a reporting interval: the
router's agents show exactly the ACD's states, with seconds_in_state
counted from the change at the ACD (not from the reconnect); the router
emits peripheral_online R4 and the new PIM agents_snapshot R4.  In
Agent_Interval the interval in which the PIM reactivated (which it did not
see whole) has Incomplete = 1 for every row, and the next, full interval
Incomplete = 0.
"""
import time

from pgemu_test import (check, dbtime, log, periph, run, wait_for)

IVL = 2
AGENTS = 20
NODE = {"A": "pg-a", "B": "pg-b"}
OTHER = {"A": "B", "B": "A"}
CHANGES = {1001: "not_ready", 1002: "talking", 1003: "logout"}


def side_of(p, side):
    return [s for s in p["sides"] if s["side"] == side][0]


def agents(lab, node):
    return {a["id"]: a for a in lab.ctl(node, "agents")}


def ev(name, rule):
    return lambda e: e.get("event") == name and e.get("rule") == rule


def test(Lab):
    lab = Lab("r04", agents=AGENTS, interval=IVL, hb_private=(20, 5),
              hb_router=(50, 5), hb_acd=(50, 5), traffic=False)
    lab.start_all()
    lab.wait_links_up()
    p = wait_for(lambda: (lambda p: p if p["online"] and
                          p["agents_logged_in"] == AGENTS else None)(
        periph(lab)), 10, "the peripheral online with every agent")
    act = p["active_side"]
    stby = OTHER[act]
    back = NODE[stby]            # the side whose ACD link comes back
    wr = lab.watch("router")
    wp = lab.watch(back)

    # Both PIMs away from the ACD, standby first.
    lab.ctl(NODE[stby], "fault", "acd-link", "down")
    wait_for(lambda: not side_of(periph(lab), stby)["acd_up"], 3,
             "the router to know side %s has no ACD link" % stby)
    lab.ctl(NODE[act], "fault", "acd-link", "down")
    wr.wait(ev("peripheral_offline", "R2"), 3, "router: offline")
    wait_for(lambda: lab.status("acd")["acd"]["accepted_pim"] is None, 3,
             "the ACD to have no PIM")

    # What happens at the ACD while nobody watches.
    t_change = time.time()
    for aid, st in sorted(CHANGES.items()):
        lab.ctl("acd", "agent", str(aid), "set", st)
    rt = agents(lab, "router")
    check(all(not a["logged_in"] and a["state"] == "logout"
              for a in rt.values()), "the router saw agents while no PIM "
          "was active: %r" % {i: a["state"] for i, a in rt.items()})

    # Reconnect once the changes are >= 1 s old, 0.2-0.6 s into an
    # interval: the PIM cannot have seen that interval whole.
    wait_for(lambda: time.time() - t_change >= 1.0 and
             0.2 <= time.time() % IVL < 0.6, 2 * IVL + 2,
             "a reconnect time 0.2-0.6 s into an interval", interval=0.002)
    wr.mark()
    wp.mark()
    t_up = time.time()
    lab.ctl(back, "fault", "acd-link", "up")
    e_act = wp.wait(lambda e: e.get("event") == "pim_active", 3,
                    "%s: pim_active" % back)
    e_snap = wp.wait(ev("agents_snapshot", "R4"), 3,
                     "%s: agents_snapshot R4" % back)
    e_on = wr.wait(ev("peripheral_online", "R4"), 3,
                   "router: peripheral_online R4")
    log("ACD link of %s back at +%.3f s into the interval; %s; %s" % (
        back, t_up % IVL, e_snap["message"], e_on["message"]))
    check(e_snap["agents"] == AGENTS, "snapshot of %d agents" %
          e_snap["agents"])
    check(e_on["agents"] == AGENTS - 1, "online with %d agents logged in, "
          "expected %d" % (e_on["agents"], AGENTS - 1))

    # Real-time state: exactly the ACD's, times from the ACD.
    acd = agents(lab, "acd")
    t_q = time.time()
    rt = agents(lab, "router")
    for aid, a in sorted(acd.items()):
        r = rt[aid]
        check(r["state"] == a["state"], "agent %d: router %s, ACD %s" % (
            aid, r["state"], a["state"]))
        check(r["logged_in"] == (a["state"] != "logout"),
              "agent %d: logged_in %r in state %s" % (aid, r["logged_in"],
                                                      r["state"]))
        d = r["seconds_in_state"] - a["seconds_in_state"]
        check(-0.05 <= d <= 0.3, "agent %d: %.3f s in state at the router, "
              "%.3f s at the ACD" % (aid, r["seconds_in_state"],
                                     a["seconds_in_state"]))
    for aid, st in sorted(CHANGES.items()):
        r = rt[aid]
        since_change = t_q - t_change
        since_up = t_q - e_on["time"]
        check(r["state"] == st, "agent %d: %s, expected %s" % (
            aid, r["state"], st))
        check(abs(r["seconds_in_state"] - since_change) < 0.3 and
              r["seconds_in_state"] > since_up + 0.7,
              "agent %d: %.3f s in state; changed %.3f s ago, reconnected "
              "%.3f s ago" % (aid, r["seconds_in_state"], since_change,
                              since_up))
    log("router agents match the ACD; 1001..1003 in state for %.2f s "
        "(reconnected %.2f s ago)" % (rt[1001]["seconds_in_state"],
                                      t_q - e_on["time"]))

    # History: the reactivation interval incomplete, the next one whole.
    ivl_r = int(e_act["time"]) // IVL * IVL
    side = stby
    epoch = e_act["epoch"]
    full = ivl_r + IVL

    def rows_of(start):
        return lab.query("SELECT SkillTargetID, Incomplete, PGSide, Epoch "
                         "FROM Agent_Interval WHERE DateTime = ? ORDER BY "
                         "SkillTargetID", (dbtime(start),))
    wait_for(lambda: len(rows_of(full)) == AGENTS - 1, 3 * IVL + 2,
             "Agent_Interval rows of the full interval %s" % dbtime(full))
    logged = [a for a in range(1001, 1001 + AGENTS) if a != 1003]
    rf = rows_of(full)
    check([r[0] for r in rf] == logged, "full interval rows for %r" %
          [r[0] for r in rf])
    check(all(r[1:] == (0, side, epoch) for r in rf),
          "full interval %s: Incomplete/PGSide/Epoch %r, expected (0, %s, "
          "%d)" % (dbtime(full), sorted(set(r[1:] for r in rf)), side, epoch))
    rr = rows_of(ivl_r)
    check([r[0] for r in rr] == logged, "reactivation interval rows for %r"
          % [r[0] for r in rr])
    check(all(r[2:] == (side, epoch) for r in rr),
          "reactivation interval from %r" % sorted(set(r[2:] for r in rr)))
    check(all(r[1] == 1 for r in rr),
          "interval %s: the PIM became active %.3f s into it, yet "
          "Incomplete = %r" % (dbtime(ivl_r), e_act["time"] - ivl_r,
                               sorted(set(r[1] for r in rr))))
    log("interval %s incomplete (PIM active at +%.3f s), %s complete" % (
        dbtime(ivl_r), e_act["time"] - ivl_r, dbtime(full)))


run(test)
