"""R12: the MR PG's end of the application's connection goes (its MR PIM
stopped, the side stopped, killed or hung) with NEW_TASK requests
pending: the router discards every pending request and records how many
and which; the other side's MR PIM takes over and the app resends them
all (R14).

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app),
with no agent in MRD 2 (the desktops stopped) so that requests wait in
the router's queue, one trigger after the other on the MR-active side X,
each with 3 more requests queued (all that wait are discarded):
 * `pgemuctl X stop mr-pim`: X's pim_resigning; the app's mr_path_lost
   (R12, "it released its epoch"); the router's tasks_discarded (R12);
   later `start mr-pim`;
 * SIGTERM of X (a clean stop): the same (R12), X started again;
 * kill -9 of X: the app's mr_path_lost (R12, the connection closed);
   the router lost X's router link as well and cannot tell which went
   first: its peripheral_offline and tasks_discarded say R17
   (docs/media-routing.md); X started again;
 * kill -STOP of X (hung): the router's hold time runs out first: R17
   discards; the other side's MR PIM is activated with a higher epoch and
   the app fences X's (pim_fenced, R5) and resends; kill -CONT.
Each time: the count and the dialogues of the event are every request
waiting, one pgemu_task_discard row each with its rule, a log line
tagged with the rule; the other side routes with a higher epoch, the app
resends every pending request (tasks_resent R14: cause pim, or mr_link);
they wait at the router again; the ledger balanced and agreeing with the
router's counts.  At the end, the agents back: every request routed
once, the ledger agreeing (sent = received, resent = discarded).
"""
import signal

from mr_rules import (EMAIL, MR, check_agree, check_routed_once,
                      discards, hold_agents, last_discard_id, mr_lab,
                      pending, queue_requests, queued, rcounts,
                      release_agents, routing, rule_line, settled,
                      wait_done, wait_routing, watch_all)
from pgemu_test import check, ev, log, other, run, wait_for

# trigger: (the router's rule, what the app says of X)
TRIGGERS = (
    ("stop mr-pim", "R12", "released"),
    ("SIGTERM", "R12", "released"),
    ("kill -9", "R17", "closed"),
    ("kill -STOP", "R17", "fenced"),
)


def cause(lab, how, x):
    if how == "stop mr-pim":
        lab.ctl(x, "stop", "mr-pim")
    elif how == "SIGTERM":
        lab.kill(x, signal.SIGTERM)
        check(lab.reap(x) == 0, "%s did not exit 0 on SIGTERM" % x)
    elif how == "kill -9":
        lab.kill(x)
        lab.reap(x)
    else:
        lab.kill(x, signal.SIGSTOP)


def remedy(lab, how, x):
    if how == "stop mr-pim":
        lab.ctl(x, "start", "mr-pim")
    elif how in ("SIGTERM", "kill -9"):
        lab.start(x)
    else:
        lab.kill(x, signal.SIGCONT)


def test(Lab):
    lab = mr_lab(Lab, "r12side")
    w = watch_all(lab)
    hold_agents(lab)
    waiting = []
    for how, rule, app_says in TRIGGERS:
        x, e1 = wait_routing(lab)
        y = other(x)
        waiting += queue_requests(lab, 3)
        check(queued(lab) == waiting, "queued %r" % queued(lab))
        last = last_discard_id(lab)
        marks = {n: w[n].mark() for n in w}
        log("%s of %s (MR-active, epoch %d) with %d requests queued" % (
            how, x, e1, len(waiting)))
        cause(lab, how, x)
        e = w["router"].wait(ev("tasks_discarded"), 5, "router: discards")
        check(e["rule"] == rule and e["count"] == len(waiting) and
              sorted(e["dialogues"]) == waiting and e["peripheral"] == MR,
              "%s: router: tasks_discarded %r" % (how, e))
        e = w["router"].wait(ev("peripheral_offline", peripheral=MR), 5,
                             "router: MR offline", marks["router"])
        check(e["rule"] == rule, "%s: router: %r" % (how, e))
        wait_for(lambda: discards(lab, last) ==
                 [(d, EMAIL, "Email", rule, MR) for d in waiting], 5,
                 "%d pgemu_task_discard rows (%s)" % (len(waiting), rule))
        rule_line(lab, "router", rule, r"%d pending NEW_TASK requests of "
                  r"MR peripheral %d discarded" % (len(waiting), MR))
        if app_says == "fenced":
            e = w["app"].wait(ev("pim_fenced", pim=x), 5, "app: fenced")
            check(e["rule"] == "R5" and e["epoch"] == e1, "app: %r" % e)
        else:
            e = w["app"].wait(ev("mr_path_lost", pim=x), 5,
                              "app: mr_path_lost")
            check(e["rule"] == "R12" and e["pending"] == len(waiting) and
                  (app_says == "released") == (e["reason"] == "it "
                                               "released its epoch"),
                  "%s: app: %r" % (how, e))
            rule_line(lab, "app", "R12", r"MR PIM of %s \(epoch %d\) lost"
                      % (x, e1))
        if how == "stop mr-pim":
            w[x].wait(ev("pim_resigning", peripheral=MR), 5,
                      "%s: pim_resigning" % x, marks[x])
        e = w["app"].wait(ev("tasks_resent"), 10, "app: tasks_resent")
        check(e["rule"] == "R14" and e["count"] == len(waiting) and
              e["pim"] == y, "%s: app: tasks_resent %r" % (how, e))
        y2, e2 = wait_for(lambda: routing(lab), 10, "routing again")
        check(y2 == y and e2 > e1, "%s: routing through %s epoch %d" % (
            how, y2, e2))
        wait_for(lambda: queued(lab) == waiting, 5, "queued again")
        check(pending(lab) == waiting, "app pending %r" % pending(lab))
        check_agree(lab, what=how)
        remedy(lab, how, x)
        settled_x = settled(lab)
        log("%s: %d discarded (%s), resent to %s (epoch %d); %s back, "
            "%s routes" % (how, len(waiting), rule, y, e2, x,
                           settled_x[0]))

    log("the agents back: every request routed once")
    release_agents(lab)
    wait_for(lambda: pending(lab) == [], 10, "nothing pending")
    wait_done(lab, waiting)
    check_routed_once(lab, waiting)
    led = check_agree(lab, what="the end")
    c = rcounts(lab)
    check(led["routed"] == 12 and led["resent"] == c["discarded"] ==
          3 + 6 + 9 + 12 and led["sent"] == c["received"],
          "ledger %r, router %r" % (led, c))


run(test)
