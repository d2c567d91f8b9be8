"""R16, R17: the MR PIM-router connection shuts down (the router stays
up) -> ROUTING_DISABLED; the router deletes its pending requests; the
connection restored -> ROUTING_ENABLED and the application resends them
all.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app),
the standby side Y's MR PIM stopped (`pgemuctl Y stop mr-pim`: the
MR-active side X is the only one), no agent in MRD 2 (the desktops
stopped) so that requests wait in the router's queue.  Proves:
 * `pgemuctl X fault router-link down` with 4 requests waiting: X's MR
   PIM says routing_disabled (R16) and its [R16] line; the app's
   routing_disabled (R16, 4 pending); the router lost X: the MR
   peripheral offline (R17) and tasks_discarded (R17, the 4 dialogues),
   4 pgemu_task_discard rows (R17); the app still has the 4 pending;
 * new tasks meanwhile: not sent (routing off), the app assigns them
   itself (app_assigning R16; no agent: unassigned);
 * `fault router-link up`: X's routing_enabled (R17); the app's
   routing_enabled (R17) and tasks_resent (R17, cause routing_disabled,
   4) and its [R17] line; the router has them queued again;
 * the ledger balanced and agreeing with the router's counts at each
   step (the router never restarted); the agents back: each request
   routed once.
"""
from mr_rules import (EMAIL, MR, check_agree, check_routed_once, discards,
                      hold_agents, ledger, mr_lab, mr_status, new_tasks,
                      pending, queue_requests, queued, release_agents,
                      rule_line, settled, wait_done, wait_routing,
                      watch_all)
from pgemu_test import check, ev, log, other, run, wait_for


def test(Lab):
    lab = mr_lab(Lab, "r16link")
    x, e1 = wait_routing(lab)
    y = other(x)
    lab.ctl(y, "stop", "mr-pim")
    wait_for(lambda: [s for s in mr_status(lab)["sides"] if s["node"] == y
                      and s["resigning"]], 5,
             "router: %s's MR PIM stopped" % y)
    w = watch_all(lab)
    hold_agents(lab)
    ds = queue_requests(lab, 4)
    check_agree(lab, what="4 queued")

    log("%s fault router-link down with 4 requests waiting" % x)
    lab.ctl(x, "fault", "router-link", "down")
    e = w[x].wait(ev("routing_disabled", peripheral=MR), 5,
                  "%s: routing_disabled" % x)
    check(e["rule"] == "R16", "%s: %r" % (x, e))
    rule_line(lab, x, "R16", r"ROUTING_DISABLED to the application")
    e = w["app"].wait(ev("routing_disabled"), 5, "app: routing_disabled")
    check(e["rule"] == "R16" and e["pending"] == 4 and e["pim"] == x,
          "app: %r" % e)
    e = w["router"].wait(ev("peripheral_offline", peripheral=MR), 5,
                         "router: MR offline")
    check(e["rule"] == "R17", "router: %r" % e)
    e = w["router"].wait(ev("tasks_discarded"), 5, "router: discards")
    check(e["rule"] == "R17" and e["count"] == 4 and
          sorted(e["dialogues"]) == ds, "router: %r" % e)
    wait_for(lambda: discards(lab) == [(d, EMAIL, "Email", "R17", MR)
                                       for d in ds], 5,
             "4 pgemu_task_discard rows (R17)")
    rule_line(lab, "router", "R17", r"4 pending NEW_TASK requests of MR "
              r"peripheral %d discarded" % MR)
    check(pending(lab) == ds and queued(lab) == [], "app %r, router %r" % (
        pending(lab), queued(lab)))
    check_agree(lab, what="disabled")

    log("new tasks meanwhile: not sent")
    sent = ledger(lab)["sent"]
    more = new_tasks(lab, 2)
    e = w["app"].wait(ev("app_assigning"), 5, "app: app_assigning")
    check(e["rule"] == "R16" and e["cause"] == "routing_disabled",
          "app: %r" % e)
    led = ledger(lab)
    check(led["sent"] == sent and led["unassigned"] == 2,
          "ledger: %r (new tasks %r)" % (led, more))

    log("%s fault router-link up: R17" % x)
    lab.ctl(x, "fault", "router-link", "up")
    e = w[x].wait(ev("routing_enabled", peripheral=MR), 10,
                  "%s: routing_enabled" % x)
    check(e["rule"] == "R17", "%s: %r" % (x, e))
    e = w["app"].wait(ev("routing_enabled"), 5, "app: routing_enabled")
    check(e["rule"] == "R17" and e["cause"] == "routing_disabled",
          "app: %r" % e)
    e = w["app"].wait(ev("tasks_resent"), 5, "app: tasks_resent")
    check(e["rule"] == "R17" and e["count"] == 4 and
          e["cause"] == "routing_disabled", "app: %r" % e)
    rule_line(lab, "app", "R17", r"4 pending NEW_TASK requests sent again "
              r"to the MR PIM of %s \(routing was disabled\)" % x)
    check(wait_routing(lab)[0] == x, "routing not through %s" % x)
    wait_for(lambda: queued(lab) == ds, 5, "queued again")
    check_agree(lab, what="enabled")

    lab.ctl(y, "start", "mr-pim")
    release_agents(lab)
    settled(lab)
    wait_for(lambda: pending(lab) == [], 10, "nothing pending")
    wait_done(lab, ds)
    check_routed_once(lab, ds)
    led = check_agree(lab, what="the end")
    check(led["routed"] == 4 and led["resent"] == 4, "ledger: %r" % led)


run(test)
