"""R18: the application instance's ARM session with the agent PG's CTI
server goes (`pgemuctl app fault cti-link down`, kill -9 of the app):
agents stay logged in, tasks are kept for their MRD's task life (2 s
here), and end with CallDisposition 42 if it runs out while the path is
down; a path back in time takes its tasks back.

Proves:
 * the session cut with two tasks started: pg-a's CTI server says the
   application path down (app_path_down R18, 2 tasks, a [R18] log line),
   `pgemuctl pg-a cti` shows each task's task life left and the path down,
   the app (`app tasks`) the same, the router the path down (R21) and
   the tasks' fate (42 if their life runs out);
 * at the task life: tasks_expired R18 (count, dialogues, disposition
   42) about LIFE after the path went, the tasks out of the CTI server's
   table, the agents' task counts down (available in MRD 2 at the
   router), one Termination_Call_Detail row each: CallDisposition 42,
   CallDispositionFlag 4, Segment 1; the app shows them interrupted;
 * the session back in time (before the task life runs out):
   app_path_up R18 with the two tasks, no task life left shown, no
   tasks_expired, the tasks end normally (CallDisposition 13, one row,
   no 42);
 * kill -9 of the app with a task started: app_path_down R18 then
   tasks_expired R18, its row with 42; the app started again opens its
   session (the path up), routes and reports anew (13);
 * all along the agents stay logged in: no Agent_Logout row, every
   agent logged in to MRDs 1 and 2 at the router.
"""
from pgemu_test import check, ev, log, run, wait_for
from tasklife import (LIFE, PATH, all_logged_in, app_task, cti_task,
                      cti_tasks, logouts, media_lab, mrd2_states,
                      router_task, start_tasks, tcd, wait_tcd)

AGENTS = 2


