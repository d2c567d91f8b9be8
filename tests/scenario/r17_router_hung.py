"""R16, R17: the router hangs (kill -STOP) -> ROUTING_DISABLED; woken, it
deletes the pending requests of the MR PG connection it lost (recorded)
-> ROUTING_ENABLED, and the application resends them all.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app),
5 requests waiting in the router's queue (no agent in MRD 2: the
desktops stopped).  Proves:
 * kill -STOP of the router: the PG sides' router links time out; the
   MR-active side X says routing_disabled (R16); the app's
   routing_disabled (R16, 5 pending); new tasks are not sent;
 * kill -CONT: the router finds the sides' links gone: its MR
   peripheral offline (R17), tasks_discarded (R17, the 5 dialogues),
   one pgemu_task_discard row each (R17), its [R17] log line; then the
   MR PIM routes again: X's (or the other side's) routing_enabled (R17),
   the app's routing_enabled (R17) and tasks_resent (R17, 5); the router
   has the 5 queued again;
 * the ledger balanced and agreeing with the router's counts at each
   step (it never restarted); the agents back: each request routed once.
"""
import signal

from mr_rules import (EMAIL, MR, PG, check_agree, check_routed_once,
                      discards, hold_agents, ledger, mr_lab, new_tasks,
                      pending, queue_requests, queued, release_agents,
                      rule_line, settled, wait_done, wait_routing,
                      watch_all)
from pgemu_test import check, ev, log, run, wait_for


def test(Lab):
    lab = mr_lab(Lab, "r17hung")
    x, e1 = wait_routing(lab)
    hold_agents(lab)
    ds = queue_requests(lab, 5)
    w = watch_all(lab, ("app",) + PG)

    log("kill -STOP of the router with 5 requests waiting")
    lab.kill("router", signal.SIGSTOP)
    e = w[x].wait(ev("routing_disabled", peripheral=MR), 5,
                  "%s: routing_disabled" % x)
    check(e["rule"] == "R16", "%s: %r" % (x, e))
    e = w["app"].wait(ev("routing_disabled"), 5, "app: routing_disabled")
    check(e["rule"] == "R16" and e["pending"] == 5, "app: %r" % e)
    sent = ledger(lab)["sent"]
    new_tasks(lab, 1)
    check(ledger(lab)["sent"] == sent, "a NEW_TASK sent: %r" % ledger(lab))

    log("kill -CONT: the router deletes them (R17), the app resends")
    wr = None
    lab.kill("router", signal.SIGCONT)
    wr = lab.watch("router")
    e = wait_for(lambda: [x for x in lab.ctl("router", "events", "500")
                          if x.get("event") == "tasks_discarded"], 10,
                 "router: tasks_discarded")[0]
    check(e["rule"] == "R17" and e["count"] == 5 and
          sorted(e["dialogues"]) == ds and e["peripheral"] == MR,
          "router: %r" % e)
    wait_for(lambda: discards(lab) == [(d, EMAIL, "Email", "R17", MR)
                                       for d in ds], 5,
             "5 pgemu_task_discard rows (R17)")
    rule_line(lab, "router", "R17", r"5 pending NEW_TASK requests of MR "
              r"peripheral %d discarded" % MR)
    e = [x for x in lab.ctl("router", "events", "500")
         if x.get("event") == "peripheral_offline" and
         x.get("peripheral") == MR]
    check(e and e[-1]["rule"] == "R17", "router: %r" % e)
    e = w["app"].wait(ev("routing_enabled"), 10, "app: routing_enabled")
    check(e["rule"] == "R17" and e["cause"] == "routing_disabled",
          "app: %r" % e)
    y = e["pim"]
    e = w[y].wait(ev("routing_enabled", peripheral=MR), 5,
                  "%s: routing_enabled" % y)
    check(e["rule"] == ("R17" if y == x else None), "%s: %r" % (y, e))
    e = w["app"].wait(ev("tasks_resent"), 5, "app: tasks_resent")
    check(e["rule"] == "R17" and e["count"] == 5, "app: %r" % e)
    wait_routing(lab)
    wait_for(lambda: queued(lab) == ds, 5, "queued again")
    check(pending(lab) == ds, "app pending %r" % pending(lab))
    check_agree(lab, what="after the resend")
    wr.stop()

    release_agents(lab)
    settled(lab)
    wait_for(lambda: pending(lab) == [], 10, "nothing pending")
    wait_done(lab, ds)
    check_routed_once(lab, ds)
    led = check_agree(lab, what="the end")
    check(led["routed"] == 5 and led["resent"] == 5, "ledger: %r" % led)


run(test)
