"""R16: the router goes (kill -9) -> the MR PIM sends ROUTING_DISABLED;
the application stops routing requests; a request sent while down gets
NEW_TASK_FAILURE; CTI server messages go on.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app; 4
agents in MRDs 1 and 2, each task 50 ms offered then 1.5 s handled; MR
heartbeats 500 ms x 10, so that the app's link may stay frozen a while).
Proves:
 * two tasks routed and started; the app's link to the MR-active side X
   frozen (`pgemuctl app fault X freeze`: it reads nothing, and what it
   sends waits), the router killed: X's MR PIM says routing_disabled
   (R16) and its [R16] log line;
 * two new tasks while the app has not heard it: their NEW_TASKs reach X
   once the link thaws, after ROUTING_DISABLED: X answers each with
   NEW_TASK_FAILURE ROUTING_DOWN at once (new_task_failed R16 naming the
   dialogue; `pgemuctl X status` mr.counts.failed_routing_down 2); the
   app takes ROUTING_DISABLED (routing_disabled R16, 2 pending), then the
   failures (new_task_failed R16, code 2) and assigns both tasks itself
   (app_assigning R16, TaskFlags APP_ROUTED | ROUTING_DOWN);
 * a new task after that: assigned by the app, no NEW_TASK sent;
 * CTI server messages go on: the routed tasks end (the active CTI
   server takes their END_TASK_IND), the app's are offered, started and
   ended on the ARM session (app_offer, app_start), nothing waits at the
   app (arm.queued 0); the CTI server keeps their TASK_EVENTs for the
   router (cti.tasks.waiting);
 * the router back: routing_enabled (R17) at X and the app, the cached
   TASK_EVENTs land (the routed tasks' Termination_Call_Detail rows, the
   app's tasks left out under R17: pgemu_left_out); the ledger balanced
   and agreeing with the new router's counts (from a snapshot taken
   while it was down).
"""
from mr_rules import (PG, TASKF_APP_ROUTED, TASKF_ROUTING_DOWN, app,
                      app_tasks, check_agree, ledger, mr_lab, new_tasks,
                      rule_line, settled, snapshot, wait_routing,
                      watch_all)
from pgemu_test import check, ev, log, run, wait_for

DOWN = TASKF_APP_ROUTED | TASKF_ROUTING_DOWN


def cti_node(lab):
    return wait_for(lambda: [n for n in PG if lab.ctl(n, "cti")["active"]],
                    5, "an active CTI server")[0]


def cti_tasks(lab, node):
    return lab.status(node)["cti"]["tasks"]