def test(Lab):
    lab = media_lab(Lab, "r18life", agents=AGENTS)
    wp, wr = lab.watch("pg-a"), lab.watch("router")
    out0 = logouts(lab)

    log("the ARM session cut with two tasks started: kept, then 42")
    ds = start_tasks(lab, 2)
    lab.ctl("app", "fault", "cti-link", "down")
    e = wp.wait(ev("app_path_down"), 5, "app_path_down")
    check(e["rule"] == "R18" and e["path"] == PATH and e["tasks"] == 2,
          "app_path_down: %r" % e)
    down_at = e["since"]
    e = wr.wait(ev("app_path_down"), 5, "app_path_down at the router")
    check(e["rule"] == "R21" and e["path"] == PATH, "router: %r" % e)
    for d in ds:
        k = cti_task(lab, d)
        check(k["path"] == PATH and k["segment"] == 1 and
              0 < k["life_left_s"] <= LIFE and "42" in k["fate"],
              "pg-a's task: %r" % k)
        a = app_task(lab, d)
        check(a["reporting"] == "reported" and
              0 < a["life_left_s"] <= LIFE and
              "42" in a["reporting_fate"], "the app's task: %r" % a)
        r = router_task(lab, d)
        check(r["state"] == "started" and "42" in r["fate"],
              "the router's task: %r" % r)
    paths = cti_tasks(lab)["paths"]
    check(paths == [{"path": PATH, "up": False, "down_since": down_at,
                     "tasks": 2}], "pg-a's paths: %r" % paths)
    check(set(mrd2_states(lab).values()) == {"active"},
          "agents busy in MRD 2: %r" % mrd2_states(lab))

    e = wp.wait(ev("tasks_expired"), LIFE + 3, "tasks_expired")
    check(e["rule"] == "R18" and e["count"] == 2 and
          sorted(e["dialogues"]) == ds and e["disposition"] == 42 and
          e["paths"] == [PATH], "tasks_expired: %r" % e)
    check(LIFE - 0.1 <= e["time"] - down_at <= LIFE + 1,
          "expired %.2f s after the path went" % (e["time"] - down_at))
    check(all(cti_task(lab, d) is None for d in ds), "tasks left at pg-a")
    c = cti_tasks(lab)
    check(c["expired"] == 2 and c["ended_by_life"] == 2, "counts: %r" % c)
    for d in ds:
        rows = wait_tcd(lab, d, 1)
        check(rows == [(42, 4, 1, LIFE, 2)], "TCD of %d: %r" % (d, rows))
        check(app_task(lab, d)["reporting"] == "interrupted",
              "the app's task: %r" % app_task(lab, d))
    wait_for(lambda: set(mrd2_states(lab).values()) == {"available"}, 5,
             "the agents available again in MRD 2")
    check(lab.grep_log("pg-a", r"\[R18\] application path 1 down") and
          lab.grep_log("pg-a", r"\[R18\] 2 tasks ended: the task life"),
          "pg-a's [R18] lines")
    check(lab.grep_log("router", r"\[R21\] application path 1 of "
                       r"peripheral 5000 down"), "the router's [R21] line")
    all_logged_in(lab, AGENTS)

    lab.ctl("app", "fault", "cti-link", "up")
    e = wp.wait(ev("app_path_up"), 5, "app_path_up")
    check(e["rule"] == "R18" and e["tasks"] == 0, "app_path_up: %r" % e)
    # Their ends resume the reports (R20: r20_resumed.py).
    for d in ds:
        wait_tcd(lab, d, 2)

    log("the session back in time: the tasks go on, end normally")
    ds = start_tasks(lab, 2)
    mark = wp.mark()
    lab.ctl("app", "fault", "cti-link", "down")
    e = wp.wait(ev("app_path_down"), 5, "app_path_down")
    check(e["tasks"] == 2, "app_path_down: %r" % e)
    wait_for(lambda: cti_task(lab, ds[0])["life_left_s"] < LIFE - 0.5, 3,
             "half a second of the task life gone")
    lab.ctl("app", "fault", "cti-link", "up")
    e = wp.wait(ev("app_path_up"), 5, "app_path_up")
    check(e["rule"] == "R18" and e["path"] == PATH and e["tasks"] == 2 and
          e["down_s"] < LIFE, "app_path_up: %r" % e)
    for d in ds:
        k = cti_task(lab, d)
        check(k["life_left_s"] is None and k["state"] == "started",
              "pg-a's task back: %r" % k)
    for d in ds:
        rows = wait_tcd(lab, d, 1)
        check(rows == [(13, 1, 1, rows[0][3], 2)], "TCD of %d: %r" %
              (d, rows))
        check(app_task(lab, d)["reporting"] == "ended",
              "the app's task: %r" % app_task(lab, d))
    check(not [x for x in wp.since(mark) if x["event"] == "tasks_expired"],
          "tasks expired although their path came back in time")

    log("kill -9 of the app: its task ends with 42 at its task life")
    ds = start_tasks(lab, 1)
    lab.kill("app")
    lab.reap("app")
    e = wp.wait(ev("app_path_down"), 5, "app_path_down")
    check(e["rule"] == "R18" and e["tasks"] == 1, "app_path_down: %r" % e)
    e = wp.wait(ev("tasks_expired"), LIFE + 3, "tasks_expired")
    check(e["rule"] == "R18" and e["dialogues"] == ds, "expired: %r" % e)
    rows = wait_tcd(lab, ds[0], 1)
    check(rows == [(42, 4, 1, LIFE, 2)], "TCD: %r" % rows)
    all_logged_in(lab, AGENTS)
    lab.start("app")
    e = wp.wait(ev("app_path_up"), 10, "app_path_up")
    check(e["tasks"] == 0, "app_path_up: %r" % e)
    wait_for(lambda: lab.status("app")["app"]["arm"]["agents_available"]
             >= AGENTS, 10, "the restarted app sees the agents available")
    ds2 = start_tasks(lab, 1)
    check(ds2[0] > ds[0], "DialogueIDs %r after %r" % (ds2, ds))
    rows = wait_tcd(lab, ds2[0], 1)
    check(rows[0][:3] == (13, 1, 1), "TCD: %r" % rows)
    check(tcd(lab, ds[0]) == [(42, 4, 1, LIFE, 2)],
          "the killed app's task: %r" % tcd(lab, ds[0]))

    check(logouts(lab) == out0, "Agent_Logout rows: %d, were %d" %
          (logouts(lab), out0))
    all_logged_in(lab, AGENTS)


run(test)
