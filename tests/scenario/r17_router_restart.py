"""R17: the router restored after kill -9 -> ROUTING_ENABLED, requests
resume; the router's pending new tasks were deleted with it and the
application resends them all; tasks assigned and completed while routing
was down appear in no report.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app),
5 requests waiting in the router's queue (no agent in MRD 2: the
desktops stopped).  Proves:
 * kill -9 of the router: routing_disabled (R16) at the MR-active side
   X and at the app (5 pending);
 * the desktops back while the router is down: the app learns the
   agents are available (ARM session) and assigns 3 new tasks itself
   (app_assigning R16), which end while routing is down (TaskFlags
   APP_ROUTED | ROUTING_DOWN | ENDED_DOWN);
 * the router started again: X's routing_enabled (R17) and its [R17]
   line; the app's routing_enabled (R17, app_assigned 3) and
   tasks_resent (R17, cause routing_disabled, count 5); the new router
   knew none of them (`router tasks`: received 5, every one a resend,
   nothing discarded) and routes each once (one routed
   Route_Call_Detail row, the app's TaskID and agent);
 * the 3 tasks of the outage: the router's tasks_left_out (R17, from its
   ring: it may say so before a watcher attaches), one pgemu_left_out
   row each (R17), no Termination_Call_Detail nor Route_Call_Detail row;
 * the ledger balanced and agreeing with the new router's counts (from a
   snapshot of the app's taken while the router was down).
"""
from mr_rules import (PG, TASKF_APP_ROUTED, TASKF_ENDED_DOWN,
                      TASKF_ROUTING_DOWN, app, app_tasks, check_agree,
                      check_routed_once, hold_agents, mr_lab, new_tasks,
                      pending, queue_requests, rcounts, rule_line,
                      settled, snapshot, wait_done, wait_routing,
                      watch_all)
from pgemu_test import check, ev, log, run, wait_for

DOWN = TASKF_APP_ROUTED | TASKF_ROUTING_DOWN | TASKF_ENDED_DOWN


def left_out(lab):
    return sum(e["count"] for e in lab.ctl("router", "events", "500")
               if e.get("event") == "tasks_left_out" and
               e.get("rule") == "R17")


def test(Lab):
    lab = mr_lab(Lab, "r17")
    x, e1 = wait_routing(lab)
    w = watch_all(lab, ("app",) + PG)
    hold_agents(lab)
    ds = queue_requests(lab, 5)

    log("kill -9 of the router with 5 requests waiting")
    lab.kill("router")
    lab.reap("router")
    e = w[x].wait(ev("routing_disabled", peripheral=5001), 5,
                  "%s: routing_disabled" % x)
    check(e["rule"] == "R16", "%s: %r" % (x, e))
    e = w["app"].wait(ev("routing_disabled"), 5, "app: routing_disabled")
    check(e["rule"] == "R16" and e["pending"] == 5, "app: %r" % e)
    base = snapshot(lab)

    log("the desktops back, 3 tasks assigned by the app and ended")
    lab.start("agents")
    wait_for(lambda: app(lab)["arm"]["agents_available"] == 4, 10,
             "the app knows 4 agents available")
    own = new_tasks(lab, 3)
    e = w["app"].wait(ev("app_assigning"), 5, "app: app_assigning")
    check(e["rule"] == "R16", "app: %r" % e)
    wait_for(lambda: all(app_tasks(lab)[d]["state"] == "ended"
                         for d in own), 10, "the 3 ended")
    tasks = app_tasks(lab)
    check(all(tasks[d]["assigned"] == "app" and tasks[d]["flags"] == DOWN
              for d in own), "tasks: %r" % [tasks[d] for d in own])
    check(pending(lab) == ds, "app pending %r" % pending(lab))

    log("the router started again: R17")
    for n in w:
        w[n].mark()
    lab.start("router")
    e = w[x].wait(ev("routing_enabled", peripheral=5001), 10,
                  "%s: routing_enabled" % x)
    check(e["rule"] == "R17", "%s: %r" % (x, e))
    rule_line(lab, x, "R17", r"ROUTING_ENABLED to the application: MR PIM "
              r"5001 \(epoch \d+\) routes again, its router link back")
    e = w["app"].wait(ev("routing_enabled"), 5, "app: routing_enabled")
    check(e["rule"] == "R17" and e["app_assigned"] == 3 and
          e["pending"] == 5, "app: %r" % e)
    e = w["app"].wait(ev("tasks_resent"), 5, "app: tasks_resent")
    check(e["rule"] == "R17" and e["count"] == 5 and
          e["cause"] == "routing_disabled", "app: %r" % e)
    settled(lab)
    wait_for(lambda: pending(lab) == [], 10, "every request routed")
    wait_done(lab, ds)
    c = rcounts(lab)
    check(c["received"] == 5 and c["discarded"] == 0 and
          c["resends_answered"] == 0 and c["routed"] == 5,
          "the new router: %r" % c)
    check_routed_once(lab, ds)

    log("the tasks of the outage: left out (R17)")
    wait_for(lambda: left_out(lab) == 3, 5, "tasks_left_out (R17) of 3")
    rule_line(lab, "router", "R17", r"tasks the application assigned and "
              r"ended while routing was down are left out of reports")
    rows = lab.query("SELECT DialogueID, Rule, Flags & 14 FROM "
                     "pgemu_left_out ORDER BY DialogueID")
    check(rows == [(d, "R17", DOWN) for d in own], "pgemu_left_out: %r" %
          rows)
    for table in ("Termination_Call_Detail", "Route_Call_Detail"):
        n = lab.query("SELECT COUNT(*) FROM %s WHERE DialogueID IN "
                      "(?, ?, ?)" % table, tuple(own))[0][0]
        check(n == 0, "%d %s rows of tasks left out" % (n, table))
    check_agree(lab, since=base)


run(test)
