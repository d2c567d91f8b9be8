"""R12: the application-MR PG connection shuts down, from either end, with
NEW_TASK requests pending: the router discards every pending request of
the application and records how many and which.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app; 4
agents in MRDs 1 and 2), requests wait in the router's queue while no
agent is signed in to MRD 2 (the desktops stopped).  Proves:
 * `pgemuctl app fault X down` (the app's end of its link to the
   MR-active side X) with 5 requests queued: the app's mr_path_lost (R12,
   pending 5), X's MR PIM mr_path_lost (R12), the router's
   peripheral_offline (R12, the MR peripheral) and tasks_discarded (R12,
   count 5, the 5 dialogues), 5 pgemu_task_discard rows (R12, MRD 2,
   selector Email, the MR peripheral), `router tasks`: none queued,
   discarded 5; the log lines tagged [R12] at the app, X and the router;
   the router gives the MR PIM to the other side Y (higher epoch), the app
   resends the 5 (tasks_resent R14), they wait at the router again;
 * `pgemuctl Y fault mr-link down` (the PG side's end): the same for the
   5 requests again (R12 at Y's MR PIM, the router and the app); the MR
   peripheral stays offline (X still cut at the app): the app keeps them
   pending (app pending, ledger pending 5);
 * both ends back: the MR PIM of X routes again (peripheral_online R14),
   the app resends the 5 (R14); the agents back: each of the 5 routed
   once (one routed Route_Call_Detail row, the app's TaskID and agent),
   every task ended;
 * the ledger balanced at each step and agreeing with the router's counts
   (sent 15 = received 15; resent 10 = discarded 10; routed 5).
"""
from mr_rules import (EMAIL, MR, PG, check_agree, check_balanced,
                      check_routed_once, discards, hold_agents, ledger,
                      mr_lab, pending, queue_requests, queued,
                      rcounts, release_agents, rule_line, wait_done,
                      wait_routing, watch_all)
from pgemu_test import check, ev, log, other, run, wait_for


