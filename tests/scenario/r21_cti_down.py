"""R21: while the app's ARM session is down (its MR link up) routing goes
on; no reporting data is stored for the tasks of the outage: those
assigned and completed during it appear in no report (pgemu_left_out,
rule R21); the router does not release (RONA) a task routed to the app
whose path is down, though its task_start_timeout (3 s) passes.

Proves:
 * the session cut: the router hears the path down (app_path_down R21);
   NEW_TASKs still routed (DO_THIS_WITH_TASK, Route_Call_Detail rows),
   the app's task messages queued;
 * the router holds their start timers: `router tasks` shows them held,
   no time left, a fate naming R21; past task_start_timeout no RONA
   (counts rona 0, no row with CallDisposition 19);
 * the tasks begin and end at the app meanwhile (`app tasks`: reporting
   queued, then left_out); one begun shortly before the session is back
   and still running is reported as usual (CallDisposition 13);
 * the session back: the app says tasks_left_out R21 (count), sends
   their messages flagged TASKF_CTI_DOWN; the CTI server passes them on;
   the router: app_path_up R21 (the held timers), tasks_left_out R21 with
   the dialogues, one pgemu_left_out row each (Rule R21, Flags with
   TASKF_CTI_DOWN), no Termination_Call_Detail for them; [R21] log lines
   of the app and the router;
 * agents stay logged in all along (no Agent_Logout row).
"""
from pgemu_test import check, ev, find_event, log, run, wait_for
from tasklife import (START_TIMEOUT, app_task, logouts, media_lab,
                      new_tasks, router_task, tcd, wait_tcd)

TASKF_CTI_DOWN = 0x100
AGENTS = 4


def test(Lab):
    lab = media_lab(Lab, "r21", agents=AGENTS, life=30, handle_ms=1000)
    wr, wa = lab.watch("router"), lab.watch("app")
    out0 = logouts(lab)

    log("the ARM session cut: routing goes on, messages queued")
    lab.ctl("app", "fault", "cti-link", "down")
    e = wr.wait(ev("app_path_down"), 5, "app_path_down at the router")
    check(e["rule"] == "R21" and e["held"] == 0, "app_path_down: %r" % e)
    routed = lab.ctl("router", "tasks")["counts"]["routed"]
    ds = new_tasks(lab, 3)
    wait_for(lambda: lab.ctl("router", "tasks")["counts"]["routed"] ==
             routed + 3, 5, "3 tasks routed while the session is down")
    check(lab.query("SELECT COUNT(*) FROM Route_Call_Detail WHERE "
                    "RouterErrorCode = 0 AND DialogueID IN (?, ?, ?)",
                    tuple(ds))[0][0] == 3, "Route_Call_Detail rows")
    for d in ds:
        a = app_task(lab, d)
        check(a["assigned"] == "router" and a["reporting"] == "queued",
              "the app's task: %r" % a)
        r = router_task(lab, d)
        check(r["held"] and r["time_left_s"] is None and
              "R21" in r["fate"], "the router's task: %r" % r)

    log("past task_start_timeout: no RONA; the tasks end at the app")
    wait_for(lambda: all(app_task(lab, d)["state"] == "ended"
                         for d in ds), 5, "the tasks ended at the app")
    for d in ds:
        check(app_task(lab, d)["reporting"] == "left_out",
              "the app's task: %r" % app_task(lab, d))
    wait_for(lambda: min(router_task(lab, d)["age_s"] for d in ds) >
             START_TIMEOUT + 0.5, START_TIMEOUT + 2,
             "task_start_timeout passed")
    c = lab.ctl("router", "tasks")["counts"]
    check(c["rona"] == 0 and c["in_progress"] >= 3, "router: %r" % c)
    check(all(router_task(lab, d)["state"] == "routed" for d in ds),
          "the router's tasks still routed")
    check(lab.status("app")["app"]["arm"]["queued"] == 9,
          "queued: %r" % lab.status("app")["app"]["arm"])
    d4 = new_tasks(lab, 1)[0]
    wait_for(lambda: app_task(lab, d4)["state"] == "started", 5,
             "a fourth task started while the session is down")

    log("the session back: left out of reports (R21)")
    lab.ctl("app", "fault", "cti-link", "up")
    e = wa.wait(ev("tasks_left_out"), 5, "tasks_left_out at the app")
    check(e["rule"] == "R21" and e["count"] == 3 and
          sorted(e["dialogues"]) == ds, "the app's tasks_left_out: %r" % e)
    e = wr.wait(ev("app_path_up"), 5, "app_path_up at the router")
    check(e["rule"] == "R21" and e["held"] == 4, "app_path_up: %r" % e)
    e = find_event(lab, "router", ev("tasks_left_out"), "tasks_left_out",
                   5)
    check(e["rule"] == "R21" and e["count"] == 3 and
          sorted(e["dialogues"]) == ds, "the router's tasks_left_out: %r" %
          e)
    rows = lab.query("SELECT DialogueID, Rule, Flags & ? FROM "
                     "pgemu_left_out ORDER BY DialogueID", (TASKF_CTI_DOWN,))
    check(rows == [(d, "R21", TASKF_CTI_DOWN) for d in ds],
          "pgemu_left_out: %r" % rows)
    check(all(tcd(lab, d) == [] for d in ds), "a task left out has a "
          "Termination_Call_Detail row")
    rows = wait_tcd(lab, d4, 1)
    check(rows[0][:3] == (13, 1, 1), "the fourth task: %r" % rows)
    c = lab.ctl("router", "tasks")["counts"]
    check(c["rona"] == 0 and c["left_out"] == 3 and
          c["start_timers_held"] == 4 and c["paths_down"] == 0,
          "router: %r" % c)
    check(lab.query("SELECT COUNT(*) FROM Termination_Call_Detail WHERE "
                    "CallDisposition = 19")[0][0] == 0, "RONA rows")
    check(lab.grep_log("router", r"\[R21\] 3 tasks that began and ended")
          and lab.grep_log("app", r"\[R21\] 3 tasks began and ended"),
          "[R21] log lines")
    check(logouts(lab) == out0, "Agent_Logout rows")


run(test)
