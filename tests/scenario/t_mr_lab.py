"""Media routing end to end: the app node's task traffic (4 tasks a second,
400 ms each) through the MR PIM, the router and the agent PG's CTI
server, 4 agents in MRDs 1 and 2 with their desktops.

Proves:
 * every NEW_TASK of the app is routed and answered (its ledger balanced),
   one Route_Call_Detail row each; every task that ends has one
   Termination_Call_Detail row (PeripheralCallType 25, CallDisposition
   13), the router's counts agree;
 * kill -9 of the router: the MR PIM says ROUTING_DISABLED (R16), the app
   assigns tasks itself; the router back: ROUTING_ENABLED (R17), the
   tasks that ended meanwhile are left out of reports under R17
   (tasks_left_out, pgemu_left_out, no Termination_Call_Detail), routing
   goes on and the app's ledger is balanced again.
"""
from pgemu_test import (DEFAULT_NODES, FAST, check, ev, find_event, log, run,
                        wait_for, wait_online)

AGENTS = 4


def counts(lab):
    return lab.ctl("router", "tasks")["counts"]


def app(lab):
    return lab.status("app")["app"]


def test(Lab):
    lab = Lab("mrlab", agents=AGENTS, desktops=True, media=True,
              agent_mrds=[1, 2], hb_desktop=(100, 3), mr_traffic=4, **FAST)
    lab.start_all()
    lab.wait_links_up(DEFAULT_NODES)
    wait_online(lab, 10, agents=AGENTS)

    log("routing: tasks routed, started, ended, recorded")
    wait_for(lambda: counts(lab)["ended"] >= 10, 15, "10 tasks ended")
    c = counts(lab)
    check(c["failed"] == 0 and c["rona"] == 0 and c["discarded"] == 0,
          "router counts: %r" % c)
    wait_for(lambda: lab.query("SELECT COUNT(*) FROM Termination_Call_Detail"
                               " WHERE PeripheralCallType = 25 AND "
                               "CallDisposition = 13 AND MRDomainID = 2")[0]
             [0] >= 10, 5, "10 Termination_Call_Detail rows")
    check(lab.query("SELECT COUNT(*) FROM Route_Call_Detail WHERE "
                    "RouterErrorCode != 0")[0][0] == 0, "failed routings")
    check(app(lab)["ledger"]["balanced"], "ledger: %r" % app(lab)["ledger"])

    log("R16: the router killed, the app assigns tasks itself")
    mr = lab.status("router")["media_routing"]["active_side"]
    pg = "pg-a" if mr == "A" else "pg-b"
    wp = lab.watch(pg)
    lab.kill("router")
    lab.reap("router")
    e = wp.wait(ev("routing_disabled"), 5, "routing_disabled")
    check(e["rule"] == "R16", "routing_disabled: %r" % e)
    wait_for(lambda: app(lab)["ledger"]["self_assigned"] >= 3, 10,
             "the app assigns 3 tasks itself")

    log("R17: the router back, the tasks ended meanwhile left out")
    lab.start("router")
    e = wp.wait(ev("routing_enabled"), 10, "routing_enabled")
    check(e["rule"] == "R17", "routing_enabled: %r" % e)
    # From the router's ring: it may say so before a watcher attaches.
    e = find_event(lab, "router", ev("tasks_left_out"), "tasks_left_out",
                   10)
    check(e["rule"] == "R17" and e["count"] >= 1, "tasks_left_out: %r" % e)
    rows = lab.query("SELECT Rule, Flags & 14 FROM pgemu_left_out")
    check(rows and all(r == ("R17", 14) for r in rows),
          "pgemu_left_out: %r" % rows)
    check(lab.query("SELECT COUNT(*) FROM Termination_Call_Detail t JOIN "
                    "pgemu_left_out l ON t.DialogueID = l.DialogueID AND "
                    "t.RouterCallKey = l.TaskGroupLow")[0][0] == 0,
          "a task left out has a Termination_Call_Detail row")
    routed = counts(lab)["routed"]
    wait_for(lambda: counts(lab)["routed"] >= routed + 5, 10,
             "5 more tasks routed")
    wait_for(lambda: app(lab)["ledger"]["balanced"], 5,
             "the app's ledger balanced")


run(test)
