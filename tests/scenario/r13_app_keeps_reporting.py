"""R13: while the application-MR PG connection is down, the application
keeps sending the CTI server messages about its existing tasks and about
the tasks it assigns itself.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app; 4
agents in MRDs 1 and 2, each task 50 ms offered then 1.5 s handled).
Proves:
 * two tasks routed and started, then both PG sides' MR links cut
   (`pgemuctl pg-a fault mr-link down`, pg-b too): the app's mr_path_lost
   (R12), the router's MR peripheral offline (R12), no MR PIM routes;
 * meanwhile the two routed tasks end: END_TASK_IND reaches the active
   CTI server (its `cti.tasks.taken.end`), which tells the router: one
   Termination_Call_Detail row each (PeripheralCallType 25, disposition
   13, the TaskID the router gave), while the MR path is still down;
 * new tasks meanwhile: the app says once that it assigns them itself
   (app_assigning R13, cause mr_path, its [R13] log line), offers and
   starts each on the ARM session (OFFER_APPLICATION_TASK_REQ,
   START_APPLICATION_TASK_REQ: the CTI server's app_offer and app_start
   counts), with TaskFlags APP_ROUTED | ROUTING_DOWN, and ends them
   (END_TASK_IND with ENDED_DOWN); the router's task events count them;
   no NEW_TASK is sent (ledger sent unchanged, self_assigned 3);
 * the ARM session never queues (nothing waits: `app status` arm.queued
   0, nothing dropped);
 * the links back: routing again (routing_enabled, app_assigned 3); the
   ledger balanced and agreeing with the router's counts.
"""
from mr_rules import (EMAIL, MR, PG, TASKF_APP_ROUTED, TASKF_ENDED_DOWN,
                      TASKF_ROUTING_DOWN, app, app_tasks, check_agree,
                      ledger, mr_lab, mr_status, new_tasks, rcounts,
                      rule_line, wait_routing, watch_all)
from pgemu_test import check, ev, log, run, wait_for


def cti_node(lab):
    return wait_for(lambda: [n for n in PG if lab.ctl(n, "cti")["active"]],
                    5, "an active CTI server")[0]


def taken(lab, node):
    return lab.status(node)["cti"]["tasks"]["taken"]


def test(Lab):
    lab = mr_lab(Lab, "r13", mr_handle_ms=1500)
    w = watch_all(lab)
    cti = cti_node(lab)
    wait_routing(lab)

    log("two tasks routed and started")
    routed = new_tasks(lab, 2)
    wait_for(lambda: all(app_tasks(lab)[d]["state"] == "started"
                         for d in routed), 5, "both started")
    tasks = app_tasks(lab)
    check(all(tasks[d]["assigned"] == "router" for d in routed),
          "not routed: %r" % [tasks[d] for d in routed])
    before = taken(lab, cti)
    sent = ledger(lab)["sent"]

    log("both MR links cut")
    for n in w:
        w[n].mark()
    for n in PG:
        lab.ctl(n, "fault", "mr-link", "down")
    e = w["app"].wait(ev("mr_path_lost"), 5, "app: mr_path_lost")
    check(e["rule"] == "R12", "app: %r" % e)
    e = w["router"].wait(ev("peripheral_offline", peripheral=MR), 5,
                         "router: MR offline")
    check(e["rule"] == "R12", "router: %r" % e)
    check(not app(lab)["routing"] and not mr_status(lab)["online"],
          "still routing")

    log("the routed tasks end meanwhile: the CTI server and the router "
        "hear it")
    wait_for(lambda: all(app_tasks(lab)[d]["state"] == "ended"
                         for d in routed), 5, "the routed tasks ended")
    wait_for(lambda: taken(lab, cti)["end"] >= before["end"] + 2, 5,
             "%s: 2 END_TASK_IND taken" % cti)
    rows = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        lab.query("SELECT DialogueID, PeripheralCallType, CallDisposition,"
                  " RouterCallKeyDay, RouterCallKey, AgentSkillTargetID "
                  "FROM Termination_Call_Detail WHERE DialogueID IN "
                  "(?, ?) ORDER BY DialogueID", tuple(routed))), 5,
        "Termination_Call_Detail of the routed tasks")
    tasks = app_tasks(lab)
    check(rows == [(d, 25, 13, tasks[d]["task"][0], tasks[d]["task"][1],
                    tasks[d]["agent"]) for d in routed],
          "Termination_Call_Detail: %r, tasks %r" % (rows, tasks))
    check(not mr_status(lab)["online"], "the MR path came back")

    log("new tasks meanwhile: assigned by the app, reported")
    ev_before = rcounts(lab)["task_events"]
    own = new_tasks(lab, 3)
    e = w["app"].wait(ev("app_assigning"), 5, "app: app_assigning")
    check(e["rule"] == "R13" and e["cause"] == "mr_path" and
          e["dialogue"] == own[0], "app: %r" % e)
    rule_line(lab, "app", "R13", r"routing is off \(no MR PIM routes\): "
              r"the app assigns new tasks itself")
    wait_for(lambda: all(app_tasks(lab)[d]["state"] == "ended"
                         for d in own), 10, "the app's tasks ended")
    tasks = app_tasks(lab)
    for d in own:
        t = tasks[d]
        check(t["assigned"] == "app" and t["sends"] == 0 and
              t["flags"] == TASKF_APP_ROUTED | TASKF_ROUTING_DOWN |
              TASKF_ENDED_DOWN and t["mrd"] == EMAIL and t["agent"] and
              t["task"][0] > 10 ** 9, "the app's task: %r" % t)
    now = taken(lab, cti)
    check(now["app_offer"] == before["app_offer"] + 3 and
          now["app_start"] == before["app_start"] + 3 and
          now["end"] == before["end"] + 5, "%s taken %r, before %r" % (
              cti, now, before))
    wait_for(lambda: rcounts(lab)["task_events"] >= ev_before + 9, 5,
             "the router told of the 3 tasks (offer, start, end)")
    led = ledger(lab)
    check(led["sent"] == sent and led["self_assigned"] == 3 and
          led["unassigned"] == 0, "ledger: %r" % led)
    arm = app(lab)["arm"]
    check(arm["state"] == "UP" and arm["queued"] == 0 and
          arm["dropped"] == 0, "ARM session: %r" % arm)
    check(not mr_status(lab)["online"], "the MR path came back")

    log("the links back: routing again")
    for n in PG:
        lab.ctl(n, "fault", "mr-link", "up")
    e = w["app"].wait(ev("routing_enabled"), 10, "app: routing_enabled")
    check(e["app_assigned"] == 3 and e["pending"] == 0, "app: %r" % e)
    wait_routing(lab)
    check_agree(lab)


run(test)