def test(Lab):
    lab = mr_lab(Lab, "r12disc")
    x, e1 = wait_routing(lab)
    y = other(x)
    w = watch_all(lab)
    hold_agents(lab)
    ds = queue_requests(lab, 5)
    check_agree(lab, what="5 queued")
    log("5 requests queued at the router (%s); %s routes (epoch %d)" % (
        ds, x, e1))

    log("app fault %s down: the app's end of the MR link" % x)
    marks = {n: w[n].mark() for n in w}
    lab.ctl("app", "fault", x, "down")
    e = w["app"].wait(ev("mr_path_lost", pim=x), 5, "app: mr_path_lost")
    check(e["rule"] == "R12" and e["pending"] == 5, "app: %r" % e)
    e = w[x].wait(ev("mr_path_lost", peripheral=MR), 5,
                  "%s: mr_path_lost" % x)
    check(e["rule"] == "R12", "%s: %r" % (x, e))
    e = w["router"].wait(ev("peripheral_offline", peripheral=MR), 5,
                         "router: MR offline")
    check(e["rule"] == "R12", "router: %r" % e)
    e = w["router"].wait(ev("tasks_discarded"), 5, "router: discards")
    check(e["rule"] == "R12" and e["count"] == 5 and
          sorted(e["dialogues"]) == ds and e["peripheral"] == MR,
          "router: tasks_discarded %r" % e)
    wait_for(lambda: discards(lab) == [(d, EMAIL, "Email", "R12", MR)
                                       for d in ds], 5,
             "5 pgemu_task_discard rows (R12)")
    rule_line(lab, "app", "R12", r"MR PIM of %s \(epoch %d\) lost: fault "
              r"injected: down; 5 requests pending" % (x, e1))
    rule_line(lab, x, "R12", r"MR PIM %d lost the application" % MR)
    rule_line(lab, "router", "R12", r"5 pending NEW_TASK requests of MR "
              r"peripheral %d discarded" % MR)

    log("the other side %s takes the MR PIM, the app resends (R14)" % y)
    e = w["app"].wait(ev("pim_accepted", pim=y), 10, "app: %s accepted" % y)
    check(e["epoch"] > e1 and e["pending"] == 5, "app: %r" % e)
    e = w["app"].wait(ev("tasks_resent"), 5, "app: tasks_resent")
    check(e["rule"] == "R14" and e["count"] == 5 and e["pim"] == y and
          e["cause"] == "mr_link", "app: %r" % e)
    e = w["router"].wait(ev("peripheral_online", peripheral=MR), 5,
                         "router: MR online")
    check(e["rule"] == "R14" and e["side"] == y[-1].upper(),
          "router: %r" % e)
    check(wait_routing(lab)[0] == y, "routing not through %s" % y)
    wait_for(lambda: queued(lab) == ds, 5, "the 5 queued again")
    c = rcounts(lab)
    check(c["discarded"] == 5 and c["received"] == 10,
          "router counts: %r" % c)
    check_agree(lab, what="after the resend to %s" % y)

    log("%s fault mr-link down: the PG side's end of the MR link" % y)
    for n in w:
        w[n].mark()
    lab.ctl(y, "fault", "mr-link", "down")
    e = w[y].wait(ev("mr_path_lost", peripheral=MR), 5,
                  "%s: mr_path_lost" % y)
    check(e["rule"] == "R12", "%s: %r" % (y, e))
    e = w["router"].wait(ev("tasks_discarded"), 5, "router: discards")
    check(e["rule"] == "R12" and e["count"] == 5 and
          sorted(e["dialogues"]) == ds, "router: %r" % e)
    e = w["app"].wait(ev("mr_path_lost", pim=y), 5, "app: mr_path_lost")
    check(e["rule"] == "R12" and e["pending"] == 5, "app: %r" % e)
    wait_for(lambda: len(discards(lab)) == 10, 5, "10 discard rows")
    check(sorted(r[0] for r in discards(lab)) == sorted(ds + ds) and
          all(r[3] == "R12" for r in discards(lab)),
          "pgemu_task_discard: %r" % discards(lab))
    check(not lab.status("router")["media_routing"]["online"],
          "MR online with both MR links cut")
    check(pending(lab) == ds and queued(lab) == [],
          "app pending %r, router queued %r" % (pending(lab),
                                                queued(lab)))
    led = check_agree(lab, what="both MR links cut")
    check(led["pending"] == 5 and led["resent"] == 5 and led["sent"] == 10,
          "ledger: %r" % led)

    log("both ends back: the MR PIM routes again, the app resends (R14)")
    for n in w:
        w[n].mark()
    lab.ctl("app", "fault", x, "up")
    lab.ctl(y, "fault", "mr-link", "up")
    e = w["app"].wait(ev("tasks_resent"), 10, "app: tasks_resent")
    check(e["rule"] == "R14" and e["count"] == 5, "app: %r" % e)
    e = w["router"].wait(ev("peripheral_online", peripheral=MR), 5,
                         "router: MR online")
    check(e["rule"] == "R14", "router: %r" % e)
    wait_routing(lab)
    wait_for(lambda: queued(lab) == ds, 5, "the 5 queued again")
    check_agree(lab, what="after the links came back")

    log("the agents back: the 5 routed once each")
    release_agents(lab)
    wait_for(lambda: pending(lab) == [], 10, "nothing pending")
    wait_done(lab, ds)
    check_routed_once(lab, ds)
    led = check_agree(lab, what="the end")
    check((led["sent"], led["resent"], led["routed"], led["pending"]) ==
          (15, 10, 5, 0), "ledger: %r" % led)
    check(rcounts(lab)["discarded"] == 10, "router: %r" % rcounts(lab))
    check_balanced(lab)
    for n in PG:
        check(lab.status(n)["mr"]["counts"]["results_lost"] == 0,
              "%s lost answers" % n)
    check(ledger(lab)["failed"] == 0, "failures: %r" % ledger(lab))


run(test)
