"""R20: the ARM session down longer than the MRD's task life (2 s): the
task's reporting is interrupted (its row with CallDisposition 42, R18)
and resumes when the session is back and the application reports the
task again: a second Termination_Call_Detail row, Segment 2.

Proves:
 * a task offered, its START due after the cut (offer_ms 2.5 s): ended
   with 42 while offered (Segment 1, StartDateTime the offer); the
   session back, its START resumes the report: pg-a's table has it again,
   started, segment 2, flagged TASKF_RESUMED, the agent busy again in
   MRD 2; tasks_resumed R20 (a [R20] log line); the router's task of
   segment 2; at its end a row of Segment 2 with CallDisposition 13 and
   the time from the resumed START; the app shows it resumed;
 * a task started, its END queued while the session was down: the END
   resumes the report when the session is back: a START flagged
   TASKF_RESUMED, then the END: the row of Segment 2 (Duration 0);
 * the unique key of Termination_Call_Detail holds both rows of a task
   (its Segment); the counts of pg-a (resumed, expired) and of the router
   (ended_path_down, ended_resumed) agree.
"""
from pgemu_test import check, ev, log, run, wait_for
from tasklife import (LIFE, app_task, cti_task, media_lab, mrd2_states,
                      new_tasks, router_task, start_tasks, wait_tcd)

TASKF_RESUMED = 0x80


def test(Lab):
    # A chat MRD: an email one's live task is resynced, not reported by
    # its queued START (R19; r19_bad_bracket resumes one through that).
    lab = media_lab(Lab, "r20", agents=2, handle_ms=3500,
                    mr_offer_ms=2500, media="chat")
    wp = lab.watch("pg-a")

    log("a task offered, cut, ended with 42; its START resumes the report")
    d = new_tasks(lab, 1)[0]
    wait_for(lambda: (cti_task(lab, d) or {}).get("state") == "offered",
             5, "the task offered")
    lab.ctl("app", "fault", "cti-link", "down")
    wp.wait(ev("app_path_down"), 5, "app_path_down")
    e = wp.wait(ev("tasks_expired"), LIFE + 3, "tasks_expired")
    check(e["dialogues"] == [d], "tasks_expired: %r" % e)
    check(wait_tcd(lab, d, 1) == [(42, 4, 1, LIFE, 2)],
          "first row: %r" % wait_tcd(lab, d, 1))
    lab.ctl("app", "fault", "cti-link", "up")
    e = wp.wait(ev("tasks_resumed"), 5, "tasks_resumed")
    check(e["rule"] == "R20" and e["count"] == 1 and e["dialogues"] == [d],
          "tasks_resumed: %r" % e)
    k = cti_task(lab, d)
    check(k["state"] == "started" and k["segment"] == 2 and
          k["flags"] & TASKF_RESUMED and k["life_left_s"] is None,
          "pg-a's task resumed: %r" % k)
    r = router_task(lab, d)
    check(r["segment"] == 2 and r["state"] == "started" and
          "resumed" in r["fate"], "the router's task: %r" % r)
    check(app_task(lab, d)["reporting"] == "resumed",
          "the app's task: %r" % app_task(lab, d))
    wait_for(lambda: "active" in mrd2_states(lab).values(), 5,
             "the agent busy again in MRD 2")
    check(lab.grep_log("pg-a", r"\[R20\] 1 task whose task life ended"),
          "pg-a's [R20] line")
    rows = wait_tcd(lab, d, 2)
    check(rows[1][:3] == (13, 1, 2) and rows[1][3] >= 3,
          "second row: %r" % rows)
    check(lab.query("SELECT COUNT(DISTINCT RouterCallKey), "
                    "MIN(StartDateTime) < MAX(StartDateTime) FROM "
                    "Termination_Call_Detail WHERE DialogueID = ?", (d,)) ==
          [(1, 1)], "one task, two segments")
    check(cti_task(lab, d) is None, "the task ended at pg-a")

    log("a task started, its END queued while down: resumed at the END")
    d = start_tasks(lab, 1)[0]
    lab.ctl("app", "fault", "cti-link", "down")
    e = wp.wait(ev("tasks_expired"), LIFE + 3, "tasks_expired")
    check(e["dialogues"] == [d], "tasks_expired: %r" % e)
    wait_for(lambda: app_task(lab, d)["state"] == "ended", 5,
             "the task ended at the app, its END queued")
    check(lab.status("app")["app"]["arm"]["queued"] >= 1, "queued END")
    lab.ctl("app", "fault", "cti-link", "up")
    e = wp.wait(ev("tasks_resumed"), 5, "tasks_resumed")
    check(e["dialogues"] == [d], "tasks_resumed: %r" % e)
    rows = wait_tcd(lab, d, 2)
    check(rows == [(42, 4, 1, LIFE, 2), (13, 1, 2, 0, 2)],
          "rows: %r" % rows)
    check(app_task(lab, d)["reporting"] == "resumed",
          "the app's task: %r" % app_task(lab, d))
    c = lab.ctl("pg-a", "cti")["tasks"]
    check(c["resumed"] == 2 and c["expired"] == 2 and
          c["ended_by_life"] == 0, "pg-a's counts: %r" % c)
    c = lab.ctl("router", "tasks")["counts"]
    check(c["ended_path_down"] == 2 and c["ended_resumed"] == 2,
          "the router's counts: %r" % c)


run(test)
