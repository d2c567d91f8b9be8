"""R14: when the application-MR PG connection or the MR PIM is restored,
the application resends every pending NEW_TASK it had no answer for.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app),
with no agent in MRD 2 (the desktops stopped) so that requests wait in
the router's queue, and the standby side's MR PIM stopped (`pgemuctl Y
stop mr-pim`) so that the MR-active side X is the only one: each outage
lasts until X's path is restored.  Proves, with requests added before
each (3, then 6, then 8 waiting):
 * the connection: `pgemuctl app fault X down`: the router discards them
   (R12), the MR peripheral stays offline; `fault X up`: X's MR PIM
   granted again with a higher epoch (peripheral_online R14), the app
   resends every pending request (tasks_resent R14, cause mr_link);
 * the MR PIM: `pgemuctl X stop mr-pim`: discarded (R12), offline; `start
   mr-pim`: the same, cause pim;
 * the connection hung: `pgemuctl app fault X freeze` until X's MR PIM
   and the app have given it up (their hold time): discarded (R12), the
   app's mr_path_lost (R12); `thaw`: back, resent (R14);
 * each time every request waits at the router again, the ledger
   balanced and agreeing with the router's counts; at the end, the
   agents back, each request routed once.
"""
from mr_rules import (check_agree, check_routed_once, hold_agents, ledger,
                      mr_lab, mr_status, pending, queue_requests, queued,
                      rcounts, release_agents, rule_line, settled,
                      wait_done, wait_routing, watch_all)
from pgemu_test import check, ev, log, other, run, wait_for

STEPS = (
    ("the connection", 3, ("app", "fault", "X", "down"),
     ("app", "fault", "X", "up"), "mr_link"),
    ("the MR PIM", 3, ("X", "stop", "mr-pim"), ("X", "start", "mr-pim"),
     "pim"),
    ("the connection hung", 2, ("app", "fault", "X", "freeze"),
     ("app", "fault", "X", "thaw"), "mr_link"),
)


def ctl(lab, args, x):
    return lab.ctl(*[x if a == "X" else a for a in args])


def test(Lab):
    lab = mr_lab(Lab, "r14pim")
    x, e = wait_routing(lab)
    y = other(x)
    lab.ctl(y, "stop", "mr-pim")
    wait_for(lambda: [s for s in mr_status(lab)["sides"] if s["node"] == y
                      and s["resigning"]], 5,
             "router: %s's MR PIM stopped" % y)
    w = watch_all(lab)
    hold_agents(lab)
    waiting = []
    for what, n, cut, mend, cause in STEPS:
        waiting += queue_requests(lab, n)
        for k in w:
            w[k].mark()
        log("%s: %s with %d requests waiting" % (what, " ".join(cut),
                                                  len(waiting)))
        ctl(lab, cut, x)
        d = w["router"].wait(ev("tasks_discarded"), 5, "router: discards")
        check(d["rule"] == "R12" and d["count"] == len(waiting) and
              sorted(d["dialogues"]) == waiting, "router: %r" % d)
        lost = w["app"].wait(ev("mr_path_lost", pim=x), 5,
                             "app: mr_path_lost")
        check(lost["rule"] == "R12" and lost["pending"] == len(waiting),
              "app: %r" % lost)
        check(not mr_status(lab)["online"], "MR online")
        check(pending(lab) == waiting, "app pending %r" % pending(lab))
        check_agree(lab, what=what + ", down")
        log("%s: %s" % (what, " ".join(mend)))
        ctl(lab, mend, x)
        r = w["app"].wait(ev("tasks_resent"), 10, "app: tasks_resent")
        check(r["rule"] == "R14" and r["count"] == len(waiting) and
              r["cause"] == cause and r["pim"] == x, "app: %r" % r)
        on = w["router"].wait(ev("peripheral_online", peripheral=5001), 5,
                              "router: MR online")
        check(on["rule"] == "R14", "router: %r" % on)
        x2, e2 = wait_routing(lab)
        check(x2 == x and e2 > e, "routing through %s epoch %d, before %s"
              " %d" % (x2, e2, x, e))
        e = e2
        wait_for(lambda: queued(lab) == waiting, 5, "queued again")
        check_agree(lab, what=what + ", restored")
        rule_line(lab, "app", "R14", r"%d pending NEW_TASK requests sent "
                  r"again to the MR PIM of %s" % (len(waiting), x))

    lab.ctl(y, "start", "mr-pim")
    release_agents(lab)
    settled(lab)
    wait_for(lambda: pending(lab) == [], 10, "nothing pending")
    wait_done(lab, waiting)
    check_routed_once(lab, waiting)
    led = check_agree(lab, what="the end")
    check(led["resent"] == rcounts(lab)["discarded"] == 3 + 6 + 8 and
          led["routed"] == 8, "ledger %r" % ledger(lab))


run(test)