def test(Lab):
    lab = mr_lab(Lab, "r16", mr_handle_ms=1500, hb_mr=(500, 10))
    x, e1 = wait_routing(lab)
    cti = cti_node(lab)
    w = watch_all(lab, ("app",) + PG)

    log("two tasks routed and started")
    routed = new_tasks(lab, 2)
    wait_for(lambda: all(app_tasks(lab)[d]["state"] == "started"
                         for d in routed), 5, "both started")
    before = cti_tasks(lab, cti)

    log("app fault %s freeze, the router killed" % x)
    lab.ctl("app", "fault", x, "freeze")
    lab.kill("router")
    lab.reap("router")
    base = snapshot(lab)
    e = w[x].wait(ev("routing_disabled", peripheral=5001), 5,
                  "%s: routing_disabled" % x)
    check(e["rule"] == "R16" and e["epoch"] == e1, "%s: %r" % (x, e))
    rule_line(lab, x, "R16", r"ROUTING_DISABLED to the application: MR PIM "
              r"5001 lost the router")

    log("two NEW_TASKs sent after it, then the link thaws")
    late = new_tasks(lab, 2)
    check(ledger(lab)["sent"] == base["sent"] + 2, "not sent: %r" %
          ledger(lab))
    lab.ctl("app", "fault", x, "thaw")
    for d in late:
        e = w[x].wait(ev("new_task_failed", dialogue=d), 5,
                      "%s: new_task_failed %d" % (x, d), 0)
        check(e["rule"] == "R16" and e["code"] == 2, "%s: %r" % (x, e))
    wait_for(lambda: lab.status(x)["mr"]["counts"]["failed_routing_down"]
             == 2, 5, "%s: 2 failed, routing down" % x)
    e = w["app"].wait(ev("routing_disabled"), 5, "app: routing_disabled")
    check(e["rule"] == "R16" and e["pim"] == x and e["pending"] == 2,
          "app: %r" % e)
    for d in late:
        e = w["app"].wait(ev("new_task_failed", dialogue=d), 5,
                          "app: new_task_failed %d" % d, 0)
        check(e["rule"] == "R16" and e["code"] == 2, "app: %r" % e)
    e = w["app"].wait(ev("app_assigning"), 5, "app: app_assigning", 0)
    check(e["rule"] == "R16" and e["cause"] == "routing_disabled",
          "app: %r" % e)
    rule_line(lab, "app", "R16", r"routing disabled by the MR PIM of %s" %
              x)
    rule_line(lab, "app", "R16", r"NEW_TASK of dialogue %d failed: code 2"
              % late[0])
    wait_for(lambda: all(app_tasks(lab)[d]["state"] in ("started", "ended")
                         for d in late), 5, "the two started by the app")
    tasks = app_tasks(lab)
    for d in late:
        check(tasks[d]["assigned"] == "app" and tasks[d]["fate"] ==
              "failed" and tasks[d]["failure"] == 2 and
              tasks[d]["flags"] & DOWN == DOWN, "task: %r" % tasks[d])

    log("a new task after it: assigned by the app, not sent")
    sent = ledger(lab)["sent"]
    own = new_tasks(lab, 1)
    wait_for(lambda: app_tasks(lab)[own[0]]["state"] in ("started",
                                                         "ended"), 5,
             "started by the app")
    check(ledger(lab)["sent"] == sent and
          app_tasks(lab)[own[0]]["sends"] == 0, "a NEW_TASK was sent: %r"
          % app_tasks(lab)[own[0]])

    log("CTI messages go on")
    wait_for(lambda: all(app_tasks(lab)[d]["state"] == "ended"
                         for d in routed + late + own), 10,
             "every task ended")
    now = cti_tasks(lab, cti)
    t0, t1 = before["taken"], now["taken"]
    check(t1["end"] == t0["end"] + 5 and
          t1["app_offer"] == t0["app_offer"] + 3 and
          t1["app_start"] == t0["app_start"] + 3, "%s taken %r, before %r"
          % (cti, t1, t0))
    check(now["waiting"] > 0, "%s: no TASK_EVENT waits for the router: %r"
          % (cti, now))
    a = app(lab)["arm"]
    check(a["state"] == "UP" and a["queued"] == 0 and a["dropped"] == 0,
          "ARM session: %r" % a)

    log("the router back: R17")
    for n in w:
        w[n].mark()
    lab.start("router")
    e = w[x].wait(ev("routing_enabled", peripheral=5001), 10,
                  "%s: routing_enabled" % x)
    check(e["rule"] == "R17", "%s: %r" % (x, e))
    e = w["app"].wait(ev("routing_enabled"), 5, "app: routing_enabled")
    check(e["rule"] == "R17" and e["app_assigned"] == 3, "app: %r" % e)
    settled(lab)
    rows = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        lab.query("SELECT DialogueID, PeripheralCallType FROM "
                  "Termination_Call_Detail WHERE DialogueID IN (?, ?) "
                  "ORDER BY DialogueID", tuple(routed))), 5,
        "the routed tasks' Termination_Call_Detail rows")
    check(rows == [(d, 25) for d in routed], "rows: %r" % rows)
    own = sorted(late + own)
    wait_for(lambda: lab.query("SELECT DialogueID, Rule FROM pgemu_left_out"
                               " ORDER BY DialogueID") ==
             [(d, "R17") for d in own], 5,
             "the app's tasks left out (R17)")
    check_agree(lab, since=base)


run(test)
