"""R15: tasks the application assigned while its connection to the MR PG
was down, and that completed before it came back, appear in no report;
pgemu records that they were left out.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app; 4
agents in MRDs 1 and 2, each task 50 ms offered then 3 s handled), both
PG sides' MR links cut (`pgemuctl pg-X fault mr-link down`: R12 at the
router, which stays up).  Proves:
 * two tasks assigned by the app and ended while the links are down
   (their END_TASK_IND with TaskFlags APP_ROUTED | ROUTING_DOWN |
   ENDED_DOWN): the router's tasks_left_out (R15, the two dialogues) and
   its [R15] log line, one pgemu_left_out row each (Rule R15, the flags,
   the agent's peripheral, MRD 2, the agent and the TaskID the app used),
   no Termination_Call_Detail and no Route_Call_Detail row of them,
   `router tasks` left_out 2;
 * a third assigned while down and still running when the links come
   back: it ends without ENDED_DOWN and has its Termination_Call_Detail
   row (PeripheralCallType 26, the application's), no pgemu_left_out row;
 * the ledger balanced and agreeing with the router's counts.
"""
from mr_rules import (EMAIL, AGENT_PERIPH, PG, TASKF_APP_ROUTED,
                      TASKF_ENDED_DOWN, TASKF_ROUTING_DOWN, app_tasks,
                      check_agree, mr_lab, mr_status, new_tasks, rcounts,
                      rule_line, wait_routing, watch_all)
from pgemu_test import check, ev, log, run, wait_for

DOWN = TASKF_APP_ROUTED | TASKF_ROUTING_DOWN


def left_out_rows(lab):
    return lab.query("SELECT DialogueID, Rule, Flags, PeripheralID, "
                     "MRDomainID, AgentSkillTargetID, TaskGroupHigh, "
                     "TaskGroupLow, SequenceNumber FROM pgemu_left_out "
                     "ORDER BY DialogueID")


def test(Lab):
    lab = mr_lab(Lab, "r15", mr_handle_ms=3000)
    w = watch_all(lab)
    wait_routing(lab)

    log("both MR links cut")
    for n in PG:
        lab.ctl(n, "fault", "mr-link", "down")
    e = w["router"].wait(ev("peripheral_offline", peripheral=5001), 5,
                         "router: MR offline")
    check(e["rule"] == "R12", "router: %r" % e)
    w["app"].wait(ev("mr_path_lost"), 5, "app: mr_path_lost")

    log("two tasks assigned by the app, ended while down")
    gone = new_tasks(lab, 2)
    wait_for(lambda: all(app_tasks(lab)[d]["state"] == "ended"
                         for d in gone), 10, "the two ended")
    tasks = app_tasks(lab)
    check(all(tasks[d]["assigned"] == "app" and tasks[d]["flags"] ==
              DOWN | TASKF_ENDED_DOWN for d in gone),
          "tasks: %r" % [tasks[d] for d in gone])
    said = []
    while sorted(said) != gone:
        e = w["router"].wait(ev("tasks_left_out"), 5, "tasks_left_out")
        check(e["rule"] == "R15" and e["peripheral"] == AGENT_PERIPH,
              "router: %r" % e)
        said += e["dialogues"]
        check(set(said) <= set(gone), "left out: %r" % said)
    rule_line(lab, "router", "R15", r"tasks the application assigned and "
              r"ended while routing was down are left out of reports")
    want = [(d, "R15", DOWN | TASKF_ENDED_DOWN, AGENT_PERIPH, EMAIL,
             tasks[d]["agent"]) + tuple(tasks[d]["task"]) for d in gone]
    wait_for(lambda: left_out_rows(lab) == want, 5,
             "pgemu_left_out rows %r" % want)
    for table in ("Termination_Call_Detail", "Route_Call_Detail"):
        rows = lab.query("SELECT COUNT(*) FROM %s WHERE DialogueID IN "
                         "(?, ?)" % table, tuple(gone))[0][0]
        check(rows == 0, "%d %s rows of tasks left out" % (rows, table))
    check(rcounts(lab)["left_out"] == 2, "router: %r" % rcounts(lab))

    log("a third assigned while down, running when the links come back")
    last = new_tasks(lab, 1)[0]
    wait_for(lambda: app_tasks(lab)[last]["state"] == "started", 5,
             "the third started")
    check(not mr_status(lab)["online"], "MR online")
    for n in PG:
        lab.ctl(n, "fault", "mr-link", "up")
    wait_routing(lab)
    check(app_tasks(lab)[last]["state"] == "started",
          "the third ended before routing came back: %r" %
          app_tasks(lab)[last])
    wait_for(lambda: app_tasks(lab)[last]["state"] == "ended", 10,
             "the third ended")
    t = app_tasks(lab)[last]
    check(t["flags"] == DOWN, "the third: %r" % t)
    rows = wait_for(lambda: lab.query(
        "SELECT PeripheralCallType, CallDisposition, AgentSkillTargetID, "
        "RouterCallKeyDay, RouterCallKey FROM Termination_Call_Detail "
        "WHERE DialogueID = ?", (last,)), 5, "its Termination_Call_Detail")
    check(rows == [(26, 13, t["agent"], t["task"][0], t["task"][1])],
          "Termination_Call_Detail of the third: %r (task %r)" % (rows, t))
    check([r[0] for r in left_out_rows(lab)] == gone, "left out: %r" %
          left_out_rows(lab))
    check(rcounts(lab)["left_out"] == 2, "router: %r" % rcounts(lab))
    check_agree(lab)


run(test)
